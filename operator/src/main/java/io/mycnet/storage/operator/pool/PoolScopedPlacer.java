package io.mycnet.storage.operator.pool;

import io.mycnet.storage.operator.allocation.NodeSnapshot;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import java.util.List;

/**
 * Placement within one storage pool: refuses a pool that does not exist and a classification the
 * pool does not accept, with an explanation, before asking the wrapped placer (which keeps to the
 * pool's nodes through {@link PoolDirectory#poolsOf}). Used for new allocations and for rebuilds
 * alike, so a replacement replica stays in its volume's pool.
 */
public final class PoolScopedPlacer implements ReplicaPlacer {
  private final PoolDirectory pools;
  private final ReplicaPlacer placer;

  public PoolScopedPlacer(PoolDirectory pools, ReplicaPlacer placer) {
    this.pools = pools;
    this.placer = placer;
  }

  @Override
  public Outcome place(Query query, List<NodeSnapshot> nodes) {
    PoolDefinition pool = pools.get(query.pool()).orElse(null);
    if (pool == null) {
      return new Outcome(
          List.of(),
          "storage pool "
              + query.pool()
              + " does not exist or has no valid spec (known pools: "
              + String.join(", ", pools.names())
              + ")");
    }
    if (!pool.accepts(query.classification())) {
      return new Outcome(
          List.of(),
          "storage pool "
              + pool.name()
              + " does not accept "
              + query.classification()
              + " data (accepts "
              + pool.classifications()
              + ")");
    }
    List<NodeSnapshot> members = nodes.stream().filter(n -> pool.contains(n.record())).toList();
    if (members.isEmpty()) {
      return new Outcome(
          List.of(),
          "storage pool "
              + pool.name()
              + " selects none of the "
              + nodes.size()
              + " registered nodes");
    }
    return placer.place(query, members);
  }
}
