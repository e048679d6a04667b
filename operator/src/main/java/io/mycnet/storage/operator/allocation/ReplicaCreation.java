package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.CreateFailures;
import io.mycnet.storage.api.v1.CreateRefusal;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A replica exists only once its agent said so. A new replica is {@code CREATING} (and its volume
 * {@code CREATING}, not bound) until the agent's {@code CommandResult} for its {@code
 * CreateReplica} arrives:
 *
 * <ul>
 *   <li>ok: the replica becomes {@code HEALTHY} in one guarded transaction; when no replica of the
 *       volume is CREATING any more, the volume is {@code BOUND}. A replayed result finds the
 *       replica no longer CREATING and changes nothing.
 *   <li>refused: the failure is counted on the replica and the create is sent again under a new
 *       command id ({@code create+<attempt>:...}), up to {@code maxAttempts} in all; then the
 *       replica is re-placed on another node in one transaction (its reservation returned, the new
 *       node's taken, a {@code DeleteReplica} queued to the node that refused and the refusal
 *       recorded in the allocation). It is never counted healthy.
 * </ul>
 *
 * <p>Re-placement keeps the data safe: while a replica is CREATING its agent's primary forwards
 * writes to it like to a healthy one, so a volume can take writes before every create is confirmed.
 * A refused follower is therefore replaced by a {@code REBUILDING} replica copied from the primary
 * (which must be HEALTHY; otherwise the re-placement waits for it), while a refused primary, which
 * never held data, is replaced by a new {@code CREATING} replica and the primary role moves to
 * another replica. A write a CREATING replica missed is reported out of sync by the primary; {@link
 * #replicaOutOfSync} marks it STALE so that it is rebuilt, never counted healthy.
 *
 * <p>Without a placer (a node API serving only the data path) refused replicas wait, their failures
 * counted, for {@link #replaceRefused} on a control plane that has one.
 */
public final class ReplicaCreation {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicaCreation.class);
  public static final int DEFAULT_MAX_ATTEMPTS = 3;
  private static final int MAX_REFUSALS_KEPT = 8;
  private static final int MAX_TXN_ATTEMPTS = 64;

  /** What one result did. */
  public enum Outcome {
    /** Not a create result of a CREATING replica (a replay, another command, a stale id). */
    IGNORED,
    /** The replica was confirmed: HEALTHY. */
    HEALTHY,
    /** The refusal was counted and the create sent again. */
    RETRIED,
    /** The refusals were exhausted and the replica was placed on another node. */
    REPLACED,
    /** The refusals were exhausted; the replica waits for a re-placement. */
    REFUSED
  }

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final CommandQueue queue;
  private final ClusterViewCache cluster;
  private final ReplicaPlacer placer;
  private final ToDoubleFunction<String> overcommitOfPool;
  private final int maxAttempts;
  private final Clock clock;

  /**
   * @param cluster null together with {@code placer}: refused replicas are not re-placed here
   * @param maxAttempts creates sent to one node before the replica is re-placed, {@code >= 1}
   */
  public ReplicaCreation(
      EtcdStore store,
      EtcdKeys keys,
      CommandQueue queue,
      ClusterViewCache cluster,
      ReplicaPlacer placer,
      ToDoubleFunction<String> overcommitOfPool,
      int maxAttempts,
      Clock clock) {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be >= 1, was " + maxAttempts);
    }
    if ((cluster == null) != (placer == null)) {
      throw new IllegalArgumentException("cluster and placer go together");
    }
    this.store = store;
    this.keys = keys;
    this.queue = queue;
    this.cluster = cluster;
    this.placer = placer;
    this.overcommitOfPool = overcommitOfPool;
    this.maxAttempts = maxAttempts;
    this.clock = clock;
  }

  /**
   * The parts of a create command id: {@code
   * create[+attempt]:<volume>:<incarnation>:<epoch>:<node>}.
   */
  record CreateId(String volumeId, String incarnation, long epoch, int attempt) {
    static CreateId parse(String commandId, String nodeId) {
      int attempt;
      String rest;
      if (commandId.startsWith("create:")) {
        attempt = 1;
        rest = commandId.substring("create:".length());
      } else if (commandId.startsWith("create+")) {
        int colon = commandId.indexOf(':');
        if (colon < 0) {
          return null;
        }
        try {
          attempt = Integer.parseInt(commandId.substring("create+".length(), colon));
        } catch (NumberFormatException e) {
          return null;
        }
        rest = commandId.substring(colon + 1);
      } else {
        return null;
      }
      String suffix = ":" + nodeId;
      if (!rest.endsWith(suffix)) {
        return null; // not this node's command
      }
      rest = rest.substring(0, rest.length() - suffix.length());
      int e = rest.lastIndexOf(':');
      if (e < 0) {
        return null;
      }
      int i = rest.lastIndexOf(':', e - 1);
      if (i <= 0) {
        return null;
      }
      try {
        return new CreateId(
            rest.substring(0, i),
            rest.substring(i + 1, e),
            Long.parseLong(rest.substring(e + 1)),
            attempt);
      } catch (NumberFormatException ex) {
        return null;
      }
    }

    String format(String nodeId) {
      return (attempt == 1 ? "create" : "create+" + attempt)
          + ":"
          + volumeId
          + ":"
          + incarnation
          + ":"
          + epoch
          + ":"
          + nodeId;
    }
  }

  /** True for the id of a create command (first or retried). */
  public static boolean isCreate(String commandId) {
    return commandId.startsWith("create:") || commandId.startsWith("create+");
  }

  /**
   * The agent of {@code nodeId} answered a command. Results of other commands, of replicas that are
   * no longer CREATING, or replayed are ignored.
   */
  public Outcome onResult(String nodeId, CommandResult result) {
    if (!isCreate(result.getCommandId())) {
      return Outcome.IGNORED;
    }
    CreateId id = CreateId.parse(result.getCommandId(), nodeId);
    if (id == null) {
      return Outcome.IGNORED;
    }
    for (int attempt = 0; attempt < MAX_TXN_ATTEMPTS; attempt++) {
      Versioned<Allocation> current =
          store.get(keys.allocation(id.volumeId()), Allocation.parser());
      if (!current.exists()) {
        return Outcome.IGNORED;
      }
      Allocation a = current.value();
      int idx = creatingIndex(a, nodeId, id);
      if (idx < 0) {
        return Outcome.IGNORED; // confirmed already, re-placed, or another incarnation
      }
      Replica r = a.getReplicas(idx);
      Outcome done;
      if (result.getOk()) {
        done = confirm(current, idx);
        if (done == null) {
          TrustAwareStorageManager.backOff(attempt);
          continue;
        }
        if (done == Outcome.HEALTHY) {
          LOG.info("replica of {} on {} created: {}", id.volumeId(), nodeId, result.getMessage());
          // A refused follower may have waited for this primary to be confirmed.
          replaceRefusedOf(id.volumeId());
        }
        return done;
      }
      int failed = r.getCreateFailures().getCount();
      if (id.attempt() != failed + 1) {
        return Outcome.IGNORED; // a replayed refusal of an attempt already counted
      }
      done = refused(current, idx, result.getMessage());
      if (done != null) {
        return done;
      }
      TrustAwareStorageManager.backOff(attempt);
    }
    throw new StoreUnavailableException(
        "recording the create result of " + id.volumeId() + " kept conflicting", null);
  }

  /**
   * The primary reports that {@code nodeId}'s replica missed a write. A CREATING replica is marked
   * STALE (rebuilt from a healthy one, never confirmed as it is); other states are the replication
   * manager's.
   *
   * @return true when a CREATING replica was marked
   */
  public boolean replicaOutOfSync(String volumeId, String nodeId) {
    for (int attempt = 0; attempt < MAX_TXN_ATTEMPTS; attempt++) {
      Versioned<Allocation> current = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!current.exists()) {
        return false;
      }
      Allocation.Builder b = current.value().toBuilder();
      boolean changed = false;
      for (int i = 0; i < b.getReplicasCount(); i++) {
        Replica r = b.getReplicas(i);
        if (r.getNodeId().equals(nodeId) && r.getState() == ReplicaState.REPLICA_STATE_CREATING) {
          b.setReplicas(i, r.toBuilder().setState(ReplicaState.REPLICA_STATE_STALE));
          changed = true;
        }
      }
      if (!changed) {
        return false;
      }
      Allocation updated =
          b.setState(ReplicationManager.volumeState(b.build()))
              .setUpdatedAtUnixMs(clock.millis())
              .build();
      if (store.txn().requireUnchanged(current).put(current.key(), updated).commit()) {
        LOG.warn("replica of {} on {} missed a write while being created: stale", volumeId, nodeId);
        return true;
      }
    }
    throw new StoreUnavailableException("marking " + volumeId + " stale kept conflicting", null);
  }

  /**
   * The agent of {@code targetNode} gave up rebuilding its replica of the volume at {@code epoch}:
   * {@code missingNode} (its source or the primary) answered that it holds no replica. That replica
   * does not exist, so it is marked LOST, and so is the stopped rebuild target; the replication
   * manager rebuilds from another healthy replica and retires both. Only the rebuild target itself
   * can report this, and only about its own source or the volume's primary; a replay changes
   * nothing.
   *
   * @return true when the allocation changed
   */
  public boolean rebuildSourceMissing(
      String volumeId, String targetNode, String missingNode, long epoch) {
    for (int attempt = 0; attempt < MAX_TXN_ATTEMPTS; attempt++) {
      Versioned<Allocation> current = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!current.exists()) {
        return false;
      }
      Allocation a = current.value();
      Allocation.Builder b = a.toBuilder();
      int target = -1;
      for (int i = 0; i < a.getReplicasCount(); i++) {
        Replica r = a.getReplicas(i);
        if (r.getNodeId().equals(targetNode)
            && r.getState() == ReplicaState.REPLICA_STATE_REBUILDING
            && r.getEpoch() == epoch
            && (r.getSourceNodeId().equals(missingNode)
                || a.getPrimaryNodeId().equals(missingNode))) {
          target = i;
        }
      }
      if (target < 0) {
        return false;
      }
      b.setReplicas(
          target,
          a.getReplicas(target).toBuilder()
              .setState(ReplicaState.REPLICA_STATE_LOST)
              .clearSourceNodeId());
      for (int i = 0; i < a.getReplicasCount(); i++) {
        Replica r = a.getReplicas(i);
        if (r.getNodeId().equals(missingNode)
            && (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
                || r.getState() == ReplicaState.REPLICA_STATE_STALE)) {
          b.setReplicas(i, r.toBuilder().setState(ReplicaState.REPLICA_STATE_LOST));
        }
      }
      Allocation updated =
          b.setState(ReplicationManager.volumeState(b.build()))
              .setUpdatedAtUnixMs(clock.millis())
              .build();
      if (store.txn().requireUnchanged(current).put(current.key(), updated).commit()) {
        LOG.warn(
            "rebuild of {} on {} gave up: {} holds no replica; both marked lost",
            volumeId,
            targetNode,
            missingNode);
        return true;
      }
    }
    throw new StoreUnavailableException("marking " + volumeId + " lost kept conflicting", null);
  }

  /**
   * Re-places every replica whose creates were all refused and that still waits (no node was free,
   * or the primary was not confirmed yet). Returns the volumes changed. Safe to run on any pass.
   */
  public List<String> replaceRefused() {
    List<String> changed = new ArrayList<>();
    if (placer == null) {
      return changed;
    }
    for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
      if (exhaustedIndex(v.value()) >= 0 && replaceRefusedOf(v.value().getVolumeId())) {
        changed.add(v.value().getVolumeId());
      }
    }
    return changed;
  }

  // ---------------------------------------------------------------------------------------------

  private static int creatingIndex(Allocation a, String nodeId, CreateId id) {
    if (!a.getIncarnation().equals(id.incarnation())) {
      return -1;
    }
    for (int i = 0; i < a.getReplicasCount(); i++) {
      Replica r = a.getReplicas(i);
      if (r.getNodeId().equals(nodeId)
          && r.getState() == ReplicaState.REPLICA_STATE_CREATING
          && r.getEpoch() == id.epoch()) {
        return i;
      }
    }
    return -1;
  }

  private int exhaustedIndex(Allocation a) {
    for (int i = 0; i < a.getReplicasCount(); i++) {
      Replica r = a.getReplicas(i);
      if (r.getState() == ReplicaState.REPLICA_STATE_CREATING
          && r.getCreateFailures().getCount() >= maxAttempts) {
        return i;
      }
    }
    return -1;
  }

  /** CREATING → HEALTHY; null on a conflict. */
  private Outcome confirm(Versioned<Allocation> current, int idx) {
    Allocation a = current.value();
    Allocation.Builder b = a.toBuilder();
    b.setReplicas(
        idx,
        a.getReplicas(idx).toBuilder()
            .setState(ReplicaState.REPLICA_STATE_HEALTHY)
            .clearCreateFailures());
    Allocation updated =
        b.setState(ReplicationManager.volumeState(b.build()))
            .setUpdatedAtUnixMs(clock.millis())
            .build();
    return store.txn().requireUnchanged(current).put(current.key(), updated).commit()
        ? Outcome.HEALTHY
        : null;
  }

  /** Counts a refusal; retries, or re-places when the attempts are used up. Null on a conflict. */
  private Outcome refused(Versioned<Allocation> current, int idx, String why) {
    Allocation a = current.value();
    Replica r = a.getReplicas(idx);
    int failed = r.getCreateFailures().getCount() + 1;
    Allocation.Builder b = a.toBuilder();
    b.setReplicas(
        idx,
        r.toBuilder()
            .setCreateFailures(CreateFailures.newBuilder().setCount(failed).setLastError(why)));
    Allocation updated = b.setUpdatedAtUnixMs(clock.millis()).build();
    EtcdStore.Txn txn = store.txn().requireUnchanged(current).put(current.key(), updated);
    if (failed < maxAttempts) {
      CreateId next = new CreateId(a.getVolumeId(), a.getIncarnation(), r.getEpoch(), failed + 1);
      NodeCommand retry =
          TrustAwareStorageManager.createCommand(
              updated,
              r.getNodeId(),
              limitOf(updated, r.getNodeId()),
              next.format(r.getNodeId()),
              clock.millis());
      queue.batch().add(r.getNodeId(), retry).stage(txn);
      if (!txn.commit()) {
        return null;
      }
      LOG.warn(
          "node {} refused the replica of {} (attempt {} of {}): {}; sending it again",
          r.getNodeId(),
          a.getVolumeId(),
          failed,
          maxAttempts,
          why);
      return Outcome.RETRIED;
    }
    if (!txn.commit()) {
      return null;
    }
    LOG.warn(
        "node {} refused the replica of {} {} times (last: {}): re-placing it",
        r.getNodeId(),
        a.getVolumeId(),
        failed,
        why);
    return replaceRefusedOf(a.getVolumeId()) ? Outcome.REPLACED : Outcome.REFUSED;
  }

  /** The capacity limit of {@code nodeId} for {@code a}'s pool, from the cluster view if any. */
  private long limitOf(Allocation a, String nodeId) {
    NodeRecord rec = store.get(keys.node(nodeId), NodeRecord.parser()).value();
    return TrustAwareStorageManager.capacityLimit(rec, overcommitOfPool.applyAsDouble(a.getPool()));
  }

  /** Re-places the first exhausted CREATING replica of the volume, if it can now. */
  private boolean replaceRefusedOf(String volumeId) {
    if (placer == null) {
      return false;
    }
    for (int attempt = 0; attempt < MAX_TXN_ATTEMPTS; attempt++) {
      Versioned<Allocation> current = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!current.exists()) {
        return false;
      }
      Allocation a = current.value();
      int idx = exhaustedIndex(a);
      if (idx < 0) {
        return false;
      }
      String result = replace(current, idx);
      if (result == null) {
        TrustAwareStorageManager.backOff(attempt);
        continue;
      }
      if (!result.startsWith("re-placed")) {
        LOG.info("replica of {} not re-placed yet: {}", volumeId, result);
        return false;
      }
      LOG.warn("{}: {}", volumeId, result);
      return true;
    }
    return false;
  }

  /** One re-placement transaction; null on a conflict, else what happened. */
  private String replace(Versioned<Allocation> current, int idx) {
    Allocation a = current.value();
    Replica refused = a.getReplicas(idx);
    boolean wasPrimary = refused.getNodeId().equals(a.getPrimaryNodeId());
    Replica primary = null;
    for (Replica r : a.getReplicasList()) {
      if (r.getNodeId().equals(a.getPrimaryNodeId())) {
        primary = r;
      }
    }
    // A refused follower may have missed writes the primary took: it is rebuilt from the primary,
    // which must itself be confirmed. A refused primary never held data.
    boolean rebuild = !wasPrimary;
    if (rebuild && (primary == null || primary.getState() != ReplicaState.REPLICA_STATE_HEALTHY)) {
      return "waiting: the primary " + a.getPrimaryNodeId() + " is not confirmed yet";
    }
    List<String> keep = new ArrayList<>();
    Set<String> excluded = new HashSet<>();
    for (int i = 0; i < a.getReplicasCount(); i++) {
      Replica r = a.getReplicas(i);
      excluded.add(r.getNodeId());
      if (i != idx
          && (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
              || r.getState() == ReplicaState.REPLICA_STATE_CREATING
              || r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)) {
        keep.add(r.getNodeId());
      }
    }
    for (CreateRefusal c : a.getCreateRefusalsList()) {
      excluded.add(c.getNodeId()); // do not go back to a node that refused this volume
    }
    excluded.removeAll(keep);
    double overcommit = overcommitOfPool.applyAsDouble(a.getPool());
    List<NodeSnapshot> nodes = cluster.nodes();
    ReplicaPlacer.Outcome outcome =
        placer.place(ReplicaPlacer.Query.oneMore(a, overcommit, keep, excluded), nodes);
    if (!outcome.placed()) {
      return "no other node for it: " + outcome.explanation();
    }
    String target = outcome.nodeIds().get(0);
    Map<String, NodeRecord> records = new HashMap<>();
    nodes.forEach(n -> records.put(n.nodeId(), n.record()));
    NodeRecord targetRecord = records.get(target);
    Versioned<NodeUsage> targetUsage = store.get(keys.nodeUsage(target), NodeUsage.parser());
    long reserved = targetUsage.exists() ? targetUsage.value().getReservedBytes() : 0;
    long limit = TrustAwareStorageManager.capacityLimit(targetRecord, overcommit);
    if (targetRecord == null || reserved + a.getSizeBytes() > limit) {
      return "waiting: node " + target + " filled up meanwhile";
    }
    long now = clock.millis();
    long epoch = a.getEpoch() + 1;
    Allocation.Builder b = a.toBuilder().setEpoch(epoch).setUpdatedAtUnixMs(now);
    Replica.Builder replacement =
        Replica.newBuilder()
            .setNodeId(target)
            .setEpoch(epoch)
            .setTopologyPath(targetRecord.getTopologyPath());
    if (rebuild) {
      replacement
          .setState(ReplicaState.REPLICA_STATE_REBUILDING)
          .setSourceNodeId(a.getPrimaryNodeId());
    } else {
      replacement.setState(ReplicaState.REPLICA_STATE_CREATING);
    }
    b.setReplicas(idx, replacement);
    if (wasPrimary) {
      String next = target;
      for (Replica r : b.getReplicasList()) {
        if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
          next = r.getNodeId();
          break;
        }
      }
      if (next.equals(target)) {
        for (Replica r : b.getReplicasList()) {
          if (r.getState() == ReplicaState.REPLICA_STATE_CREATING) {
            next = r.getNodeId();
            break;
          }
        }
      }
      b.setPrimaryNodeId(next);
    }
    b.addCreateRefusals(
        CreateRefusal.newBuilder()
            .setNodeId(refused.getNodeId())
            .setReason(refused.getCreateFailures().getLastError())
            .setAttempts(refused.getCreateFailures().getCount())
            .setReplacedBy(target)
            .setAtUnixMs(now));
    while (b.getCreateRefusalsCount() > MAX_REFUSALS_KEPT) {
      b.removeCreateRefusals(0);
    }
    Allocation updated = b.setState(ReplicationManager.volumeState(b.build())).build();

    EtcdStore.Txn txn =
        store
            .txn()
            .requireUnchanged(current)
            .requireUnchanged(targetUsage)
            .put(current.key(), updated)
            .put(
                keys.nodeUsage(target),
                TrustAwareStorageManager.addUsage(
                    target, targetUsage.value(), a.getSizeBytes(), 1));
    boolean stillHolds =
        updated.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(refused.getNodeId()));
    if (!stillHolds) {
      Versioned<NodeUsage> u = store.get(keys.nodeUsage(refused.getNodeId()), NodeUsage.parser());
      txn.requireUnchanged(u)
          .put(
              keys.nodeUsage(refused.getNodeId()),
              TrustAwareStorageManager.addUsage(
                  refused.getNodeId(), u.value(), -a.getSizeBytes(), -1));
    }
    CommandQueue.Batch batch = queue.batch();
    if (rebuild) {
      NodeRecord source = records.get(a.getPrimaryNodeId());
      batch.add(
          target,
          NodeCommand.newBuilder()
              .setCommandId(TrustAwareStorageManager.commandId("rebuild", updated, target))
              .setIssuedAtUnixMs(now)
              .setRebuildReplica(
                  RebuildReplica.newBuilder()
                      .setVolumeId(a.getVolumeId())
                      .setEpoch(epoch)
                      .setSizeBytes(a.getSizeBytes())
                      .setSourceNodeId(a.getPrimaryNodeId())
                      .setSourceAddress(source == null ? "" : source.getAddress())
                      .setClassification(a.getClassification())
                      .setPriority(1)
                      .setCapacityLimitBytes(limit))
              .build());
    } else {
      batch.add(
          target,
          TrustAwareStorageManager.createCommand(
              updated,
              target,
              limit,
              TrustAwareStorageManager.commandId("create", updated, target),
              now));
    }
    // Whatever the refusing agent left behind goes: nothing leaks.
    batch.add(
        refused.getNodeId(),
        TrustAwareStorageManager.deleteCommand(
            updated, refused.getNodeId(), "create refused; re-placed on " + target, now));
    batch.stage(txn);
    if (!txn.commit()) {
      return null;
    }
    return "re-placed the replica "
        + refused.getNodeId()
        + " refused ("
        + refused.getCreateFailures().getLastError()
        + ") on "
        + target
        + (rebuild ? ", rebuilt from the primary " + a.getPrimaryNodeId() : ", created empty");
  }
}
