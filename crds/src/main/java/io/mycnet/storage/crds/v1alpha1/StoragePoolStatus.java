package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What the operator observed of a {@link StoragePool}. */
public class StoragePoolStatus {
  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription("Registered nodes the selector matches.")
  private Integer nodes;

  @JsonPropertyDescription("Nodes in the pool by state (UP, DRAINING, DOWN, QUARANTINED).")
  private Map<String, Integer> nodesByState = new TreeMap<>();

  @JsonPropertyDescription(
      "Nodes in the pool by trust tier (CRITICAL, SENSITIVE, STANDARD, PUBLIC, NONE).")
  private Map<String, Integer> nodesByTier = new TreeMap<>();

  @JsonPropertyDescription("Raw capacity of the pool's nodes, bytes.")
  private Long capacityBytes;

  @JsonPropertyDescription("Bytes reserved by allocations on the pool's nodes.")
  private Long usedBytes;

  @JsonPropertyDescription("capacityBytes as a quantity (e.g. 800Gi).")
  private String capacity;

  @JsonPropertyDescription("usedBytes as a quantity (e.g. 120Gi).")
  private String used;

  @JsonPropertyDescription(
      "Kubernetes-style conditions. Ready: the spec is valid and the pool is in use;"
          + " TopologyConforms: every node's topology path has the pool's hierarchy levels.")
  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Integer getNodes() {
    return nodes;
  }

  public void setNodes(Integer nodes) {
    this.nodes = nodes;
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

  public String getCapacity() {
    return capacity;
  }

  public void setCapacity(String capacity) {
    this.capacity = capacity;
  }

  public String getUsed() {
    return used;
  }

  public void setUsed(String used) {
    this.used = used;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }
}
