package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What the operator observed of a {@link StoragePool}. */
public class StoragePoolStatus {
  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription("Nodes in the pool by state (UP, DRAINING, DOWN, QUARANTINED).")
  private Map<String, Integer> nodesByState = new LinkedHashMap<>();

  @JsonPropertyDescription("Nodes in the pool by trust tier (CRITICAL ... PUBLIC, NONE).")
  private Map<String, Integer> nodesByTier = new LinkedHashMap<>();

  @JsonPropertyDescription("Raw capacity of the pool's nodes, bytes.")
  private Long capacityBytes;

  @JsonPropertyDescription("Bytes reserved by allocations on the pool's nodes.")
  private Long usedBytes;

  @JsonPropertyDescription("Kubernetes-style conditions; Ready says whether the pool is usable.")
  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Map<String, Integer> getNodesByState() {
    return nodesByState;
  }

  public void setNodesByState(Map<String, Integer> nodesByState) {
    this.nodesByState = nodesByState;
  }

  public Map<String, Integer> getNodesByTier() {
    return nodesByTier;
  }

  public void setNodesByTier(Map<String, Integer> nodesByTier) {
    this.nodesByTier = nodesByTier;
  }

  public Long getCapacityBytes() {
    return capacityBytes;
  }

  public void setCapacityBytes(Long capacityBytes) {
    this.capacityBytes = capacityBytes;
  }

  public Long getUsedBytes() {
    return usedBytes;
  }

  public void setUsedBytes(Long usedBytes) {
    this.usedBytes = usedBytes;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
