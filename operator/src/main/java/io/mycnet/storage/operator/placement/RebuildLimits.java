package io.mycnet.storage.operator.placement;

import java.util.Map;

/**
 * Throttling for re-replication: at most {@code maxPerNode} concurrent rebuilds touching a node (as
 * copy source or as target) and {@code maxPerPool} per pool, counting the rebuilds already running.
 *
 * @param maxPerNode concurrent rebuilds per node, {@code >= 1}
 * @param maxPerPool concurrent rebuilds per pool, {@code >= 1} (volumes outside a pool share the
 *     pseudo pool {@value #NO_POOL})
 * @param activePerNode rebuilds already running, per node id
 * @param activePerPool rebuilds already running, per pool name
 */
public record RebuildLimits(
    int maxPerNode,
    int maxPerPool,
    Map<String, Integer> activePerNode,
    Map<String, Integer> activePerPool) {

  /** The pool name throttling uses for volumes without a pool. */
  public static final String NO_POOL = "<none>";

  public RebuildLimits {
    if (maxPerNode < 1 || maxPerPool < 1) {
      throw new IllegalArgumentException(
          "rebuild limits must be >= 1, got maxPerNode="
              + maxPerNode
              + ", maxPerPool="
              + maxPerPool);
    }
    activePerNode = activePerNode == null ? Map.of() : Map.copyOf(activePerNode);
    activePerPool = activePerPool == null ? Map.of() : Map.copyOf(activePerPool);
  }

  /** Limits with nothing running yet. */
  public static RebuildLimits of(int maxPerNode, int maxPerPool) {
    return new RebuildLimits(maxPerNode, maxPerPool, Map.of(), Map.of());
  }
}
