package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.operator.allocation.ReplicationManager;

/**
 * Replica events from agents' sessions for the replication manager: a rebuild verified and in sync,
 * a replica that failed an integrity check or fell out of sync (to be replaced).
 */
public interface ReplicaEvents {
  ReplicaEvents NONE = new ReplicaEvents() {};

  /** The agent of {@code nodeId} finished rebuilding its replica of the volume at {@code epoch}. */
  default void rebuildComplete(String nodeId, String volumeId, long epoch) {}

  /** The replica of {@code nodeId} must be replaced ({@code reason} says why). */
  default void replicaUnhealthy(String volumeId, String nodeId, String reason) {}

  /** Events applied to a replication manager (completeRebuild, replicaFailedAudit). */
  static ReplicaEvents of(ReplicationManager rm) {
    return new ReplicaEvents() {
      @Override
      public void rebuildComplete(String nodeId, String volumeId, long epoch) {
        rm.completeRebuild(volumeId, nodeId, epoch);
      }

      @Override
      public void replicaUnhealthy(String volumeId, String nodeId, String reason) {
        rm.replicaFailedAudit(volumeId, nodeId);
      }
    };
  }
}
