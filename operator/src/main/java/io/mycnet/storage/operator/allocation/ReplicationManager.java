package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps every volume's redundancy: turns node loss, quarantine, trust-tier drops and failed audits
 * into rebuilds, and retires old replicas once their replacements are verified.
 *
 * <p>It is level-triggered: each {@link #reconcile()} reads the nodes and allocations from etcd and
 * acts on what is true now, so a control plane that takes over after a leader died simply carries
 * on from etcd's state. Every step is one guarded transaction with deterministic command ids, so no
 * step is applied twice. It acts only while its {@link EtcdStore} carries a leader's fence.
 *
 * <h2>Replica lifecycle</h2>
 *
 * <ol>
 *   <li>A replica becomes unwanted when its node is DOWN (lease lost for longer than the grace
 *       period: state {@code LOST}), QUARANTINED, or no longer in a tier that allows the volume's
 *       classification, or when it failed an audit ({@code STALE}). Graded evacuation follows from
 *       the tier rule: a node dropping below CRITICAL gives up only its CRITICAL replicas.
 *   <li>A replacement node is placed (same placement function, keeping the healthy replicas and
 *       excluding every node the volume uses) and gets a {@code REBUILDING} replica with a source
 *       (the most trusted healthy replica), a capacity reservation and a {@code RebuildReplica}
 *       command, in one transaction that also raises the volume's epoch.
 *   <li>Only the agent's verified report ({@link #completeRebuild}) makes the new replica {@code
 *       HEALTHY}; the same transaction retires the unwanted replica: removes it, returns its
 *       reservation, and queues its {@code DeleteReplica}.
 * </ol>
 *
 * A replica on a node that no longer belongs to its volume's pool is evacuated the same way.
 *
 * <p>Rebuilds are throttled by the volume's pool ({@link PoolRules}): at most {@code
 * maxRebuildsPerNode} concurrent rebuilds per node (as target or source) and {@code
 * maxRebuildsPerPool} per pool; the rest wait for a later pass, the riskiest first (fewest healthy
 * replicas, then strictest classification).
 */
public final class ReplicationManager {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicationManager.class);

  /** Tunables; tests use seconds where production uses minutes. */
  public record Settings(Duration downGracePeriod, int maxRebuildsPerNode, int maxRebuildsPerPool) {
    public Settings {
      if (downGracePeriod.isNegative()) {
        throw new IllegalArgumentException("downGracePeriod must be >= 0");
      }
      if (maxRebuildsPerNode < 1 || maxRebuildsPerPool < 1) {
        throw new IllegalArgumentException("rebuild limits must be >= 1");
      }
    }

    /** Production defaults: 10 minutes of grace (like Ceph's and Longhorn's), 2 and 8 rebuilds. */
    public static Settings defaults() {
      return new Settings(Duration.ofMinutes(10), 2, 8);
    }
  }

  /**
   * What the storage pools say: which nodes belong to a pool (a replica on a node that left its
   * volume's pool is evacuated) and each pool's rebuild limits.
   */
  public interface PoolRules {
    boolean contains(String pool, NodeRecord node);

    int maxRebuildsPerNode(String pool);

    int maxRebuildsPerPool(String pool);

    /** Every node in every pool, with the limits of {@code settings}. */
    static PoolRules uniform(Settings settings) {
      return new PoolRules() {
        @Override
        public boolean contains(String pool, NodeRecord node) {
          return true;
        }

        @Override
        public int maxRebuildsPerNode(String pool) {
          return settings.maxRebuildsPerNode();
        }

        @Override
        public int maxRebuildsPerPool(String pool) {
          return settings.maxRebuildsPerPool();
        }
      };
    }
  }

  /** What one reconcile pass did, for logs, status and tests. */
  public record Pass(
      List<String> nodesMarkedDown,
      List<String> rebuildsStarted,
      List<String> rebuildsDeferred,
      List<String> volumesWithoutPlacement) {}

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final NodeRegistry registry;
  private final CommandQueue queue;
  private final ClusterViewCache cluster;
  private final ReplicaPlacer placer;
  private final NodeTrustSource trust;
  private final ToDoubleFunction<String> overcommitOfPool;
  private final Settings settings;
  private final PoolRules pools;
  private final Clock clock;

  /** A manager for which every node is in every pool and the limits are {@code settings}'. */
  public ReplicationManager(
      EtcdStore store,
      EtcdKeys keys,
      NodeRegistry registry,
      CommandQueue queue,
      ClusterViewCache cluster,
      ReplicaPlacer placer,
      NodeTrustSource trust,
      ToDoubleFunction<String> overcommitOfPool,
      Settings settings,
      Clock clock) {
    this(
        store,
        keys,
        registry,
        queue,
        cluster,
        placer,
        trust,
        overcommitOfPool,
        settings,
        PoolRules.uniform(settings),
        clock);
  }

  public ReplicationManager(
      EtcdStore store,
      EtcdKeys keys,
      NodeRegistry registry,
      CommandQueue queue,
      ClusterViewCache cluster,
      ReplicaPlacer placer,
      NodeTrustSource trust,
      ToDoubleFunction<String> overcommitOfPool,
      Settings settings,
      PoolRules pools,
      Clock clock) {
    this.store = store;
    this.keys = keys;
    this.registry = registry;
    this.queue = queue;
    this.cluster = cluster;
    this.placer = placer;
    this.trust = trust;
    this.overcommitOfPool = overcommitOfPool;
    this.settings = settings;
    this.pools = pools;
    this.clock = clock;
  }

  /**
   * One pass over nodes and allocations. Returns what it did. Throws {@link
   * EtcdStore.NotLeaderException} when this control plane is not the leader.
   */
  public Pass reconcile() {
    EtcdStore.Fence fence = store.fence();
    if (fence != null && fence.isNotLeader()) {
      throw new EtcdStore.NotLeaderException("not the leader: replication is the leader's job");
    }
    List<String> markedDown = updateNodeStates();
    cluster.invalidate();
    Map<String, NodeRecord> nodes = new HashMap<>();
    for (NodeRecord r : registry.list()) {
      nodes.put(r.getNodeId(), r);
    }
    List<Versioned<Allocation>> allocations = store.list(keys.allocations(), Allocation.parser());

    // Count rebuilds under way for the throttle.
    Map<String, Integer> perNode = new HashMap<>();
    Map<String, Integer> perPool = new HashMap<>();
    for (Versioned<Allocation> v : allocations) {
      for (Replica r : v.value().getReplicasList()) {
        if (r.getState() == ReplicaState.REPLICA_STATE_REBUILDING) {
          perNode.merge(r.getNodeId(), 1, Integer::sum);
          perNode.merge(r.getSourceNodeId(), 1, Integer::sum);
          perPool.merge(v.value().getPool(), 1, Integer::sum);
        }
      }
    }

    List<Versioned<Allocation>> work = new ArrayList<>();
    for (Versioned<Allocation> v : allocations) {
      Allocation marked = markUnwanted(v.value(), nodes);
      if (!marked.equals(v.value()) || needsRebuild(marked)) {
        work.add(new Versioned<>(v.key(), marked, v.modRevision(), v.createRevision()));
        if (!marked.equals(v.value())) {
          // Persist the replica states even when the rebuild must wait.
          if (!store.txn().requireUnchanged(v).put(v.key(), marked).commit()) {
            work.remove(work.size() - 1);
          }
        }
      }
    }
    // Riskiest first: fewest healthy replicas, then strictest classification.
    work.sort(
        Comparator.<Versioned<Allocation>>comparingInt(v -> healthy(v.value()))
            .thenComparingInt(v -> v.value().getClassificationValue())
            .thenComparing(v -> v.value().getVolumeId()));

    List<String> started = new ArrayList<>();
    List<String> deferred = new ArrayList<>();
    List<String> unplaceable = new ArrayList<>();
    for (Versioned<Allocation> v : work) {
      Versioned<Allocation> fresh = store.get(v.key(), Allocation.parser());
      if (!fresh.exists()) {
        continue;
      }
      Allocation a = fresh.value();
      while (needsRebuild(a)) {
        Replica lost = firstUnwantedWithoutReplacement(a);
        if (lost == null) {
          break;
        }
        String result = startRebuild(fresh, a, lost, nodes, perNode, perPool);
        if (result.startsWith("started")) {
          started.add(a.getVolumeId() + ": " + result);
          fresh = store.get(v.key(), Allocation.parser());
          if (!fresh.exists()) {
            break;
          }
          a = fresh.value();
        } else {
          (result.startsWith("deferred") ? deferred : unplaceable)
              .add(a.getVolumeId() + ": " + result);
          break;
        }
      }
    }
    if (!started.isEmpty() || !markedDown.isEmpty()) {
      LOG.info(
          "replication pass: nodes down {}, rebuilds started {}, deferred {}",
          markedDown,
          started.size(),
          deferred.size());
    }
    return new Pass(markedDown, started, deferred, unplaceable);
  }

  /** Marks nodes whose lease is gone as having lost it, and DOWN after the grace period. */
  private List<String> updateNodeStates() {
    Set<String> live = new HashSet<>(registry.liveNodeIds());
    long now = clock.millis();
    List<String> down = new ArrayList<>();
    for (NodeRecord r : registry.list()) {
      String id = r.getNodeId();
      if (live.contains(id)) {
        if (r.getState() == NodeState.NODE_STATE_DOWN || r.getLeaseLostAtUnixMs() != 0) {
          registry.update(
              id,
              cur ->
                  cur == null
                      ? null
                      : cur.toBuilder()
                          .setLeaseLostAtUnixMs(0)
                          .setState(
                              cur.getState() == NodeState.NODE_STATE_DOWN
                                  ? NodeState.NODE_STATE_UP
                                  : cur.getState())
                          .build());
        }
        continue;
      }
      if (r.getState() == NodeState.NODE_STATE_DOWN) {
        continue;
      }
      if (r.getLeaseLostAtUnixMs() == 0) {
        registry.update(
            id, cur -> cur == null ? null : cur.toBuilder().setLeaseLostAtUnixMs(now).build());
      } else if (now - r.getLeaseLostAtUnixMs() >= settings.downGracePeriod().toMillis()) {
        registry.setState(id, NodeState.NODE_STATE_DOWN);
        down.add(id);
      }
    }
    return down;
  }

  /** The allocation with every replica that may no longer serve marked LOST or STALE. */
  private Allocation markUnwanted(Allocation a, Map<String, NodeRecord> nodes) {
    Classification c = ProtoMapping.fromProto(a.getClassification());
    Allocation.Builder b = a.toBuilder();
    boolean changed = false;
    for (int i = 0; i < b.getReplicasCount(); i++) {
      Replica r = b.getReplicas(i);
      NodeRecord n = nodes.get(r.getNodeId());
      ReplicaState want = r.getState();
      if (n == null || n.getState() == NodeState.NODE_STATE_DOWN) {
        want = ReplicaState.REPLICA_STATE_LOST;
      } else if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
          && (n.getState() == NodeState.NODE_STATE_QUARANTINED
              || !trust.trustOf(r.getNodeId()).tier().allows(c)
              || !pools.contains(a.getPool(), n))) {
        want = ReplicaState.REPLICA_STATE_STALE;
      }
      if (r.getState() == ReplicaState.REPLICA_STATE_REBUILDING
          && want == ReplicaState.REPLICA_STATE_LOST) {
        // The rebuild target died: drop it, its reservation goes back below.
        want = ReplicaState.REPLICA_STATE_LOST;
      }
      if (want != r.getState()) {
        b.setReplicas(i, r.toBuilder().setState(want));
        changed = true;
      }
    }
    if (!changed) {
      return a;
    }
    return b.setState(volumeState(b.build())).setUpdatedAtUnixMs(clock.millis()).build();
  }

  private static boolean needsRebuild(Allocation a) {
    return firstUnwantedWithoutReplacement(a) != null;
  }

  private static int healthy(Allocation a) {
    int n = 0;
    for (Replica r : a.getReplicasList()) {
      if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
        n++;
      }
    }
    return n;
  }

  /**
   * An unwanted replica (LOST or STALE) that no REBUILDING replica is replacing yet. Replacement is
   * counted, not paired: healthy + rebuilding below the requested count means one is missing. A
   * CREATING replica counts like a REBUILDING one: on its way, neither healthy nor unwanted.
   */
  private static Replica firstUnwantedWithoutReplacement(Allocation a) {
    int healthy = 0;
    int rebuilding = 0;
    Replica unwanted = null;
    for (Replica r : a.getReplicasList()) {
      switch (r.getState()) {
        case REPLICA_STATE_HEALTHY -> healthy++;
        case REPLICA_STATE_REBUILDING, REPLICA_STATE_CREATING -> rebuilding++;
        default -> {
          if (unwanted == null) {
            unwanted = r;
          }
        }
      }
    }
    return healthy + rebuilding < a.getReplicaCount() ? unwanted : null;
  }

  static VolumeState volumeState(Allocation a) {
    int healthy = healthy(a);
    boolean rebuilding =
        a.getReplicasList().stream()
            .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING);
    if (a.getReplicasList().stream()
        .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_CREATING)) {
      return VolumeState.VOLUME_STATE_CREATING; // not bound before its replicas exist
    }
    if (healthy == 0) {
      return VolumeState.VOLUME_STATE_LOST;
    }
    if (healthy >= a.getReplicaCount()) {
      return VolumeState.VOLUME_STATE_BOUND;
    }
    return rebuilding ? VolumeState.VOLUME_STATE_REBUILDING : VolumeState.VOLUME_STATE_DEGRADED;
  }

  private String startRebuild(
      Versioned<Allocation> current,
      Allocation a,
      Replica lost,
      Map<String, NodeRecord> nodes,
      Map<String, Integer> perNode,
      Map<String, Integer> perPool) {
    List<Replica> healthyReplicas =
        a.getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
            .toList();
    if (healthyReplicas.isEmpty()) {
      return "no healthy replica left to copy from";
    }
    int perNodeLimit = pools.maxRebuildsPerNode(a.getPool());
    if (perPool.getOrDefault(a.getPool(), 0) >= pools.maxRebuildsPerPool(a.getPool())) {
      return "deferred: pool " + a.getPool() + " has its maximum of rebuilds under way";
    }
    // Source: the most trusted healthy replica whose node can take another rebuild.
    Replica source =
        healthyReplicas.stream()
            .filter(r -> perNode.getOrDefault(r.getNodeId(), 0) < perNodeLimit)
            .max(
                Comparator.comparingDouble((Replica r) -> trust.trustOf(r.getNodeId()).score())
                    .thenComparing(Replica::getNodeId, Comparator.reverseOrder()))
            .orElse(null);
    if (source == null) {
      return "deferred: every healthy replica's node has its maximum of rebuilds under way";
    }
    Set<String> excluded = new HashSet<>();
    for (Replica r : a.getReplicasList()) {
      excluded.add(r.getNodeId());
    }
    for (Map.Entry<String, Integer> e : perNode.entrySet()) {
      if (e.getValue() >= perNodeLimit) {
        excluded.add(e.getKey());
      }
    }
    List<String> keep = new ArrayList<>();
    for (Replica r : a.getReplicasList()) {
      if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
          || r.getState() == ReplicaState.REPLICA_STATE_REBUILDING
          || r.getState() == ReplicaState.REPLICA_STATE_CREATING) {
        keep.add(r.getNodeId());
      }
    }
    excluded.removeAll(keep); // kept replicas stay where they are and shape the spread
    double overcommit = overcommitOfPool.applyAsDouble(a.getPool());
    ReplicaPlacer.Outcome outcome =
        placer.place(
            new ReplicaPlacer.Query(
                a.getVolumeId(),
                a.getSizeBytes(),
                ProtoMapping.fromProto(a.getClassification()),
                keep.size() + 1,
                ProtoMapping.fromProto(a.getStrategy()),
                a.getPool(),
                overcommit,
                a.getGeographicDistribution(),
                keep,
                excluded),
            cluster.nodes());
    if (!outcome.placed()) {
      return "no replacement node: " + outcome.explanation();
    }
    String target = outcome.nodeIds().get(0);
    NodeRecord targetRecord = nodes.get(target);
    Versioned<NodeUsage> usage = store.get(keys.nodeUsage(target), NodeUsage.parser());
    long reserved = usage.exists() ? usage.value().getReservedBytes() : 0;
    if (targetRecord == null
        || reserved + a.getSizeBytes() > (long) (targetRecord.getCapacityBytes() * overcommit)) {
      return "deferred: replacement node " + target + " filled up meanwhile";
    }
    long epoch = a.getEpoch() + 1;
    Allocation.Builder next = a.toBuilder().setEpoch(epoch).setUpdatedAtUnixMs(clock.millis());
    next.addReplicas(
        Replica.newBuilder()
            .setNodeId(target)
            .setState(ReplicaState.REPLICA_STATE_REBUILDING)
            .setEpoch(epoch)
            .setTopologyPath(targetRecord.getTopologyPath())
            .setSourceNodeId(source.getNodeId()));
    if (lost.getNodeId().equals(a.getPrimaryNodeId())) {
      next.setPrimaryNodeId(source.getNodeId());
    }
    Allocation updated = next.setState(volumeState(next.build())).build();
    NodeRecord sourceRecord = nodes.get(source.getNodeId());
    NodeCommand rebuild =
        NodeCommand.newBuilder()
            .setCommandId(TrustAwareStorageManager.commandId("rebuild", updated, target))
            .setIssuedAtUnixMs(clock.millis())
            .setRebuildReplica(
                RebuildReplica.newBuilder()
                    .setVolumeId(a.getVolumeId())
                    .setEpoch(epoch)
                    .setSizeBytes(a.getSizeBytes())
                    .setSourceNodeId(source.getNodeId())
                    .setSourceAddress(sourceRecord == null ? "" : sourceRecord.getAddress())
                    .setClassification(a.getClassification())
                    .setPriority(healthyReplicas.size())
                    .setCapacityLimitBytes(
                        TrustAwareStorageManager.capacityLimit(targetRecord, overcommit)))
            .build();
    EtcdStore.Txn txn =
        store
            .txn()
            .requireUnchanged(current)
            .requireUnchanged(usage)
            .put(current.key(), updated)
            .put(
                keys.nodeUsage(target),
                TrustAwareStorageManager.addUsage(target, usage.value(), a.getSizeBytes(), 1));
    queue.batch().add(target, rebuild).stage(txn);
    if (!txn.commit()) {
      return "deferred: the volume changed meanwhile";
    }
    perNode.merge(target, 1, Integer::sum);
    perNode.merge(source.getNodeId(), 1, Integer::sum);
    perPool.merge(a.getPool(), 1, Integer::sum);
    return "started rebuild of "
        + lost.getNodeId()
        + "'s replica on "
        + target
        + " from "
        + source.getNodeId();
  }

  /**
   * The agent of {@code nodeId} reports that its rebuilt replica of {@code volumeId} is verified
   * and in sync at {@code epoch}. Marks it HEALTHY and retires one unwanted replica (removed, its
   * reservation returned, its deletion queued), in one transaction. A replayed report changes
   * nothing.
   *
   * @return true when this call changed the allocation
   */
  public boolean completeRebuild(String volumeId, String nodeId, long epoch) {
    for (int attempt = 0; attempt < 64; attempt++) {
      Versioned<Allocation> current = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!current.exists()) {
        return false;
      }
      Allocation a = current.value();
      int idx = -1;
      for (int i = 0; i < a.getReplicasCount(); i++) {
        Replica r = a.getReplicas(i);
        if (r.getNodeId().equals(nodeId)
            && r.getState() == ReplicaState.REPLICA_STATE_REBUILDING
            && r.getEpoch() == epoch) {
          idx = i;
        }
      }
      if (idx < 0) {
        return false; // already completed, superseded, or never started
      }
      Allocation.Builder b = a.toBuilder();
      b.setReplicas(
          idx,
          a.getReplicas(idx).toBuilder()
              .setState(ReplicaState.REPLICA_STATE_HEALTHY)
              .clearSourceNodeId());
      EtcdStore.Txn txn = store.txn().requireUnchanged(current);
      // Retire one unwanted replica: LOST before STALE.
      int retire = -1;
      for (int i = 0; i < b.getReplicasCount(); i++) {
        ReplicaState s = b.getReplicas(i).getState();
        if (s == ReplicaState.REPLICA_STATE_LOST
            && (retire < 0
                || b.getReplicas(retire).getState() != ReplicaState.REPLICA_STATE_LOST)) {
          retire = i;
        } else if (s == ReplicaState.REPLICA_STATE_STALE && retire < 0) {
          retire = i;
        }
      }
      long now = clock.millis();
      b.setEpoch(a.getEpoch() + 1).setUpdatedAtUnixMs(now);
      if (retire >= 0) {
        Replica old = b.getReplicas(retire);
        b.removeReplicas(retire);
        boolean stillHolds =
            b.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(old.getNodeId()));
        if (!stillHolds) {
          Versioned<NodeUsage> u = store.get(keys.nodeUsage(old.getNodeId()), NodeUsage.parser());
          txn.requireUnchanged(u)
              .put(
                  keys.nodeUsage(old.getNodeId()),
                  TrustAwareStorageManager.addUsage(
                      old.getNodeId(), u.value(), -a.getSizeBytes(), -1));
        }
        Allocation retiredView = b.build();
        queue
            .batch()
            .add(
                old.getNodeId(),
                TrustAwareStorageManager.deleteCommand(
                    retiredView, old.getNodeId(), "replaced by " + nodeId, now))
            .stage(txn);
      }
      Allocation updated = b.setState(volumeState(b.build())).build();
      txn.put(current.key(), updated);
      if (txn.commit()) {
        return true;
      }
    }
    throw new StoreUnavailableException(
        "completing the rebuild of " + volumeId + " kept conflicting", null);
  }

  /**
   * A replica failed an integrity audit: it is marked STALE, so the next pass replaces it from a
   * healthy replica.
   */
  public boolean replicaFailedAudit(String volumeId, String nodeId) {
    for (int attempt = 0; attempt < 64; attempt++) {
      Versioned<Allocation> current = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!current.exists()) {
        return false;
      }
      Allocation.Builder b = current.value().toBuilder();
      boolean changed = false;
      for (int i = 0; i < b.getReplicasCount(); i++) {
        Replica r = b.getReplicas(i);
        if (r.getNodeId().equals(nodeId) && r.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
          b.setReplicas(i, r.toBuilder().setState(ReplicaState.REPLICA_STATE_STALE));
          changed = true;
        }
      }
      if (!changed) {
        return false;
      }
      Allocation updated = b.setState(volumeState(b.build())).build();
      if (store.txn().requireUnchanged(current).put(current.key(), updated).commit()) {
        return true;
      }
    }
    throw new StoreUnavailableException("marking " + volumeId + " stale kept conflicting", null);
  }
}
