package io.mycnet.storage.operator.reconciler.storagepool;

import io.mycnet.storage.operator.reconciler.Reason;

/** The reasons a {@code StoragePool}'s conditions and events give (besides the common ones). */
public enum StoragePoolReason implements Reason {
  /** Ready: the pool is valid and selects nodes. */
  ACTIVE("Active"),
  /** Ready: the pool is valid but its selector matches no registered node yet. */
  NO_NODES("NoNodes"),
  /** TopologyConforms: every member's topology path has the pool's levels. */
  ALL_NODES_CONFORM("AllNodesConform"),
  /** TopologyConforms: some members' topology paths do not have the pool's levels. */
  LEVELS_MISMATCH("LevelsMismatch"),
  /** Event: a new pool is in use for placement. */
  POOL_REGISTERED("PoolRegistered"),
  /** Event: the definition changed; existing volumes are re-checked. */
  POOL_CHANGED("PoolChanged"),
  /** Event: deletion waits because volumes are still placed in the pool. */
  POOL_IN_USE("PoolInUse");

  private final String text;

  StoragePoolReason(String text) {
    this.text = text;
  }

  @Override
  public String text() {
    return text;
  }
}
