package io.mycnet.storage.operator.replication;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicationStatus;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.attachment.AttachmentService;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Fence;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.NotLeaderException;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Txn;
import io.mycnet.storage.operator.store.Versioned;
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
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps every volume's redundancy: turns node loss, quarantine, trust-tier drops and failed audits
 * into rebuilds, moves a lost primary to an in-sync replica, takes back the replicas of nodes that
 * return, and retires old replicas once their replacements are verified.
 *
 * <p>It is level-triggered: each {@link #reconcile()} reads the nodes and allocations from etcd and
 * acts on what is true now, so a control plane that takes over after a leader died simply carries
 * on from etcd's state. Every step is one guarded transaction with deterministic command ids, so no
 * step is applied twice. It acts only while its {@link EtcdStore} carries a leader's fence.
 *
 * <h2>Node liveness</h2>
 *
 * A node whose liveness lease is gone is DOWN once the grace period has passed since the later of
 * (a) the time its lease was found gone and (b) the moment this manager started acting as leader
 * plus the reconnect window: a new leader (after a crash, an upgrade, a leader change or an etcd
 * outage) first gives every agent the time to reconnect, and never counts its own downtime, or a
 * lease-loss time written by an earlier incarnation, against a node. When more than {@code
 * massFailureShare} of the nodes are silent at once, or every node of a top-level domain (a region)
 * that has more than one node, no node is marked DOWN: the failure is suspect (a partition, a fault
 * on the control plane's side), the manager records why in {@code replication/status}, tells its
 * {@link Observer}, and waits.
 *
 * <h2>Replica lifecycle (docs/replication.md has the table)</h2>
 *
 * <ol>
 *   <li>A replica becomes unwanted when its node is DOWN (state {@code LOST}), QUARANTINED, no
 *       longer in a tier that allows the volume's classification, or outside the volume's pool
 *       ({@code STALE}), or when it failed an audit or missed writes ({@code STALE}, not current).
 *       A volume's last HEALTHY replica is never marked unwanted for where it is: it stays the copy
 *       source until a replacement is verified.
 *   <li>When the primary's replica is not HEALTHY (nor still being created), the most trusted
 *       HEALTHY replica becomes primary at a new epoch at once, whether or not a replacement can be
 *       placed. When the primary's node is silent (lease expired) but not DOWN yet, the role is
 *       handed over the same way to a HEALTHY replica on a live UP node that still admits the
 *       volume, at a new epoch, while the silent replica stays a member (no handover while DOWN
 *       decisions are held, nor within a new leader's reconnect window): block frontends and
 *       VolumeIo clients then wait one lease, not the grace period. A volume left without any
 *       HEALTHY replica is recovered from a replica that was current when it was marked and whose
 *       node is live again.
 *   <li>An unwanted replica whose node is back and eligible again is taken back: it becomes {@code
 *       REBUILDING} on its own node, copying only the chunks that differ from a healthy source
 *       (delta catch-up). One marked STALE moments ago on a still-live node first waits one lease
 *       ({@link #settleWindowMillis}): its node may have died just before the mark; one on a node
 *       that is silent but not DOWN waits for the node, like its HEALTHY replicas. Otherwise a
 *       replacement node is placed (same placement function, keeping the healthy replicas) and gets
 *       a {@code REBUILDING} replica with a source, a capacity reservation and a {@code
 *       RebuildReplica} command, in one transaction that also raises the volume's epoch. A rebuild
 *       whose best target or source is at its rebuild limit waits for a later pass; it never falls
 *       back to a worse-spread target.
 *   <li>Only the agent's verified report ({@link #completeRebuild}) makes the replica {@code
 *       HEALTHY}; the same transaction retires one unwanted replica. Unwanted replicas left over
 *       once the volume has all its HEALTHY replicas are retired by the next pass.
 * </ol>
 *
 * <p>Rebuilds are throttled by the volume's pool ({@link PoolRules}): at most {@code
 * maxRebuildsPerNode} concurrent rebuilds per node (as target or source) and {@code
 * maxRebuildsPerPool} per pool; the rest wait for a later pass, the riskiest first (fewest healthy
 * replicas, then strictest classification). A volume whose repair cannot start says why in its
 * {@code repair_note}.
 */
public final class ReplicationManager {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicationManager.class);

  /**
   * Tunables; tests use seconds where production uses minutes.
   *
   * @param downGracePeriod how long a node may be silent before it is DOWN
   * @param reconnectWindow how long a newly acting leader waits for agents to reconnect before a
   *     silent node's grace period may start
   * @param massFailureShare silent nodes above this share of all nodes hold every DOWN decision
   *     (1.0: never)
   * @param holdWholeTopDomains whether every node of a top-level domain (with at least two nodes)
   *     going silent together holds DOWN decisions
   * @param handoverSettle how long a primary's node must have been silent before its role is handed
   *     over (the production value is the node lease TTL, at least two heartbeats: the other nodes
   *     of a domain that failed as a whole have lost their leases too by then, and their silence
   *     holds the handover as it holds DOWN decisions)
   */
  public record Settings(
      Duration downGracePeriod,
      int maxRebuildsPerNode,
      int maxRebuildsPerPool,
      Duration reconnectWindow,
      double massFailureShare,
      boolean holdWholeTopDomains,
      Duration handoverSettle) {
    public Settings {
      if (handoverSettle.isNegative()) {
        throw new IllegalArgumentException("handoverSettle must be >= 0");
      }
      if (downGracePeriod.isNegative()) {
        throw new IllegalArgumentException("downGracePeriod must be >= 0");
      }
      if (reconnectWindow.isNegative()) {
        throw new IllegalArgumentException("reconnectWindow must be >= 0");
      }
      if (maxRebuildsPerNode < 1 || maxRebuildsPerPool < 1) {
        throw new IllegalArgumentException("rebuild limits must be >= 1");
      }
      if (!(massFailureShare > 0 && massFailureShare <= 1)) {
        throw new IllegalArgumentException(
            "massFailureShare must be in (0, 1], was " + massFailureShare);
      }
    }

    /** No settle time before a handover. */
    public Settings(
        Duration downGracePeriod,
        int maxRebuildsPerNode,
        int maxRebuildsPerPool,
        Duration reconnectWindow,
        double massFailureShare,
        boolean holdWholeTopDomains) {
      this(
          downGracePeriod,
          maxRebuildsPerNode,
          maxRebuildsPerPool,
          reconnectWindow,
          massFailureShare,
          holdWholeTopDomains,
          Duration.ZERO);
    }

    /** No reconnect window and no mass-failure hold: what tests that drive passes by hand use. */
    public Settings(Duration downGracePeriod, int maxRebuildsPerNode, int maxRebuildsPerPool) {
      this(downGracePeriod, maxRebuildsPerNode, maxRebuildsPerPool, Duration.ZERO, 1.0, false);
    }

    /**
     * Production defaults: 10 minutes of grace (like Ceph's and Longhorn's), 2 and 8 rebuilds, one
     * minute to reconnect, hold above 30 % of the nodes silent or a whole region, a handover 15 s
     * (the default node lease) after the primary's node fell silent.
     */
    public static Settings defaults() {
      return new Settings(
          Duration.ofMinutes(10), 2, 8, Duration.ofMinutes(1), 0.3, true, Duration.ofSeconds(15));
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

  /** Told about what a person must hear of: events, metrics. Called on the pass's thread. */
  public interface Observer {
    /** The volume has no HEALTHY replica and none to recover it from. */
    default void volumeLost(Allocation a) {}

    /**
     * A replica was marked STALE for missed writes or a failed audit ({@link #replicaFailedAudit}).
     */
    default void replicaMarkedStale(String volumeId, String nodeId) {}

    /** The volume had no HEALTHY replica and was recovered from {@code fromNode}'s. */
    default void volumeRecovered(Allocation a, String fromNode) {}

    /** DOWN decisions started ({@code status.getHoldReason()} set) or stopped being held. */
    default void holdChanged(ReplicationStatus status) {}

    /** The pass fenced a node's attachment of a volume (the node is DOWN or no longer trusted). */
    default void attachmentFenced(AttachmentService.Fenced fenced) {}

    /**
     * A rebuilt replica was counted HEALTHY ({@link #completeRebuild}): its rebuild slots on the
     * target and the source are free for a deferred one.
     */
    default void rebuildCompleted(String volumeId, String nodeId) {}
  }

  /** What one reconcile pass did, for logs, status and tests. */
  public record Pass(
      List<String> nodesMarkedDown,
      List<String> rebuildsStarted,
      List<String> rebuildsDeferred,
      List<String> volumesWithoutPlacement,
      List<String> primariesMoved,
      List<String> replicasTakenBack,
      List<String> volumesRecovered,
      List<String> volumesLost,
      String hold,
      List<String> respreads,
      List<String> attachmentsFenced) {}

  private final KeyValueStore store;
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
  private final List<Observer> observers = new CopyOnWriteArrayList<>();
  private volatile AttachmentService attachments;

  /** When this manager started acting as leader (0: not acting); guarded by this. */
  private long actingSince;

  private Fence actingFence;

  /**
   * The last pass that held DOWN decisions: when a hold ends, the nodes still silent get their
   * grace period from then (they went silent with the others; the last to return is not DOWN).
   */
  private long lastHeldAt;

  /**
   * When a pass last found the silent nodes suspect (or held): the settle time of a handover starts
   * again from there, as a held pass restarts the grace, so the last nodes of a region that comes
   * back are not handed over from in the seconds its others return first.
   */
  private long lastSuspectAt;

  /** Whether the last pass held DOWN decisions. */
  private boolean heldLastPass;

  /** A manager for which every node is in every pool and the limits are {@code settings}'. */
  public ReplicationManager(
      KeyValueStore store,
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
      KeyValueStore store,
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

  public void addObserver(Observer observer) {
    observers.add(observer);
  }

  /**
   * From now on every pass first fences the attachments of nodes that are DOWN or REMOVED, or whose
   * tier no longer admits the attached volume's classification ({@link
   * AttachmentService#fenceUnfit}): each revokes the attachment and raises the epoch in one
   * transaction.
   */
  public void fenceAttachmentsWith(AttachmentService attachments) {
    this.attachments = attachments;
  }

  /**
   * This control plane is not acting (not the leader, or stopping): the next pass that acts starts
   * a new reconnect window.
   */
  public synchronized void standBy() {
    actingSince = 0;
    actingFence = null;
    lastHeldAt = 0;
    lastSuspectAt = 0;
    heldLastPass = false;
  }

  /**
   * One pass over nodes and allocations. Returns what it did. Throws {@link NotLeaderException}
   * when this control plane is not the leader.
   */
  public synchronized Pass reconcile() {
    Fence fence = store.fence();
    if (fence != null && fence.isNotLeader()) {
      standBy();
      throw new NotLeaderException("not the leader: replication is the leader's job");
    }
    if (actingSince == 0 || !java.util.Objects.equals(fence, actingFence)) {
      actingSince = clock.millis();
      actingFence = fence;
      LOG.info(
          "replication acting from now on; silent nodes get {} to reconnect before their grace"
              + " period of {} starts",
          settings.reconnectWindow(),
          settings.downGracePeriod());
    }
    try {
      return pass();
    } catch (NotLeaderException e) {
      standBy();
      throw e;
    } catch (StoreUnavailableException e) {
      // etcd was out of reach: nothing this leader heard of the nodes meanwhile counts.
      standBy();
      throw e;
    }
  }

  private Pass pass() {
    Set<String> live = new HashSet<>(registry.liveNodeIds());
    List<String> markedDown = new ArrayList<>();
    Set<String> held = new HashSet<>();
    String hold = updateNodeStates(live, markedDown, held);
    cluster.invalidate();
    Map<String, NodeRecord> nodes = new HashMap<>();
    for (NodeRecord r : registry.list()) {
      nodes.put(r.getNodeId(), r);
    }
    List<Versioned<Allocation>> allocations = store.list(keys.allocations(), Allocation.parser());
    List<AttachmentService.Fenced> fencing = new ArrayList<>();
    AttachmentService attached = attachments;
    if (attached != null) {
      allocations = attached.fenceUnfit(nodes, live, allocations, fencing);
      fencing.forEach(f -> observers.forEach(o -> o.attachmentFenced(f)));
    }
    List<String> fenced = fencing.stream().map(AttachmentService.Fenced::toString).toList();

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

    List<String> moved = new ArrayList<>();
    List<String> recovered = new ArrayList<>();
    List<String> lost = new ArrayList<>();
    List<Versioned<Allocation>> work = new ArrayList<>();
    Map<String, Versioned<Allocation>> byKey = new HashMap<>();
    // A silent primary's role moves to a live in-sync replica before the node is DOWN (cheap: an
    // epoch raise, no copy), except while DOWN decisions are held (a partition is suspected) or
    // while a newly acting leader still gives the agents their reconnect window.
    boolean suspicion = suspect(new ArrayList<>(nodes.values()), live) != null;
    if (suspicion || hold != null) {
      lastSuspectAt = clock.millis();
    }
    boolean handover =
        !suspicion
            && hold == null
            && clock.millis() >= actingSince + settings.reconnectWindow().toMillis();
    for (Versioned<Allocation> v : allocations) {
      Allocation marked = markUnwanted(v.value(), nodes, live, handover, moved, recovered);
      Versioned<Allocation> current = v;
      if (!marked.equals(v.value())) {
        // Persist the replica states (and a moved primary) even when the rebuild must wait.
        if (!store.txn().requireUnchanged(v).put(v.key(), marked).commit()) {
          continue; // changed meanwhile: the next pass sees it
        }
        current = store.get(v.key(), Allocation.parser());
        if (!current.exists()) {
          continue;
        }
        if (marked.getState() == VolumeState.VOLUME_STATE_LOST
            && v.value().getState() != VolumeState.VOLUME_STATE_LOST) {
          lost.add(marked.getVolumeId());
          volumeLost(marked);
        }
        recovered.stream()
            .filter(x -> x.startsWith(marked.getVolumeId() + ": "))
            .forEach(x -> observers.forEach(o -> o.volumeRecovered(marked, x)));
      }
      byKey.put(current.key(), current);
      if (needsRebuild(current.value()) || surplus(current.value()) != null) {
        work.add(current);
      }
    }
    // Riskiest first: fewest healthy replicas, then strictest classification.
    work.sort(
        Comparator.<Versioned<Allocation>>comparingInt(v -> healthy(v.value()))
            .thenComparingInt(v -> v.value().getClassificationValue())
            .thenComparing(v -> v.value().getVolumeId()));

    List<String> started = new ArrayList<>();
    List<String> takenBack = new ArrayList<>();
    List<String> deferred = new ArrayList<>();
    List<String> unplaceable = new ArrayList<>();
    Map<String, String> notes = new HashMap<>();
    for (Versioned<Allocation> v : work) {
      Versioned<Allocation> fresh = store.get(v.key(), Allocation.parser());
      if (!fresh.exists()) {
        continue;
      }
      Allocation a = fresh.value();
      while (needsRebuild(a)) {
        Replica settling = settling(a, live);
        if (settling != null) {
          // Its node is live, but may have died just before the mark (the missed write was the
          // first sign): one lease tells a node that is still there from one that is gone.
          String result =
              String.format(
                  java.util.Locale.ROOT,
                  "deferred: settling: %s was marked %d ms ago (%s) and is still live; taken back or"
                      + " replaced once its lease has had %d ms to lapse",
                  settling.getNodeId(),
                  clock.millis() - settling.getUnwantedAtUnixMs(),
                  settling.getUnwantedReason(),
                  settleWindowMillis());
          deferred.add(a.getVolumeId() + ": " + result);
          notes.put(a.getVolumeId(), repairNote(a, result));
          break;
        }
        Replica back = reinstatable(a, nodes, live);
        String result;
        if (back != null) {
          result = startCatchUp(fresh, a, back, nodes, perNode, perPool);
        } else {
          Replica gone = firstUnwantedWithoutReplacement(a);
          if (gone == null) {
            break;
          }
          // While DOWN decisions are held, a held node's replica is not copied elsewhere either
          // (it missed writes, but it may be back any moment and then catches up by delta); nor is
          // the STALE replica of a node that is silent but not DOWN: like its HEALTHY replicas it
          // waits the grace period, so that a restarted node catches up instead of every volume
          // it holds being copied in full elsewhere.
          NodeRecord goneNode = nodes.get(gone.getNodeId());
          result =
              held.contains(gone.getNodeId())
                  ? "deferred: replication paused: " + hold
                  : gone.getState() == ReplicaState.REPLICA_STATE_STALE
                          && goneNode != null
                          && goneNode.getState() == NodeState.NODE_STATE_UP
                          && !live.contains(gone.getNodeId())
                      ? "deferred: "
                          + gone.getNodeId()
                          + " is silent but not DOWN: its replica catches up by delta if the node"
                          + " is back within the grace period, and is replaced once it is DOWN"
                      : startRebuild(fresh, a, gone, nodes, perNode, perPool);
        }
        if (result.startsWith("started") || result.startsWith("taking back")) {
          (back != null ? takenBack : started).add(a.getVolumeId() + ": " + result);
          fresh = store.get(v.key(), Allocation.parser());
          if (!fresh.exists()) {
            break;
          }
          a = fresh.value();
        } else {
          (result.startsWith("deferred") ? deferred : unplaceable)
              .add(a.getVolumeId() + ": " + result);
          notes.put(a.getVolumeId(), repairNote(a, result));
          break;
        }
      }
      if (fresh.exists()) {
        retireSurplus(fresh);
        byKey.put(fresh.key(), store.get(fresh.key(), Allocation.parser()));
      }
    }
    updateRepairNotes(byKey.values(), notes, held, hold);
    // Low priority: only in a calm pass, one volume at a time.
    List<String> respreads = new ArrayList<>();
    if (hold == null && work.isEmpty() && perPool.isEmpty()) {
      for (Versioned<Allocation> v : byKey.values()) {
        if (v == null || !v.exists()) {
          continue;
        }
        String r = respread(v, nodes, live, perNode, perPool);
        if (r != null) {
          respreads.add(v.value().getVolumeId() + ": " + r);
          break;
        }
      }
    }
    if (!started.isEmpty()
        || !markedDown.isEmpty()
        || !moved.isEmpty()
        || !takenBack.isEmpty()
        || !recovered.isEmpty()
        || !fenced.isEmpty()) {
      LOG.info(
          "replication pass: nodes down {}, attachments fenced {}, primaries moved {}, replicas"
              + " taken back {}, volumes recovered {}, rebuilds started {}, deferred {}",
          markedDown,
          fenced,
          moved.size(),
          takenBack.size(),
          recovered.size(),
          started.size(),
          deferred.size());
    }
    return new Pass(
        markedDown,
        started,
        deferred,
        unplaceable,
        moved,
        takenBack,
        recovered,
        lost,
        hold,
        respreads,
        fenced);
  }

  private void volumeLost(Allocation a) {
    LOG.error(
        "volume {} of namespace {} is LOST: no HEALTHY replica and no current replica on a live"
            + " node to recover it from (replicas: {})",
        a.getVolumeId(),
        a.getNamespace(),
        describe(a));
    observers.forEach(o -> o.volumeLost(a));
  }

  private static String describe(Allocation a) {
    List<String> out = new ArrayList<>();
    for (Replica r : a.getReplicasList()) {
      out.add(
          r.getNodeId()
              + "="
              + r.getState().name().replace("REPLICA_STATE_", "")
              + (r.getUnwantedReason().isEmpty() ? "" : " (" + r.getUnwantedReason() + ")"));
    }
    return String.join(", ", out);
  }

  /**
   * Marks nodes whose lease is gone as having lost it, and DOWN after the grace period counted from
   * the later of the loss and this leader's start plus the reconnect window, unless so many nodes
   * are silent that the failure is suspect. Returns the hold reason, or null.
   */
  private String updateNodeStates(Set<String> live, List<String> down, Set<String> held) {
    long now = clock.millis();
    long listeningSince = Math.max(actingSince + settings.reconnectWindow().toMillis(), lastHeldAt);
    List<NodeRecord> records = registry.list();
    List<String> due = new ArrayList<>();
    List<String> silent = new ArrayList<>();
    for (NodeRecord r : records) {
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
          if (r.getState() == NodeState.NODE_STATE_DOWN) {
            LOG.info("node {} is back (was DOWN)", id);
          }
        }
        continue;
      }
      if (r.getState() == NodeState.NODE_STATE_DOWN
          || r.getState() == NodeState.NODE_STATE_REMOVED) {
        continue;
      }
      silent.add(id);
      if (r.getLeaseLostAtUnixMs() == 0) {
        registry.update(
            id, cur -> cur == null ? null : cur.toBuilder().setLeaseLostAtUnixMs(now).build());
      } else if (now - Math.max(r.getLeaseLostAtUnixMs(), listeningSince)
          >= settings.downGracePeriod().toMillis()) {
        due.add(id);
      }
    }
    // A hold lasts while the silence stays suspect, also in passes where nobody is due (a held
    // pass restarts the grace of every silent node).
    String hold = due.isEmpty() && !heldLastPass ? null : suspect(records, live);
    heldLastPass = hold != null;
    if (hold == null) {
      for (String id : due) {
        registry.setState(id, NodeState.NODE_STATE_DOWN);
        down.add(id);
      }
    } else {
      held.addAll(silent);
      lastHeldAt = now;
    }
    recordHold(hold, silent, now);
    return hold;
  }

  /** Why silence of this many nodes is suspect, or null when it is not. */
  private String suspect(List<NodeRecord> records, Set<String> live) {
    int total = records.size();
    List<String> silent = new ArrayList<>();
    Map<String, int[]> domains = new TreeMap<>(); // top-level domain -> [nodes, silent]
    for (NodeRecord r : records) {
      boolean quiet = !live.contains(r.getNodeId());
      if (quiet) {
        silent.add(r.getNodeId());
      }
      int[] d = domains.computeIfAbsent(topDomain(r), k -> new int[2]);
      d[0]++;
      if (quiet) {
        d[1]++;
      }
    }
    if (total > 0 && silent.size() > settings.massFailureShare() * total) {
      return String.format(
          java.util.Locale.ROOT,
          "%d of %d nodes are silent at once (more than %.0f %%): suspected partition or"
              + " control-plane-side fault; no node is marked DOWN until fewer are silent, or an"
              + " operator removes the dead ones",
          silent.size(),
          total,
          settings.massFailureShare() * 100);
    }
    if (settings.holdWholeTopDomains() && domains.size() > 1) {
      for (Map.Entry<String, int[]> e : domains.entrySet()) {
        int[] d = e.getValue();
        if (d[0] > 1 && d[1] == d[0]) {
          return "every node of "
              + e.getKey()
              + " ("
              + d[0]
              + ") is silent at once: suspected partition of the whole domain; no node is marked"
              + " DOWN until part of it is back, or an operator removes the dead nodes";
        }
      }
    }
    return null;
  }

  private static String topDomain(NodeRecord r) {
    String path = r.getTopologyPath();
    int slash = path.indexOf('/');
    return slash < 0 ? path : path.substring(0, slash);
  }

  private void recordHold(String hold, List<String> silent, long now) {
    Versioned<ReplicationStatus> current =
        store.get(keys.replicationStatus(), ReplicationStatus.parser());
    ReplicationStatus before =
        current.exists() ? current.value() : ReplicationStatus.getDefaultInstance();
    String reason = hold == null ? "" : hold;
    List<String> nodes = hold == null ? List.of() : silent.stream().sorted().toList();
    if (before.getHoldReason().equals(reason) && before.getHeldNodesList().equals(nodes)) {
      return;
    }
    ReplicationStatus next =
        ReplicationStatus.newBuilder()
            .setSchemaVersion(1)
            .setHoldReason(reason)
            .addAllHeldNodes(nodes)
            .setHeldSinceUnixMs(
                hold == null
                    ? 0
                    : before.getHoldReason().isEmpty() ? now : before.getHeldSinceUnixMs())
            .build();
    if (!store.txn().requireUnchanged(current).put(keys.replicationStatus(), next).commit()) {
      return;
    }
    if (hold != null) {
      LOG.warn("node DOWN decisions held for {}: {}", nodes, hold);
    } else if (!before.getHoldReason().isEmpty()) {
      LOG.info("node DOWN decisions no longer held ({})", before.getHoldReason());
    }
    observers.forEach(o -> o.holdChanged(next));
  }

  /** Why a HEALTHY replica on {@code n} may not stay where it is, or null when it may. */
  private String ineligibility(Allocation a, Classification c, Replica r, NodeRecord n) {
    if (n.getState() == NodeState.NODE_STATE_QUARANTINED) {
      return "node quarantined";
    }
    if (!pools.contains(a.getPool(), n)) {
      return "node left pool " + a.getPool();
    }
    if (trust.known(r.getNodeId()) && !trust.trustOf(r.getNodeId()).tier().allows(c)) {
      return "node's tier " + trust.trustOf(r.getNodeId()).tier() + " does not allow " + c;
    }
    return null;
  }

  /**
   * The allocation with every replica that may no longer serve marked LOST or STALE (never the last
   * HEALTHY one for where it is), the primary moved off a replica that is not HEALTHY, and a volume
   * without a HEALTHY replica recovered from a current one on a live node.
   */
  private Allocation markUnwanted(
      Allocation a,
      Map<String, NodeRecord> nodes,
      Set<String> live,
      boolean handover,
      List<String> moved,
      List<String> recovered) {
    Classification c = ProtoMapping.fromProto(a.getClassification());
    Allocation.Builder b = a.toBuilder();
    boolean changed = false;
    Map<Integer, String> ineligible = new TreeMap<>();
    for (int i = 0; i < b.getReplicasCount(); i++) {
      Replica r = b.getReplicas(i);
      NodeRecord n = nodes.get(r.getNodeId());
      if (n == null
          || n.getState() == NodeState.NODE_STATE_DOWN
          || n.getState() == NodeState.NODE_STATE_REMOVED) {
        if (r.getState() != ReplicaState.REPLICA_STATE_LOST) {
          b.setReplicas(
              i,
              r.toBuilder()
                  .setState(ReplicaState.REPLICA_STATE_LOST)
                  .setCurrentWhenUnwanted(r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
                  .setUnwantedReason(
                      n == null || n.getState() == NodeState.NODE_STATE_REMOVED
                          ? "node removed"
                          : "node down"));
          changed = true;
        }
      } else if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
          && live.contains(r.getNodeId())) {
        // A silent node is judged by the liveness rules alone (grace, mass-failure hold): the trust
        // it loses for missed heartbeats while silent must not move its data behind their back.
        String why = ineligibility(a, c, r, n);
        if (why != null) {
          ineligible.put(i, why);
        }
      }
    }
    if (!ineligible.isEmpty()) {
      int healthy = healthy(b.build());
      if (ineligible.size() == healthy) {
        // Keep the last copy where it is until a replacement is verified: the primary, else the
        // most trusted.
        int keep =
            ineligible.keySet().stream()
                .max(
                    Comparator.comparing(
                            (Integer i) ->
                                b.getReplicas(i).getNodeId().equals(a.getPrimaryNodeId()))
                        .thenComparingDouble(
                            i -> trust.trustOf(b.getReplicas(i).getNodeId()).score()))
                .orElseThrow();
        ineligible.remove(keep);
      }
      for (Map.Entry<Integer, String> e : ineligible.entrySet()) {
        b.setReplicas(
            e.getKey(),
            b.getReplicas(e.getKey()).toBuilder()
                .setState(ReplicaState.REPLICA_STATE_STALE)
                .setCurrentWhenUnwanted(true)
                .setUnwantedReason(e.getValue()));
        changed = true;
      }
    }
    Replica primary = null;
    for (Replica r : b.getReplicasList()) {
      if (r.getNodeId().equals(b.getPrimaryNodeId())) {
        primary = r;
      }
    }
    if (primary != null
        && primary.getState() == ReplicaState.REPLICA_STATE_HEALTHY
        && handover
        && !live.contains(primary.getNodeId())
        && settled(nodes.get(primary.getNodeId()))) {
      // Handover: the primary's node is silent but not DOWN (a DOWN node's replica is LOST
      // above). Its replica stays a HEALTHY member; writes it misses from now on are reported by
      // the new primary and make it STALE, to be caught up when its node is back.
      String silent = primary.getNodeId();
      String next =
          newPrimary(
              b,
              live,
              r -> {
                NodeRecord n = nodes.get(r.getNodeId());
                return !r.getNodeId().equals(silent)
                    && live.contains(r.getNodeId())
                    && n != null
                    && n.getState() == NodeState.NODE_STATE_UP
                    && ineligibility(a, c, r, n) == null;
              });
      if (next != null) {
        moved.add(
            a.getVolumeId()
                + ": primary "
                + silent
                + " -> "
                + next
                + " (handover: "
                + silent
                + " is silent, its lease expired; its replica stays a member)");
        LOG.warn(
            "volume {}: primary {} is silent (lease expired, not DOWN): handed over to {}, in"
                + " sync, at epoch {}",
            a.getVolumeId(),
            silent,
            next,
            b.getEpoch() + 1);
        b.setPrimaryNodeId(next).setEpoch(b.getEpoch() + 1);
        changed = true;
      }
    } else if (primary == null
        || (primary.getState() != ReplicaState.REPLICA_STATE_HEALTHY
            && primary.getState() != ReplicaState.REPLICA_STATE_CREATING)) {
      // A primary whose replica is still being created is on its way, not unwanted: another
      // replica confirmed first does not take the role (and raise the epoch) of a new volume.
      String next = newPrimary(b, live, r -> true);
      if (next != null) {
        moved.add(
            a.getVolumeId() + ": primary " + b.getPrimaryNodeId() + " -> " + next + " (in sync)");
        b.setPrimaryNodeId(next).setEpoch(b.getEpoch() + 1);
        changed = true;
      } else {
        int from = recoverable(b, nodes, live);
        if (from >= 0) {
          Replica r = b.getReplicas(from);
          recovered.add(
              a.getVolumeId()
                  + ": recovered from "
                  + r.getNodeId()
                  + "'s replica, current when it was marked "
                  + r.getState().name().replace("REPLICA_STATE_", ""));
          LOG.warn(
              "volume {} had no HEALTHY replica: recovered from {}'s, which was current when"
                  + " marked ({}); the others catch up from it",
              a.getVolumeId(),
              r.getNodeId(),
              r.getUnwantedReason());
          b.setReplicas(
              from,
              r.toBuilder()
                  .setState(ReplicaState.REPLICA_STATE_HEALTHY)
                  .clearCurrentWhenUnwanted()
                  .clearUnwantedReason());
          b.setPrimaryNodeId(r.getNodeId()).setEpoch(b.getEpoch() + 1);
          changed = true;
        }
      }
    }
    if (!changed) {
      return a;
    }
    return b.setState(volumeState(b.build())).setUpdatedAtUnixMs(clock.millis()).build();
  }

  /**
   * Whether a silent node has been silent for the settle time: its lease lapse was seen at least
   * {@code handoverSettle} ago, and no pass since then found the silence suspect ({@link
   * ReplicationLoop} runs a pass when that time is up).
   */
  private boolean settled(NodeRecord n) {
    return n != null
        && n.getLeaseLostAtUnixMs() != 0
        && clock.millis() - Math.max(n.getLeaseLostAtUnixMs(), lastSuspectAt)
            >= settings.handoverSettle().toMillis();
  }

  /** The settings this manager decides with. */
  public Settings settings() {
    return settings;
  }

  /**
   * The HEALTHY replica among those {@code admissible} to make primary: on a live node first, then
   * the most trusted, then the smallest node id. Null when there is none.
   */
  private String newPrimary(
      Allocation.Builder b, Set<String> live, java.util.function.Predicate<Replica> admissible) {
    return b.getReplicasList().stream()
        .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
        .filter(admissible)
        .map(Replica::getNodeId)
        .max(
            Comparator.comparing((String id) -> live.contains(id))
                .thenComparingDouble(id -> trust.trustOf(id).score())
                .thenComparing(id -> id, Comparator.reverseOrder()))
        .orElse(null);
  }

  /**
   * The index of the replica to recover a volume without HEALTHY replicas from: one that was
   * current when it was marked, on a live node that is not DOWN or quarantined; the old primary's
   * first (it has every acknowledged write), then the most trusted. -1 when there is none.
   */
  private int recoverable(Allocation.Builder b, Map<String, NodeRecord> nodes, Set<String> live) {
    int best = -1;
    for (int i = 0; i < b.getReplicasCount(); i++) {
      Replica r = b.getReplicas(i);
      NodeRecord n = nodes.get(r.getNodeId());
      if (!r.getCurrentWhenUnwanted()
          || n == null
          || !live.contains(r.getNodeId())
          || n.getState() == NodeState.NODE_STATE_DOWN
          || n.getState() == NodeState.NODE_STATE_REMOVED
          || n.getState() == NodeState.NODE_STATE_QUARANTINED) {
        continue;
      }
      if (best < 0 || better(r, b.getReplicas(best), b.getPrimaryNodeId())) {
        best = i;
      }
    }
    return best;
  }

  private boolean better(Replica x, Replica y, String primary) {
    boolean xp = x.getNodeId().equals(primary);
    boolean yp = y.getNodeId().equals(primary);
    if (xp != yp) {
      return xp;
    }
    int t =
        Double.compare(trust.trustOf(x.getNodeId()).score(), trust.trustOf(y.getNodeId()).score());
    return t != 0 ? t > 0 : x.getNodeId().compareTo(y.getNodeId()) < 0;
  }

  /**
   * An unwanted replica whose node is live, UP and eligible for the volume again (trust known):
   * taken back by a delta catch-up instead of a copy to a new node. Null when there is none.
   */
  /**
   * How long after a STALE mark (missed writes, failed audit) a replica on a still-live node waits
   * before it is taken back or replaced: the handover's settle time (the node lease) and a second
   * for the lease's expiry to be seen; 0 when there is no settle time.
   */
  long settleWindowMillis() {
    long settle = settings.handoverSettle().toMillis();
    return settle == 0 ? 0 : settle + 1000;
  }

  /**
   * A replica marked STALE for missed writes or a failed audit less than {@link
   * #settleWindowMillis} ago whose node is still live, or null.
   */
  private Replica settling(Allocation a, Set<String> live) {
    long window = settleWindowMillis();
    if (window == 0) {
      return null;
    }
    long now = clock.millis();
    for (Replica r : a.getReplicasList()) {
      if (r.getState() == ReplicaState.REPLICA_STATE_STALE
          && !r.getCurrentWhenUnwanted()
          && r.getUnwantedAtUnixMs() > 0
          && now - r.getUnwantedAtUnixMs() < window
          && live.contains(r.getNodeId())) {
        return r;
      }
    }
    return null;
  }

  private Replica reinstatable(Allocation a, Map<String, NodeRecord> nodes, Set<String> live) {
    Classification c = ProtoMapping.fromProto(a.getClassification());
    for (Replica r : a.getReplicasList()) {
      if (r.getState() != ReplicaState.REPLICA_STATE_LOST
          && r.getState() != ReplicaState.REPLICA_STATE_STALE) {
        continue;
      }
      NodeRecord n = nodes.get(r.getNodeId());
      if (n == null
          || !live.contains(r.getNodeId())
          || n.getState() != NodeState.NODE_STATE_UP
          || !trust.known(r.getNodeId())
          || ineligibility(a, c, r, n) != null) {
        continue;
      }
      return r;
    }
    return null;
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

  /**
   * An unwanted replica left over although the volume has all its HEALTHY replicas and nothing is
   * being rebuilt (its replacement completed while it was being taken back, or two were replaced by
   * one completion), or null.
   */
  private static Replica surplus(Allocation a) {
    if (healthy(a) < a.getReplicaCount()) {
      return null;
    }
    Replica out = null;
    for (Replica r : a.getReplicasList()) {
      switch (r.getState()) {
        case REPLICA_STATE_HEALTHY -> {}
        case REPLICA_STATE_LOST, REPLICA_STATE_STALE -> out = out == null ? r : out;
        default -> {
          return null; // a rebuild or create is under way: completeRebuild retires
        }
      }
    }
    return out;
  }

  /** Retires the surplus unwanted replicas of a fully healthy volume, one transaction each. */
  private void retireSurplus(Versioned<Allocation> v) {
    for (int attempt = 0; attempt < 8; attempt++) {
      Replica old = surplus(v.value());
      if (old == null) {
        return;
      }
      Allocation.Builder b = v.value().toBuilder();
      b.removeReplicas(b.getReplicasList().indexOf(old));
      long now = clock.millis();
      Txn txn = store.txn().requireUnchanged(v);
      boolean stillHolds =
          b.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(old.getNodeId()));
      if (!stillHolds) {
        Versioned<NodeUsage> u = store.get(keys.nodeUsage(old.getNodeId()), NodeUsage.parser());
        txn.requireUnchanged(u)
            .put(
                keys.nodeUsage(old.getNodeId()),
                TrustAwareStorageManager.addUsage(
                    old.getNodeId(), u.value(), -v.value().getSizeBytes(), -1));
      }
      b.setEpoch(v.value().getEpoch() + 1).setUpdatedAtUnixMs(now);
      Allocation updated = b.setState(volumeState(b.build())).build();
      queue
          .batch()
          .add(
              old.getNodeId(),
              TrustAwareStorageManager.deleteCommand(
                  updated, old.getNodeId(), "surplus: the volume has all its replicas", now))
          .stage(txn);
      txn.put(v.key(), updated);
      if (!txn.commit()) {
        return; // the next pass retries
      }
      LOG.info("retired the surplus replica of {} on {}", updated.getVolumeId(), old.getNodeId());
      v = store.get(v.key(), Allocation.parser());
      if (!v.exists()) {
        return;
      }
    }
  }

  /**
   * Moves one replica of a fully healthy volume whose replicas share a top-level domain (a region)
   * to a domain it does not use, when the placement now finds an eligible node there (the domain
   * regained eligible nodes, or an earlier placement had no better choice): the replica becomes
   * STALE ("re-spread") and a replacement is rebuilt in the new domain, retired by the rebuild's
   * completion as any unwanted replica. Only for the spread-seeking strategies, within the rebuild
   * limits. Returns what it started, or null.
   */
  private String respread(
      Versioned<Allocation> v,
      Map<String, NodeRecord> nodes,
      Set<String> live,
      Map<String, Integer> perNode,
      Map<String, Integer> perPool) {
    Allocation a = v.value();
    if (a.getStrategy()
            != io.mycnet.storage.api.v1.ReplicationStrategy.REPLICATION_STRATEGY_HIERARCHY_AWARE
        && a.getStrategy()
            != io.mycnet.storage.api.v1.ReplicationStrategy
                .REPLICATION_STRATEGY_GEOGRAPHIC_DISTRIBUTION) {
      return null;
    }
    if (a.getState() != VolumeState.VOLUME_STATE_BOUND
        || a.getReplicasList().stream()
            .anyMatch(
                r ->
                    r.getState() != ReplicaState.REPLICA_STATE_HEALTHY
                        || !live.contains(r.getNodeId())
                        || !nodes.containsKey(r.getNodeId()))) {
      return null;
    }
    Map<String, List<Replica>> byDomain = new TreeMap<>();
    for (Replica r : a.getReplicasList()) {
      byDomain.computeIfAbsent(topDomain(nodes.get(r.getNodeId())), k -> new ArrayList<>()).add(r);
    }
    if (byDomain.size() >= a.getReplicasCount()) {
      return null;
    }
    // Keep one replica per domain (the primary where it is, else the most trusted); the others
    // are candidates to move.
    List<String> keep = new ArrayList<>();
    List<Replica> movable = new ArrayList<>();
    for (List<Replica> inDomain : byDomain.values()) {
      Replica stay =
          inDomain.stream()
              .max(
                  Comparator.comparing((Replica r) -> r.getNodeId().equals(a.getPrimaryNodeId()))
                      .thenComparingDouble(r -> trust.trustOf(r.getNodeId()).score()))
              .orElseThrow();
      keep.add(stay.getNodeId());
      inDomain.stream().filter(r -> r != stay).forEach(movable::add);
    }
    Set<String> excluded = new HashSet<>();
    movable.forEach(r -> excluded.add(r.getNodeId()));
    double overcommit = overcommitOfPool.applyAsDouble(a.getPool());
    ReplicaPlacer.Outcome outcome =
        placer.place(ReplicaPlacer.Query.oneMore(a, overcommit, keep, excluded), cluster.nodes());
    if (!outcome.placed()) {
      return null;
    }
    String target = outcome.nodeIds().get(0);
    NodeRecord targetRecord = nodes.get(target);
    if (targetRecord == null || byDomain.containsKey(topDomain(targetRecord))) {
      return null; // no domain the volume does not use has an eligible node
    }
    int perNodeLimit = pools.maxRebuildsPerNode(a.getPool());
    Replica source = source(a, perNode, perNodeLimit);
    if (source == null
        || perNode.getOrDefault(target, 0) >= perNodeLimit
        || perPool.getOrDefault(a.getPool(), 0) >= pools.maxRebuildsPerPool(a.getPool())) {
      return null; // waits for a pass with free rebuild slots
    }
    Replica victim =
        movable.stream()
            .min(
                Comparator.comparing((Replica r) -> r.getNodeId().equals(a.getPrimaryNodeId()))
                    .thenComparingDouble(r -> trust.trustOf(r.getNodeId()).score()))
            .orElseThrow();
    Versioned<NodeUsage> usage = store.get(keys.nodeUsage(target), NodeUsage.parser());
    long reserved = usage.exists() ? usage.value().getReservedBytes() : 0;
    if (reserved + a.getSizeBytes() > (long) (targetRecord.getCapacityBytes() * overcommit)) {
      return null;
    }
    long epoch = a.getEpoch() + 1;
    Allocation.Builder next = a.toBuilder().setEpoch(epoch).setUpdatedAtUnixMs(clock.millis());
    int vi = a.getReplicasList().indexOf(victim);
    next.setReplicas(
        vi,
        victim.toBuilder()
            .setState(ReplicaState.REPLICA_STATE_STALE)
            .setCurrentWhenUnwanted(true)
            .setUnwantedReason("re-spread to " + topDomain(targetRecord)));
    if (victim.getNodeId().equals(a.getPrimaryNodeId())) {
      next.setPrimaryNodeId(source.getNodeId());
    }
    if (!commitCopy(v, next, targetRecord, source, usage, nodes, perNode, perPool)) {
      return null;
    }
    String what =
        "re-spread: "
            + victim.getNodeId()
            + "'s replica moves to "
            + target
            + " in "
            + topDomain(targetRecord)
            + ", a domain the volume did not use, copied from "
            + source.getNodeId();
    LOG.info("{}: {}", a.getVolumeId(), what);
    return what;
  }

  /** What a volume whose repair cannot start says about it, with what would help. */
  private static String repairNote(Allocation a, String result) {
    if (result.startsWith("deferred")) {
      return "repair waits: "
          + result.substring("deferred: ".length())
          + "; it starts when a rebuild slot frees up";
    }
    if (result.startsWith("no healthy replica")) {
      return "no repair possible: no HEALTHY replica to copy from; it starts when a node holding"
          + " a current replica comes back";
    }
    return "no repair possible: "
        + result
        + "; add nodes that the volume's classification ("
        + a.getClassification().name().replace("CLASSIFICATION_", "")
        + ") and pool "
        + a.getPool()
        + " admit in a failure domain the volume does not use yet";
  }

  /** Writes each allocation's repair note where it changed (cleared once no longer true). */
  private void updateRepairNotes(
      java.util.Collection<Versioned<Allocation>> all,
      Map<String, String> notes,
      Set<String> held,
      String hold) {
    for (Versioned<Allocation> v : all) {
      if (v == null || !v.exists()) {
        continue;
      }
      Allocation a = v.value();
      String note = notes.getOrDefault(a.getVolumeId(), "");
      if (hold != null
          && a.getReplicasList().stream().anyMatch(r -> held.contains(r.getNodeId()))) {
        note = "replication paused: " + hold;
      }
      if (note.equals(a.getRepairNote())) {
        continue;
      }
      store
          .txn()
          .requireUnchanged(v)
          .put(v.key(), a.toBuilder().setRepairNote(note).build())
          .commit(); // lost race: the next pass writes it
    }
  }

  public static VolumeState volumeState(Allocation a) {
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

  /** The healthy replica to copy from: the most trusted whose node can take another rebuild. */
  private Replica source(Allocation a, Map<String, Integer> perNode, int perNodeLimit) {
    return a.getReplicasList().stream()
        .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
        .filter(r -> perNode.getOrDefault(r.getNodeId(), 0) < perNodeLimit)
        .max(
            Comparator.comparingDouble((Replica r) -> trust.trustOf(r.getNodeId()).score())
                .thenComparing(Replica::getNodeId, Comparator.reverseOrder()))
        .orElse(null);
  }

  /** Takes an unwanted replica back on its own node: REBUILDING from a source, delta copy. */
  private String startCatchUp(
      Versioned<Allocation> current,
      Allocation a,
      Replica back,
      Map<String, NodeRecord> nodes,
      Map<String, Integer> perNode,
      Map<String, Integer> perPool) {
    if (healthy(a) == 0) {
      return "no healthy replica left to copy from";
    }
    int perNodeLimit = pools.maxRebuildsPerNode(a.getPool());
    if (perPool.getOrDefault(a.getPool(), 0) >= pools.maxRebuildsPerPool(a.getPool())) {
      return "deferred: pool " + a.getPool() + " has its maximum of rebuilds under way";
    }
    if (perNode.getOrDefault(back.getNodeId(), 0) >= perNodeLimit) {
      return "deferred: node " + back.getNodeId() + " has its maximum of rebuilds under way";
    }
    Replica source = source(a, perNode, perNodeLimit);
    if (source == null) {
      return "deferred: every healthy replica's node has its maximum of rebuilds under way";
    }
    long epoch = a.getEpoch() + 1;
    Allocation.Builder next = a.toBuilder().setEpoch(epoch).setUpdatedAtUnixMs(clock.millis());
    int idx = a.getReplicasList().indexOf(back);
    NodeRecord node = nodes.get(back.getNodeId());
    next.setReplicas(
        idx,
        back.toBuilder()
            .setState(ReplicaState.REPLICA_STATE_REBUILDING)
            .setEpoch(epoch)
            .setTopologyPath(node.getTopologyPath())
            .setSourceNodeId(source.getNodeId())
            .clearCurrentWhenUnwanted()
            .clearUnwantedReason());
    Allocation updated = next.setState(volumeState(next.build())).build();
    Txn txn = store.txn().requireUnchanged(current).put(current.key(), updated);
    queue
        .batch()
        .add(back.getNodeId(), rebuildCommand(updated, back.getNodeId(), source, nodes))
        .stage(txn);
    if (!txn.commit()) {
      return "deferred: the volume changed meanwhile";
    }
    perNode.merge(back.getNodeId(), 1, Integer::sum);
    perNode.merge(source.getNodeId(), 1, Integer::sum);
    perPool.merge(a.getPool(), 1, Integer::sum);
    LOG.info(
        "taking back {}'s {} replica of {} (was {}): catching up from {}",
        back.getNodeId(),
        back.getState().name().replace("REPLICA_STATE_", ""),
        a.getVolumeId(),
        back.getUnwantedReason(),
        source.getNodeId());
    return "taking back " + back.getNodeId() + "'s replica, catching up from " + source.getNodeId();
  }

  private NodeCommand rebuildCommand(
      Allocation updated, String target, Replica source, Map<String, NodeRecord> nodes) {
    NodeRecord sourceRecord = nodes.get(source.getNodeId());
    return NodeCommand.newBuilder()
        .setCommandId(TrustAwareStorageManager.commandId("rebuild", updated, target))
        .setIssuedAtUnixMs(clock.millis())
        .setRebuildReplica(
            RebuildReplica.newBuilder()
                .setVolumeId(updated.getVolumeId())
                .setEpoch(updated.getEpoch())
                .setSizeBytes(updated.getSizeBytes())
                .setSourceNodeId(source.getNodeId())
                .setSourceAddress(sourceRecord == null ? "" : sourceRecord.getAddress())
                .setClassification(updated.getClassification())
                .setPriority(healthy(updated))
                .setCapacityLimitBytes(
                    TrustAwareStorageManager.capacityLimit(
                        nodes.get(target), overcommitOfPool.applyAsDouble(updated.getPool()))))
        .build();
  }

  /**
   * Adds a REBUILDING replica on {@code target} copied from {@code source} to {@code next} (the
   * volume at its new epoch), reserves its bytes on the target and queues the rebuild, in one
   * transaction guarded by the volume and the target's usage. Counts it against the throttle.
   *
   * @return false when the volume or the usage changed meanwhile (nothing written)
   */
  private boolean commitCopy(
      Versioned<Allocation> current,
      Allocation.Builder next,
      NodeRecord target,
      Replica source,
      Versioned<NodeUsage> usage,
      Map<String, NodeRecord> nodes,
      Map<String, Integer> perNode,
      Map<String, Integer> perPool) {
    String id = target.getNodeId();
    next.addReplicas(
        Replica.newBuilder()
            .setNodeId(id)
            .setState(ReplicaState.REPLICA_STATE_REBUILDING)
            .setEpoch(next.getEpoch())
            .setTopologyPath(target.getTopologyPath())
            .setSourceNodeId(source.getNodeId()));
    Allocation updated = next.setState(volumeState(next.build())).build();
    Txn txn =
        store
            .txn()
            .requireUnchanged(current)
            .requireUnchanged(usage)
            .put(current.key(), updated)
            .put(
                keys.nodeUsage(id),
                TrustAwareStorageManager.addUsage(id, usage.value(), updated.getSizeBytes(), 1));
    queue.batch().add(id, rebuildCommand(updated, id, source, nodes)).stage(txn);
    if (!txn.commit()) {
      return false;
    }
    perNode.merge(id, 1, Integer::sum);
    perNode.merge(source.getNodeId(), 1, Integer::sum);
    perPool.merge(updated.getPool(), 1, Integer::sum);
    return true;
  }

  private String startRebuild(
      Versioned<Allocation> current,
      Allocation a,
      Replica lost,
      Map<String, NodeRecord> nodes,
      Map<String, Integer> perNode,
      Map<String, Integer> perPool) {
    if (healthy(a) == 0) {
      return "no healthy replica left to copy from";
    }
    int perNodeLimit = pools.maxRebuildsPerNode(a.getPool());
    if (perPool.getOrDefault(a.getPool(), 0) >= pools.maxRebuildsPerPool(a.getPool())) {
      return "deferred: pool " + a.getPool() + " has its maximum of rebuilds under way";
    }
    Replica source = source(a, perNode, perNodeLimit);
    if (source == null) {
      return "deferred: every healthy replica's node has its maximum of rebuilds under way";
    }
    Set<String> excluded = new HashSet<>();
    for (Replica r : a.getReplicasList()) {
      excluded.add(r.getNodeId());
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
        placer.place(ReplicaPlacer.Query.oneMore(a, overcommit, keep, excluded), cluster.nodes());
    if (!outcome.placed()) {
      return "no replacement node: " + outcome.explanation();
    }
    String target = outcome.nodeIds().get(0);
    // Throttling defers: the best-spread target at its limit waits; no worse target is taken.
    if (perNode.getOrDefault(target, 0) >= perNodeLimit) {
      return "deferred: replacement node " + target + " has its maximum of rebuilds under way";
    }
    NodeRecord targetRecord = nodes.get(target);
    Versioned<NodeUsage> usage = store.get(keys.nodeUsage(target), NodeUsage.parser());
    long reserved = usage.exists() ? usage.value().getReservedBytes() : 0;
    if (targetRecord == null
        || reserved + a.getSizeBytes() > (long) (targetRecord.getCapacityBytes() * overcommit)) {
      return "deferred: replacement node " + target + " filled up meanwhile";
    }
    long epoch = a.getEpoch() + 1;
    Allocation.Builder next = a.toBuilder().setEpoch(epoch).setUpdatedAtUnixMs(clock.millis());
    if (!commitCopy(current, next, targetRecord, source, usage, nodes, perNode, perPool)) {
      return "deferred: the volume changed meanwhile";
    }
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
              .clearSourceNodeId()
              .clearCurrentWhenUnwanted()
              .clearUnwantedReason());
      Txn txn = store.txn().requireUnchanged(current);
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
      b.setState(volumeState(b.build()));
      if (b.getState() == VolumeState.VOLUME_STATE_BOUND) {
        b.clearRepairNote();
      }
      Allocation updated = b.build();
      txn.put(current.key(), updated);
      if (txn.commit()) {
        observers.forEach(o -> o.rebuildCompleted(volumeId, nodeId));
        return true;
      }
    }
    throw new StoreUnavailableException(
        "completing the rebuild of " + volumeId + " kept conflicting", null);
  }

  /** The volume's allocation as stored now; empty when there is no such volume. */
  public java.util.Optional<Allocation> allocation(String volumeId) {
    Versioned<Allocation> v = store.get(keys.allocation(volumeId), Allocation.parser());
    return v.exists() ? java.util.Optional.of(v.value()) : java.util.Optional.empty();
  }

  /**
   * A replica failed an integrity audit, or its primary reports that it missed writes: it is marked
   * STALE and not current, so the next pass replaces it (or takes it back by a delta catch-up). The
   * volume's last HEALTHY replica stays HEALTHY (it is still the best copy there is; marking it
   * would only write the volume off): the fault is logged.
   */
  public boolean replicaFailedAudit(String volumeId, String nodeId) {
    for (int attempt = 0; attempt < 64; attempt++) {
      Versioned<Allocation> current = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!current.exists()) {
        return false;
      }
      Allocation a = current.value();
      Allocation.Builder b = a.toBuilder();
      boolean changed = false;
      for (int i = 0; i < b.getReplicasCount(); i++) {
        Replica r = b.getReplicas(i);
        if (!r.getNodeId().equals(nodeId)) {
          continue;
        }
        if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
          if (healthy(a) == 1) {
            LOG.error(
                "the replica of {} on {} is reported faulty or behind but is the volume's last"
                    + " HEALTHY replica: kept",
                volumeId,
                nodeId);
            return false;
          }
          b.setReplicas(
              i,
              r.toBuilder()
                  .setState(ReplicaState.REPLICA_STATE_STALE)
                  .setCurrentWhenUnwanted(false)
                  .setUnwantedReason("failed an audit or missed writes")
                  .setUnwantedAtUnixMs(clock.millis()));
          changed = true;
        } else if (r.getCurrentWhenUnwanted()) {
          b.setReplicas(i, r.toBuilder().setCurrentWhenUnwanted(false));
          changed = true;
        }
      }
      if (!changed) {
        return false;
      }
      Allocation updated = b.setState(volumeState(b.build())).build();
      if (store.txn().requireUnchanged(current).put(current.key(), updated).commit()) {
        observers.forEach(o -> o.replicaMarkedStale(volumeId, nodeId));
        return true;
      }
    }
    throw new StoreUnavailableException("marking " + volumeId + " stale kept conflicting", null);
  }
}
