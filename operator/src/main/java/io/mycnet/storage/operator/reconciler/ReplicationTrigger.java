package io.mycnet.storage.operator.reconciler;

/**
 * How reconcilers ask the replication manager to re-check existing allocations (in a running
 * control plane: the {@link io.mycnet.storage.operator.replication.ReplicationLoop}).
 */
public interface ReplicationTrigger {
  /** A pool's definition changed: re-check every volume (a pass). */
  void poolChanged(String pool);

  /** A node changed trust tier: re-check what it may hold. */
  void tierChanged(String nodeId);
}
