package io.mycnet.storage.operator.reconciler.storagepool;

import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StoragePoolSpec;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.pool.LabelSelectors;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code StoragePool} to {@link PoolDefinition}: applies the defaults and checks what the schema
 * cannot (duplicates, selector operators, the rebuild limits' relation, values outside the schema's
 * ranges when the API server did not enforce it).
 */
public final class StoragePoolMapper {
  public static final double DEFAULT_OVERCOMMIT = 1.0;
  public static final int DEFAULT_REBUILDS_PER_NODE = 2;
  public static final int DEFAULT_REBUILDS_PER_POOL = 8;

  private StoragePoolMapper() {}

  /**
   * @throws InvalidFieldException naming the first invalid field
   */
  public static PoolDefinition toDefinition(StoragePool pool) {
    StoragePoolSpec spec = pool.getSpec() == null ? new StoragePoolSpec() : pool.getSpec();
    String name = pool.getMetadata().getName();
    try {
      io.mycnet.storage.operator.store.EtcdKeys.id("pool", name);
    } catch (IllegalArgumentException e) {
      throw new InvalidFieldException("metadata.name", e.getMessage());
    }
    LabelSelectors.validate("spec.nodeSelector", spec.getNodeSelector());

    List<String> levels =
        spec.getHierarchyLevels() == null ? TopologyPath.DEFAULT_LEVELS : spec.getHierarchyLevels();
    if (levels.isEmpty()) {
      throw new InvalidFieldException("spec.hierarchyLevels", "must name at least one level");
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < levels.size(); i++) {
      String l = levels.get(i);
      if (l == null || !l.matches("^[a-z][a-z0-9-]{0,30}$")) {
        throw new InvalidFieldException(
            "spec.hierarchyLevels[" + i + "]",
            "'" + l + "' must be lower-case letters, digits and '-', starting with a letter");
      }
      if (!seen.add(l)) {
        throw new InvalidFieldException(
            "spec.hierarchyLevels[" + i + "]", "level '" + l + "' appears twice");
      }
    }

    ReplicationStrategy strategy =
        spec.getDefaultStrategy() == null
            ? ReplicationStrategy.HIERARCHY_AWARE
            : ReplicationStrategy.valueOf(spec.getDefaultStrategy().name());

    Set<Classification> classes = EnumSet.noneOf(Classification.class);
    if (spec.getClassifications() == null) {
      classes.addAll(EnumSet.allOf(Classification.class));
    } else {
      if (spec.getClassifications().isEmpty()) {
        throw new InvalidFieldException(
            "spec.classifications", "must accept at least one classification (or be left out)");
      }
      for (int i = 0; i < spec.getClassifications().size(); i++) {
        ClassificationName c = spec.getClassifications().get(i);
        if (c == null) {
          throw new InvalidFieldException("spec.classifications[" + i + "]", "must be set");
        }
        if (!classes.add(Classification.valueOf(c.name()))) {
          throw new InvalidFieldException("spec.classifications[" + i + "]", c + " appears twice");
        }
      }
    }

    double overcommit =
        spec.getOvercommitRatio() == null ? DEFAULT_OVERCOMMIT : spec.getOvercommitRatio();
    if (!(overcommit >= 1.0 && overcommit <= 10.0)) {
      throw new InvalidFieldException(
          "spec.overcommitRatio", "must be between 1.0 and 10.0, was " + overcommit);
    }
    int perNode =
        spec.getMaxRebuildsPerNode() == null
            ? DEFAULT_REBUILDS_PER_NODE
            : spec.getMaxRebuildsPerNode();
    int perPool =
        spec.getMaxRebuildsPerPool() == null
            ? DEFAULT_REBUILDS_PER_POOL
            : spec.getMaxRebuildsPerPool();
    if (perNode < 1 || perNode > 64) {
      throw new InvalidFieldException(
          "spec.maxRebuildsPerNode", "must be between 1 and 64, was " + perNode);
    }
    if (perPool < 1 || perPool > 1024) {
      throw new InvalidFieldException(
          "spec.maxRebuildsPerPool", "must be between 1 and 1024, was " + perPool);
    }
    if (perPool < perNode) {
      throw new InvalidFieldException(
          "spec.maxRebuildsPerPool",
          "must be at least maxRebuildsPerNode (" + perNode + "), was " + perPool);
    }
    return new PoolDefinition(
        name,
        spec.getNodeSelector(),
        List.copyOf(new ArrayList<>(levels)),
        strategy,
        java.util.Collections.unmodifiableSet(classes),
        overcommit,
        perNode,
        perPool);
  }
}
