package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.NodeState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Plans re-replication after an event, and dry runs of a changed view or policy. Pure: it reads
 * allocations and a {@link ClusterView} and returns plans; it moves nothing.
 *
 * <p>For every replica the event affects, the replacement node comes from the same {@link
 * PlacementPlanner} as new volumes, keeping the volume's remaining replicas (so their failure
 * domains stay used) and excluding the affected node. Because placement is a laminar-matroid greedy
 * in draw order, when the remaining replicas are those the placement chose, the replacement is
 * exactly what placing the volume afresh without the lost node would give.
 *
 * <p>Rebuilds are ordered by {@link RebuildPriority} (then volume id), assigned a source and
 * admitted under {@link RebuildLimits} in that order; a rebuild that would exceed a node's or a
 * pool's limit is deferred, and its target's space is not reserved. Admitted rebuilds reserve their
 * bytes on the target, so that later rebuilds in the same plan see the space as used.
 */
public final class ReplicationPlanner {
  private final PlacementPlanner placement;
  private final Function<String, PoolPolicy> pools;
  private final Duration nodeMttf;

  /** Default pool rules for every pool and a 30-day MTTF for a fully trusted node. */
  public ReplicationPlanner() {
    this(new PlacementPlanner(), PoolPolicy::defaults, Duration.ofDays(30));
  }

  /**
   * @param placement the placement function
   * @param pools the rules of each pool by name (called with null for volumes without a pool)
   * @param nodeMttf mean time to failure of a node with trust score 1.0, for time-to-loss
   */
  public ReplicationPlanner(
      PlacementPlanner placement, Function<String, PoolPolicy> pools, Duration nodeMttf) {
    this.placement = Objects.requireNonNull(placement, "placement");
    this.pools = Objects.requireNonNull(pools, "pools");
    if (nodeMttf == null || nodeMttf.isNegative() || nodeMttf.isZero()) {
      throw new IllegalArgumentException("nodeMttf must be positive, got " + nodeMttf);
    }
    this.nodeMttf = nodeMttf;
  }

  private record Affected(
      Allocation allocation,
      Replica replaced,
      List<Replica> remaining,
      List<String> sources,
      RebuildPriority priority) {}

  /**
   * The rebuilds {@code event} calls for.
   *
   * @param event what happened
   * @param allocations current allocations (all, or at least those with a replica on the node)
   * @param view the cluster as it is now (the affected node may be DOWN, QUARANTINED, or in its new
   *     tier; it is excluded as a target regardless)
   * @param limits throttling
   */
  public ReplicationPlan plan(
      ReplicationEvent event,
      Collection<Allocation> allocations,
      ClusterView view,
      RebuildLimits limits) {
    Objects.requireNonNull(event, "event");
    Objects.requireNonNull(view, "view");
    Objects.requireNonNull(limits, "limits");
    List<Affected> affected = new ArrayList<>();
    for (Allocation a : allocations) {
      Replica hit = affectedReplica(event, a);
      if (hit != null) {
        affected.add(describe(event, a, hit, view));
      }
    }
    affected.sort(
        Comparator.comparing(Affected::priority).thenComparing(x -> x.allocation().volumeId()));

    Map<String, Integer> perNode = new HashMap<>(limits.activePerNode());
    Map<String, Integer> perPool = new HashMap<>(limits.activePerPool());
    long[] reserved = new long[view.nodes().size()];
    List<RebuildTask> scheduled = new ArrayList<>();
    List<DeferredRebuild> deferred = new ArrayList<>();
    List<UnplaceableRebuild> unplaceable = new ArrayList<>();
    String reason = event.describe();
    for (Affected x : affected) {
      Allocation a = x.allocation();
      if (x.sources().isEmpty()) {
        unplaceable.add(
            new UnplaceableRebuild(
                a.volumeId(),
                x.replaced().nodeId(),
                x.priority(),
                "no healthy replica left to copy from",
                null));
        continue;
      }
      List<String> keep = x.remaining().stream().map(Replica::nodeId).toList();
      PlacementRequest request =
          pools
              .apply(a.pool())
              .requestFor(a)
              .replicas(Math.min(PlacementRequest.MAX_REPLICAS, keep.size() + 1))
              .keepReplicas(keep)
              .excludeNodes(Set.of(x.replaced().nodeId()))
              .build();
      PlacementResult placed = placement.place(request, view, reserved);
      if (!placed.placed()) {
        unplaceable.add(
            new UnplaceableRebuild(
                a.volumeId(),
                x.replaced().nodeId(),
                x.priority(),
                placed.failure().message(),
                placed.failure()));
        continue;
      }
      String target = placed.added().get(0);
      List<String> sources = orderSources(x.sources(), target, view);
      String pool = a.pool() == null ? RebuildLimits.NO_POOL : a.pool();
      String limit = null;
      String source = null;
      if (perNode.getOrDefault(target, 0) >= limits.maxPerNode()) {
        limit = "target node " + target + " at its limit of " + limits.maxPerNode() + " rebuilds";
      } else if (perPool.getOrDefault(pool, 0) >= limits.maxPerPool()) {
        limit = "pool " + pool + " at its limit of " + limits.maxPerPool() + " rebuilds";
      } else {
        for (String s : sources) {
          if (perNode.getOrDefault(s, 0) < limits.maxPerNode()) {
            source = s;
            break;
          }
        }
        if (source == null) {
          limit =
              "every source node ("
                  + String.join(", ", sources)
                  + ") at its limit of "
                  + limits.maxPerNode()
                  + " rebuilds";
        }
      }
      RebuildTask task =
          new RebuildTask(
              a.volumeId(),
              a.pool(),
              a.sizeBytes(),
              x.replaced().nodeId(),
              target,
              source != null ? source : sources.get(0),
              x.priority(),
              reason);
      if (limit != null) {
        deferred.add(new DeferredRebuild(task, limit));
        continue;
      }
      perNode.merge(target, 1, Integer::sum);
      perNode.merge(source, 1, Integer::sum);
      perPool.merge(pool, 1, Integer::sum);
      reserved[view.indexOf(target)] += a.sizeBytes();
      scheduled.add(task);
    }
    return new ReplicationPlan(reason, scheduled, deferred, unplaceable);
  }

  /** The replica of {@code a} that {@code event} forces out, or null. */
  static Replica affectedReplica(ReplicationEvent event, Allocation a) {
    Replica r = a.replicaOn(event.nodeId());
    if (r == null) {
      return null;
    }
    if (event instanceof ReplicationEvent.TierDropped drop) {
      return drop.from().allows(a.classification()) && !drop.to().allows(a.classification())
          ? r
          : null;
    }
    if (event instanceof ReplicationEvent.AuditFailed audit) {
      return audit.volumeId().equals(a.volumeId()) ? r : null;
    }
    return r;
  }

  private Affected describe(ReplicationEvent event, Allocation a, Replica hit, ClusterView view) {
    List<Replica> remaining = new ArrayList<>();
    List<String> healthy = new ArrayList<>();
    for (Replica r : a.replicas()) {
      if (r == hit || !view.contains(r.nodeId())) {
        continue;
      }
      remaining.add(r);
      if (isReadable(r, view)) {
        healthy.add(r.nodeId());
      }
    }
    List<String> sources = new ArrayList<>(healthy);
    if (event instanceof ReplicationEvent.TierDropped && view.contains(hit.nodeId())) {
      if (isReadable(hit, view)) {
        sources.add(hit.nodeId()); // last resort: still healthy, just less trusted
      }
    }
    double minTrust = Double.POSITIVE_INFINITY;
    List<Double> scores = new ArrayList<>();
    for (String s : sources) {
      double score = view.node(s).orElseThrow().trustScore();
      scores.add(score);
      minTrust = Math.min(minTrust, score);
    }
    RebuildPriority priority =
        new RebuildPriority(
            sources.size(),
            a.classification(),
            sources.isEmpty() ? 0 : minTrust,
            timeToLoss(scores));
    return new Affected(a, hit, remaining, sources, priority);
  }

  private static boolean isReadable(Replica r, ClusterView view) {
    if (r.state() != ReplicaState.HEALTHY) {
      return false;
    }
    NodeState s = view.node(r.nodeId()).map(NodeView::state).orElse(NodeState.DOWN);
    return s == NodeState.UP || s == NodeState.DRAINING;
  }

  /** Sources ordered: higher tier, then nearer the target (shared levels), then higher score. */
  private static List<String> orderSources(List<String> sources, String target, ClusterView view) {
    int t = view.indexOf(target);
    List<String> out = new ArrayList<>(new LinkedHashSet<>(sources));
    out.sort(
        Comparator.<String>comparingInt(s -> view.node(s).orElseThrow().trustTier().ordinal())
            .thenComparing(s -> -view.sharedDepth(view.indexOf(s), t))
            .thenComparing(s -> -view.node(s).orElseThrow().trustScore())
            .thenComparing(s -> s));
    return out;
  }

  /**
   * Expected time until all of {@code scores}' nodes have failed, nodes failing independently at
   * rate {@code 1 / (mttf * max(score, 0.05))}: E[max] by inclusion-exclusion.
   */
  Duration timeToLoss(List<Double> scores) {
    int h = scores.size();
    if (h == 0) {
      return Duration.ZERO;
    }
    double mttfSeconds = nodeMttf.toSeconds();
    double[] rate = new double[h];
    for (int i = 0; i < h; i++) {
      rate[i] = 1.0 / (mttfSeconds * Math.max(scores.get(i), 0.05));
    }
    double expected = 0;
    for (int mask = 1; mask < (1 << Math.min(h, 16)); mask++) {
      double sum = 0;
      for (int i = 0; i < h; i++) {
        if ((mask & (1 << i)) != 0) {
          sum += rate[i];
        }
      }
      expected += (Integer.bitCount(mask) % 2 == 1 ? 1 : -1) / sum;
    }
    return Duration.ofSeconds(Math.round(expected));
  }

  // ---------------------------------------------------------------------------------------------
  // Dry run.

  /**
   * What placing every allocation afresh on {@code newView}, under each pool's rules, would move.
   */
  public MovementReport dryRun(Collection<Allocation> allocations, ClusterView newView) {
    return dryRun(allocations, newView, a -> pools.apply(a.pool()).requestFor(a).build());
  }

  /**
   * What placing every allocation afresh on {@code newView}, with the request {@code policy} maps
   * it to (a changed strategy, pool rule or replica count), would move. Nothing is moved.
   */
  public MovementReport dryRun(
      Collection<Allocation> allocations,
      ClusterView newView,
      Function<Allocation, PlacementRequest> policy) {
    int changed = 0;
    long added = 0;
    long removed = 0;
    long bytes = 0;
    Map<String, Long> in = new TreeMap<>();
    Map<String, Long> out = new TreeMap<>();
    List<MovementReport.VolumeMove> moves = new ArrayList<>();
    Map<String, String> unplaceable = new TreeMap<>();
    for (Allocation a : allocations) {
      PlacementResult r = placement.place(policy.apply(a), newView);
      if (!r.placed()) {
        unplaceable.put(a.volumeId(), r.failure().message());
        continue;
      }
      Set<String> current = new LinkedHashSet<>();
      a.replicas().forEach(x -> current.add(x.nodeId()));
      List<String> from = new ArrayList<>();
      for (String n : current) {
        if (!r.replicas().contains(n)) {
          from.add(n);
        }
      }
      List<String> to = new ArrayList<>();
      for (String n : r.replicas()) {
        if (!current.contains(n)) {
          to.add(n);
        }
      }
      if (from.isEmpty() && to.isEmpty()) {
        continue;
      }
      changed++;
      added += to.size();
      removed += from.size();
      bytes += to.size() * a.sizeBytes();
      to.forEach(n -> in.merge(n, a.sizeBytes(), Long::sum));
      from.forEach(n -> out.merge(n, a.sizeBytes(), Long::sum));
      moves.add(new MovementReport.VolumeMove(a.volumeId(), from, to, to.size() * a.sizeBytes()));
    }
    return new MovementReport(
        allocations.size(), changed, added, removed, bytes, in, out, moves, unplaceable);
  }
}
