package io.mycnet.storage.operator.pool;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import java.util.List;
import java.util.Set;

/**
 * A validated {@code StoragePool} with every default applied: what the control plane uses.
 *
 * @param selector null or empty selects every node
 */
public record PoolDefinition(
    String name,
    LabelSelector selector,
    List<String> hierarchyLevels,
    ReplicationStrategy defaultStrategy,
    Set<Classification> classifications,
    double overcommitRatio,
    int maxRebuildsPerNode,
    int maxRebuildsPerPool) {

  public boolean contains(NodeRecord node) {
    return LabelSelectors.matches(selector, node.getLabelsMap());
  }

  public boolean accepts(Classification c) {
    return classifications.contains(c);
  }
}
