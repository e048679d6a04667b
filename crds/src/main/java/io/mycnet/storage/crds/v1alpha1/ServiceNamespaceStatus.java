package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link ServiceNamespace}. */
public class ServiceNamespaceStatus {
  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription(
      "The id of the namespace in the control plane's store (<namespace>.<name>).")
  private String storeId;

  @JsonPropertyDescription("Bytes reserved by the namespace's volumes.")
  private Long usedBytes;

  @JsonPropertyDescription("usedBytes as a quantity (e.g. 30Gi).")
  private String used;

  @JsonPropertyDescription("Volumes the namespace holds.")
  private Integer usedVolumes;

  @JsonPropertyDescription(
      "Kubernetes-style conditions. Ready: the spec is valid (else the message names the field)"
          + " and the policy is in force.")
  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public String getStoreId() {
    return storeId;
  }

  public void setStoreId(String storeId) {
    this.storeId = storeId;
  }

  public Long getUsedBytes() {
    return usedBytes;
  }

  public void setUsedBytes(Long usedBytes) {
    this.usedBytes = usedBytes;
  }

  public String getUsed() {
    return used;
  }

  public void setUsed(String used) {
    this.used = used;
  }

  public Integer getUsedVolumes() {
    return usedVolumes;
  }

  public void setUsedVolumes(Integer usedVolumes) {
    this.usedVolumes = usedVolumes;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
