package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.ArrayList;
import java.util.List;

/** The intent of a {@link StoragePool}. */
public class StoragePoolSpec {

  @JsonPropertyDescription(
      "Which nodes belong to the pool, by their labels. An empty selector selects every node.")
  private LabelSelector nodeSelector;

  @JsonPropertyDescription(
      "Names of the failure-domain levels, outermost first. Default: region, zone, rack, node.")
  private List<@Pattern("^[a-z][a-z0-9-]{0,30}$") String> hierarchyLevels =
      new ArrayList<>(List.of("region", "zone", "rack", "node"));

  @JsonPropertyDescription("Strategy for volumes that do not name one.")
  private ReplicationStrategyName defaultStrategy = ReplicationStrategyName.HIERARCHY_AWARE;

  @JsonPropertyDescription("Data classifications this pool accepts. Default: all four.")
  private List<ClassificationName> classifications =
      new ArrayList<>(List.of(ClassificationName.values()));

  @JsonPropertyDescription(
      "How far reservations may exceed raw capacity: 1.0 means no overcommit, 2.0 twice the"
          + " capacity.")
  @Min(1.0)
  @Max(10.0)
  private Double overcommitRatio = 1.0;

  @JsonPropertyDescription("Most concurrent rebuilds one node takes part in.")
  @Min(1)
  @Max(64)
  private Integer maxRebuildsPerNode = 2;

  @JsonPropertyDescription("Most concurrent rebuilds in the whole pool.")
  @Min(1)
  @Max(1024)
  private Integer maxRebuildsPerPool = 8;

  @Required
  @JsonPropertyDescription("Human-readable purpose of the pool, shown by kubectl get.")
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
