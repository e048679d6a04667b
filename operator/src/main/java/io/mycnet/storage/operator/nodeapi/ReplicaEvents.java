package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.operator.allocation.ReplicaCreation;
import io.mycnet.storage.operator.allocation.ReplicationManager;
import io.mycnet.storage.operator.allocation.StoreUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replica events from agents' sessions for the replication manager: a rebuild verified and in sync,
 * a replica that failed an integrity check or fell out of sync (to be replaced), and the agents'
 * command results (a create confirmed or refused).
 */
public interface ReplicaEvents {
  ReplicaEvents NONE = new ReplicaEvents() {};

  /** The agent of {@code nodeId} finished rebuilding its replica of the volume at {@code epoch}. */
  default void rebuildComplete(String nodeId, String volumeId, long epoch) {}

  /** The replica of {@code nodeId} must be replaced ({@code reason} says why). */
  default void replicaUnhealthy(String volumeId, String nodeId, String reason) {}

  /**
   * The agent of {@code nodeId} answered a command. Called before the command is acknowledged in
   * its queue: when this throws {@link StoreUnavailableException}, the command stays queued and its
   * (remembered) result comes again on the next session.
   */
  default void commandResult(String nodeId, CommandResult result) {}

  /**
   * The agent of {@code nodeId} gave up rebuilding its replica of the volume at {@code epoch}
   * because {@code missingNode} holds no replica.
   */
  default void rebuildSourceMissing(
      String nodeId, String volumeId, String missingNode, long epoch) {}

  /** Events applied to a replication manager (completeRebuild, replicaFailedAudit). */
  static ReplicaEvents of(ReplicationManager rm) {
    return of(rm, null);
  }

  /**
   * As {@link #of(ReplicationManager)}, and create results and out-of-sync reports of CREATING
   * replicas applied to {@code creation} (null: none).
   */
  static ReplicaEvents of(ReplicationManager rm, ReplicaCreation creation) {
    Logger log = LoggerFactory.getLogger(ReplicaEvents.class);
    return new ReplicaEvents() {
      @Override
      public void rebuildComplete(String nodeId, String volumeId, long epoch) {
        rm.completeRebuild(volumeId, nodeId, epoch);
      }

      @Override
      public void replicaUnhealthy(String volumeId, String nodeId, String reason) {
        if (creation != null) {
          creation.replicaOutOfSync(volumeId, nodeId);
        }
        rm.replicaFailedAudit(volumeId, nodeId);
      }

      @Override
      public void rebuildSourceMissing(
          String nodeId, String volumeId, String missingNode, long epoch) {
        if (creation != null) {
          creation.rebuildSourceMissing(volumeId, nodeId, missingNode, epoch);
        }
      }

      @Override
      public void commandResult(String nodeId, CommandResult result) {
        if (creation == null || !ReplicaCreation.isCreate(result.getCommandId())) {
          return;
        }
        try {
          ReplicaCreation.Outcome o = creation.onResult(nodeId, result);
          log.debug("create result {} of {}: {}", result.getCommandId(), nodeId, o);
        } catch (StoreUnavailableException e) {
          throw e;
        } catch (RuntimeException e) {
          log.error("create result {} of {} not applied", result.getCommandId(), nodeId, e);
        }
      }
    };
  }
}
