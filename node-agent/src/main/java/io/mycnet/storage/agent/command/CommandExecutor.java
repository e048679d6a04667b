package io.mycnet.storage.agent.command;

import io.mycnet.storage.agent.frontend.AttachedVolumes;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.agent.replication.Rebuilder;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.NodeCommand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a command once: a command id already in {@link AppliedCommands} is answered with the
 * remembered result; otherwise the command is applied, its result recorded durably, then returned
 * (to be sent). A crash between the effect and the record redoes the effect on redelivery, which
 * create and delete tolerate (they are idempotent on their own).
 */
public final class CommandExecutor {
  private static final Logger LOG = LoggerFactory.getLogger(CommandExecutor.class);
  static final String NOT_SUPPORTED = "not supported by this agent version yet";

  private final ReplicaStore store;
  private final AppliedCommands applied;
  private final long capacityBytes;

  /**
   * Assignments that arrived before their replica's create or rebuild command (a node's commands of
   * one volume can be applied out of order): kept, newest epoch per volume, and applied when the
   * replica appears.
   */
  private final java.util.Map<String, io.mycnet.storage.api.v1.AssignReplica> early =
      new java.util.concurrent.ConcurrentHashMap<>();

  private PeerChannels peers;
  private Rebuilder.RateLimiter limiter;
  private ReplicatedVolume.Context context;
  private java.util.concurrent.ExecutorService rebuilds;
  private AttachedVolumes attached;

  public CommandExecutor(ReplicaStore store, AppliedCommands applied, long capacityBytes) {
    this.store = store;
    this.applied = applied;
    this.capacityBytes = capacityBytes;
  }

  /** Enables rebuilds (the data path). */
  public synchronized void dataPath(
      PeerChannels peers,
      Rebuilder.RateLimiter limiter,
      ReplicatedVolume.Context context,
      java.util.concurrent.ExecutorService rebuilds) {
    this.peers = peers;
    this.limiter = limiter;
    this.context = context;
    this.rebuilds = rebuilds;
  }

  /** Enables attachments (the block frontend). */
  public synchronized void frontend(AttachedVolumes attached) {
    this.attached = attached;
  }

  /** The result and whether the command was applied now (false for a repeat). */
  public record Applied(CommandResult result, boolean fresh) {}

  public synchronized Applied apply(NodeCommand c) {
    var prior = applied.get(c.getCommandId());
    if (prior.isPresent()) {
      LOG.info("command {} was already applied; answering with its result again", c.getCommandId());
      return new Applied(prior.get(), false);
    }
    ReplicatedVolume.AuditAnswer[] audited = new ReplicatedVolume.AuditAnswer[1];
    ReplicaStore.Outcome o =
        switch (c.getKindCase()) {
          case CREATE_REPLICA -> create(c.getCreateReplica());
          case DELETE_REPLICA ->
              store.delete(c.getDeleteReplica().getVolumeId(), c.getDeleteReplica().getEpoch());
          case REBUILD_REPLICA -> rebuild(c.getRebuildReplica());
          case AUDIT_REPLICA -> audit(c.getAuditReplica(), audited);
          case ASSIGN_REPLICA -> assign(c.getAssignReplica());
          case ATTACH_VOLUME -> attach(c.getAttachVolume());
          case DETACH_VOLUME -> detach(c.getDetachVolume());
          case KIND_NOT_SET -> new ReplicaStore.Outcome(false, "command has no kind");
        };
    CommandResult.Builder rb =
        CommandResult.newBuilder()
            .setCommandId(c.getCommandId())
            .setOk(o.ok())
            .setMessage(o.message());
    if (audited[0] != null) {
      rb.setAuditDigest(com.google.protobuf.ByteString.copyFrom(audited[0].digest()))
          .setAuditEpoch(audited[0].epoch())
          .setAuditSequence(audited[0].sequence());
    }
    CommandResult r = rb.build();
    if (c.getKindCase() != NodeCommand.KindCase.AUDIT_REPLICA) {
      // Audits are answered afresh every time (a nonce is never reused).
      applied.record(r);
    }
    LOG.info(
        "command {} ({}): {}{}",
        c.getCommandId(),
        c.getKindCase(),
        o.ok() ? "" : "FAILED ",
        o.message());
    return new Applied(r, true);
  }

  /**
   * The sum of replica sizes this agent accepts for a command: the limit the placement counted
   * (capacity × the pool's overcommit ratio, sent by the control plane), at least the agent's own
   * capacity and at most {@link #MAX_OVERCOMMIT} times it. Replicas are sparse files: what really
   * runs out is the file system, and a write that finds it full is refused (RESOURCE_EXHAUSTED).
   */
  public long acceptedCapacity(long limitFromControlPlane) {
    if (limitFromControlPlane <= capacityBytes) {
      return capacityBytes;
    }
    return Math.min(limitFromControlPlane, capacityBytes * MAX_OVERCOMMIT);
  }

  /** The highest overcommit ratio a pool may have (StoragePool overcommitRatio, 1.0–10.0). */
  static final long MAX_OVERCOMMIT = 10;

  private ReplicaStore.Outcome create(io.mycnet.storage.api.v1.CreateReplica c) {
    ReplicaStore.Outcome o =
        store.create(
            c.getVolumeId(),
            c.getEpoch(),
            c.getSizeBytes(),
            acceptedCapacity(c.getCapacityLimitBytes()));
    if (o.ok()) {
      assignEarly(c.getVolumeId());
    }
    if (o.ok() && !c.getNamespace().isEmpty()) {
      return assign(
          io.mycnet.storage.api.v1.AssignReplica.newBuilder()
              .setVolumeId(c.getVolumeId())
              .setEpoch(c.getEpoch())
              .setSizeBytes(c.getSizeBytes())
              .setConsistency(c.getConsistency())
              .setPrimaryNodeId(c.getPrimaryNodeId())
              .addAllPeers(c.getPeersList())
              .setNamespace(c.getNamespace())
              .addAllGrants(c.getGrantsList())
              .build());
    }
    return o;
  }

  private ReplicaStore.Outcome attach(io.mycnet.storage.api.v1.AttachVolume c) {
    if (attached == null) {
      return new ReplicaStore.Outcome(false, "attach_volume: this agent has no block frontend");
    }
    AttachedVolumes.Outcome o = attached.attach(c);
    return new ReplicaStore.Outcome(o.ok(), o.message());
  }

  private ReplicaStore.Outcome detach(io.mycnet.storage.api.v1.DetachVolume c) {
    if (attached == null) {
      return new ReplicaStore.Outcome(false, "detach_volume: this agent has no block frontend");
    }
    AttachedVolumes.Outcome o = attached.detach(c);
    return new ReplicaStore.Outcome(o.ok(), o.message());
  }

  private ReplicaStore.Outcome assign(io.mycnet.storage.api.v1.AssignReplica a) {
    ReplicatedVolume v = store.volume(a.getVolumeId());
    // A volume attached here: its frontend follows the primary (whether or not a replica is here).
    AttachedVolumes.Outcome front = attached == null ? null : attached.assign(a);
    if (v == null && front != null) {
      return new ReplicaStore.Outcome(front.ok(), front.message());
    }
    if (v == null) {
      early.merge(
          a.getVolumeId(),
          a,
          (old, neu) ->
              neu.getEpoch() > old.getEpoch()
                      || (neu.getEpoch() == old.getEpoch()
                          && neu.getRevision() >= old.getRevision())
                  ? neu
                  : old);
      return new ReplicaStore.Outcome(
          true, "no replica of " + a.getVolumeId() + " here yet: kept until it is created");
    }
    // A grown volume: the replica grows before it serves the assignment's size.
    ReplicaStore.Outcome grown = store.grow(a.getVolumeId(), a.getSizeBytes());
    if (grown != null && !grown.ok()) {
      return grown;
    }
    try {
      return new ReplicaStore.Outcome(true, v.assign(a));
    } catch (java.io.IOException e) {
      return new ReplicaStore.Outcome(false, e.getMessage());
    }
  }

  /** Applies an assignment that arrived before the replica; true when there was one. */
  private boolean assignEarly(String volumeId) {
    io.mycnet.storage.api.v1.AssignReplica a = early.remove(volumeId);
    if (a == null) {
      return false;
    }
    ReplicaStore.Outcome o = assign(a);
    LOG.info(
        "assignment of {} at epoch {} that came early: {}", volumeId, a.getEpoch(), o.message());
    return o.ok();
  }

  private ReplicaStore.Outcome rebuild(io.mycnet.storage.api.v1.RebuildReplica c) {
    if (peers == null) {
      return new ReplicaStore.Outcome(false, "rebuild_replica: " + NOT_SUPPORTED);
    }
    ReplicaStore.Outcome o =
        store.create(
            c.getVolumeId(),
            c.getEpoch(),
            c.getSizeBytes(),
            acceptedCapacity(c.getCapacityLimitBytes()));
    if (!o.ok()) {
      return o;
    }
    assignEarly(c.getVolumeId());
    ReplicatedVolume v = store.volume(c.getVolumeId());
    if (v.rebuild != null) {
      return new ReplicaStore.Outcome(true, "rebuild of " + c.getVolumeId() + " is under way");
    }
    try {
      store.recordRebuild(c);
    } catch (java.io.IOException e) {
      return new ReplicaStore.Outcome(
          false, "cannot record the rebuild of " + c.getVolumeId() + ": " + e.getMessage());
    }
    startRebuild(v, c);
    return new ReplicaStore.Outcome(
        true,
        "rebuild of "
            + c.getVolumeId()
            + " from "
            + c.getSourceNodeId()
            + " started; completion is reported separately");
  }

  /**
   * Runs the rebuild in the background; its record is dropped when it ends (not when cancelled).
   */
  private void startRebuild(ReplicatedVolume v, io.mycnet.storage.api.v1.RebuildReplica c) {
    Rebuilder r = new Rebuilder(v, c, peers, limiter, context);
    v.rebuild = r;
    rebuilds.execute(
        () -> {
          r.run();
          if (r.ended()) {
            store.clearRebuild(c.getVolumeId(), c.getEpoch());
          }
        });
  }

  /**
   * Resumes the rebuilds that were under way when the agent stopped (killed, crashed, restarted):
   * each compares its replica with the source chunk by chunk again and copies what differs, so a
   * half-copied replica is completed (or given up and reported) instead of staying half-copied
   * while the control plane counts it as being rebuilt. A rebuild the control plane no longer wants
   * (the replica was replaced meanwhile) reports completion at an epoch it ignores, and the replica
   * is deleted by its command.
   */
  public synchronized int resumeRebuilds() {
    if (peers == null) {
      return 0;
    }
    int resumed = 0;
    for (io.mycnet.storage.api.v1.RebuildReplica c : store.unfinishedRebuilds()) {
      ReplicatedVolume v = store.volume(c.getVolumeId());
      if (v == null || v.rebuild != null) {
        continue;
      }
      LOG.info(
          "resuming the rebuild of {} at epoch {} from {} that was under way when the agent"
              + " stopped",
          c.getVolumeId(),
          c.getEpoch(),
          c.getSourceNodeId());
      startRebuild(v, c);
      resumed++;
    }
    return resumed;
  }

  /**
   * Answers an audit with the digest of the range and the write sequence and epoch it covers
   * ({@link ReplicatedVolume#audit}: taken together, so an answer racing writes is pinned, not
   * wrong).
   */
  private ReplicaStore.Outcome audit(
      io.mycnet.storage.api.v1.AuditReplica c, ReplicatedVolume.AuditAnswer[] out) {
    ReplicatedVolume v = store.volume(c.getVolumeId());
    if (v == null) {
      return new ReplicaStore.Outcome(false, "no replica of " + c.getVolumeId() + " here");
    }
    String p = v.replica().rangeProblem(c.getOffset(), c.getLength());
    if (p == null && c.getLength() > ReplicatedVolume.MAX_AUDIT_BYTES) {
      p =
          "range "
              + c.getOffset()
              + "+"
              + c.getLength()
              + " is longer than the "
              + (ReplicatedVolume.MAX_AUDIT_BYTES >> 20)
              + " MiB one audit may cover";
    }
    if (p != null || c.getNonce().size() < 16) {
      return new ReplicaStore.Outcome(
          false, p != null ? "audit range: " + p : "audit nonce must be at least 16 bytes");
    }
    try {
      out[0] = v.audit(c.getNonce().toByteArray(), c.getOffset(), c.getLength());
      return new ReplicaStore.Outcome(
          true,
          "audited "
              + c.getLength()
              + " bytes at epoch "
              + out[0].epoch()
              + " write "
              + out[0].sequence());
    } catch (java.io.IOException e) {
      return new ReplicaStore.Outcome(false, "audit failed: " + e.getMessage());
    }
  }
}
