package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.operator.allocation.ReplicaCreation;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.StoreUnavailableException;
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

  /**
   * The agent of {@code reporter} refused a replica write from {@code sender} claiming {@code
   * epoch} (a {@code PEER_PROTOCOL_VIOLATION} report). Answers why the report does not count
   * against the sender, or null when it does.
   */
  default String peerProtocolViolation(
      String reporter, String volumeId, String sender, long epoch, String message) {
    return null;
  }

  /**
   * Why a violation report about {@code sender} claiming {@code epoch} does not count, judged by
   * the volume's allocation {@code a} (null: none), or null when it does: the reporter holds no
   * replica of the volume (it cannot have been sent a write), or the allocation names the sender
   * primary at that very epoch (the claim was true; the reporter's assignment was late).
   */
  static String violationDismissed(
      io.mycnet.storage.api.v1.Allocation a, String reporter, String sender, long epoch) {
    if (a == null) {
      return "no such volume";
    }
    if (a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(reporter))) {
      return "the reporting node " + reporter + " holds no replica of it";
    }
    if (a.getEpoch() == epoch && a.getPrimaryNodeId().equals(sender)) {
      return sender + " is its primary at epoch " + epoch + " (the reporter's assignment was late)";
    }
    return null;
  }

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
      public String peerProtocolViolation(
          String reporter, String volumeId, String sender, long epoch, String message) {
        io.mycnet.storage.api.v1.Allocation a;
        try {
          a = rm.allocation(volumeId).orElse(null);
        } catch (RuntimeException e) {
          // Unchecked claims do not count; a sender that goes on is reported again.
          return "its allocation could not be read to check the claim: " + e.getMessage();
        }
        return violationDismissed(a, reporter, sender, epoch);
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
