package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.List;

/**
 * The intent of a {@link StoragePool}. Every field is optional; an unset field takes the default
 * named in its description.
 */
public class StoragePoolSpec {

  @JsonPropertyDescription(
      "Which nodes belong to the pool, matched against the labels the node agents register"
          + " (matchLabels and matchExpressions with In, NotIn, Exists, DoesNotExist). Unset or"
          + " empty selects every node.")
  private LabelSelector nodeSelector;

  @JsonPropertyDescription(
      "Names of the failure-domain levels, outermost first, as they appear in the nodes' topology"
          + " paths. Default: region, zone, rack, node.")
  @Size(min = 1, max = 8)
  private List<@Pattern("^[a-z][a-z0-9-]{0,30}$") String> hierarchyLevels;

  @JsonPropertyDescription(
      "Replication strategy for claims that do not name one. Default: HIERARCHY_AWARE.")
  private ReplicationStrategyName defaultStrategy;

  @JsonPropertyDescription(
      "Data classifications this pool accepts; a claim of another classification is not placed"
          + " here. Default: all four.")
  @Size(min = 1, max = 4)
  private List<ClassificationName> classifications;

  @JsonPropertyDescription(
      "How far reservations may exceed raw capacity: 1.0 means no overcommit, 2.0 twice the"
          + " capacity. Default: 1.0.")
  @Min(1.0)
  @Max(10.0)
  private Double overcommitRatio;

  @JsonPropertyDescription(
      "Most concurrent rebuilds one node of the pool takes part in (as source or target)."
          + " Default: 2.")
  @Min(1)
  @Max(64)
  private Integer maxRebuildsPerNode;

  @JsonPropertyDescription("Most concurrent rebuilds in the whole pool. Default: 8.")
  @Min(1)
  @Max(1024)
  private Integer maxRebuildsPerPool;

  @JsonPropertyDescription("Human-readable purpose of the pool.")
  @Size(max = 256)
  private String description;

  public LabelSelector getNodeSelector() {
    return nodeSelector;
  }

  public void setNodeSelector(LabelSelector nodeSelector) {
    this.nodeSelector = nodeSelector;
  }

  public List<String> getHierarchyLevels() {
    return hierarchyLevels;
  }

  public void setHierarchyLevels(List<String> hierarchyLevels) {
    this.hierarchyLevels = hierarchyLevels;
  }

  public ReplicationStrategyName getDefaultStrategy() {
    return defaultStrategy;
  }

  public void setDefaultStrategy(ReplicationStrategyName defaultStrategy) {
    this.defaultStrategy = defaultStrategy;
  }

  public List<ClassificationName> getClassifications() {
    return classifications;
  }

  public void setClassifications(List<ClassificationName> classifications) {
    this.classifications = classifications;
  }

  public Double getOvercommitRatio() {
    return overcommitRatio;
  }

  public void setOvercommitRatio(Double overcommitRatio) {
    this.overcommitRatio = overcommitRatio;
  }

  public Integer getMaxRebuildsPerNode() {
    return maxRebuildsPerNode;
  }

  public void setMaxRebuildsPerNode(Integer maxRebuildsPerNode) {
    this.maxRebuildsPerNode = maxRebuildsPerNode;
  }

  public Integer getMaxRebuildsPerPool() {
    return maxRebuildsPerPool;
  }

  public void setMaxRebuildsPerPool(Integer maxRebuildsPerPool) {
    this.maxRebuildsPerPool = maxRebuildsPerPool;
  }

  public String getDescription() {
    return description;
  }

  public void setDescription(String description) {
    this.description = description;
  }
}
