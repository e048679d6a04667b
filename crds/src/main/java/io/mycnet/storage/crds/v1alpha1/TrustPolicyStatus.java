package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What the operator observed of a {@link TrustPolicy}. */
public class TrustPolicyStatus {
  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription("True when this is the policy the trust engine applies now.")
  private Boolean active;

  @JsonPropertyDescription("Nodes the trust engine knows.")
  private Integer nodes;

  @JsonPropertyDescription(
      "Nodes per trust tier (CRITICAL, SENSITIVE, STANDARD, PUBLIC, NONE) at the last evaluation.")
  private Map<String, Integer> nodesPerTier = new TreeMap<>();

  @JsonPropertyDescription("When nodes were last evaluated under this policy (RFC 3339).")
  private String lastEvaluation;

  @JsonPropertyDescription(
      "Tier changes the last application of this policy caused (each one re-checks the replicas"
          + " on that node).")
  private Integer lastTierChanges;

  @JsonPropertyDescription(
      "Kubernetes-style conditions. Ready: the spec is valid (else the message names the field);"
          + " Active: the trust engine applies this policy.")
  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Boolean getActive() {
    return active;
  }

  public void setActive(Boolean active) {
    this.active = active;
  }

  public Integer getNodes() {
    return nodes;
  }

  public void setNodes(Integer nodes) {
    this.nodes = nodes;
  }

  public Map<String, Integer> getNodesPerTier() {
    return nodesPerTier;
  }

  public void setNodesPerTier(Map<String, Integer> nodesPerTier) {
    this.nodesPerTier = nodesPerTier;
  }

  public String getLastEvaluation() {
    return lastEvaluation;
  }

  public void setLastEvaluation(String lastEvaluation) {
    this.lastEvaluation = lastEvaluation;
  }

  public Integer getLastTierChanges() {
    return lastTierChanges;
  }

  public void setLastTierChanges(Integer lastTierChanges) {
    this.lastTierChanges = lastTierChanges;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
