package io.mycnet.storage.operator.pool;

import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.reconciler.storagepool.StoragePoolMapper;
import io.mycnet.storage.operator.replication.ReplicationManager;
import java.util.Optional;

/**
 * The replication manager's view of the StoragePool resources: membership by each pool's node
 * selector and each pool's rebuild limits. A pool the directory does not know (not reconciled yet
 * after a restart, or deleted while it still holds volumes) keeps every node and the default
 * limits: not knowing a pool must never evacuate its data.
 */
public final class PoolDirectoryRules implements ReplicationManager.PoolRules {
  private final PoolDirectory pools;

  public PoolDirectoryRules(PoolDirectory pools) {
    this.pools = pools;
  }

  @Override
  public boolean contains(String pool, NodeRecord node) {
    Optional<PoolDefinition> p = pools.get(pool);
    return p.isEmpty() || p.get().contains(node);
  }

  @Override
  public int maxRebuildsPerNode(String pool) {
    return pools
        .get(pool)
        .map(PoolDefinition::maxRebuildsPerNode)
        .orElse(StoragePoolMapper.DEFAULT_REBUILDS_PER_NODE);
  }

  @Override
  public int maxRebuildsPerPool(String pool) {
    return pools
        .get(pool)
        .map(PoolDefinition::maxRebuildsPerPool)
        .orElse(StoragePoolMapper.DEFAULT_REBUILDS_PER_POOL);
  }
}
