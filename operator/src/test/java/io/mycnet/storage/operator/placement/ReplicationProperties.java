package io.mycnet.storage.operator.placement;

import static io.mycnet.storage.operator.placement.Clusters.GIB;
import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** Properties of re-replication planning over seeded random clusters and allocations. */
class ReplicationProperties {
  private final PlacementPlanner placement = new PlacementPlanner();
  private final ReplicationPlanner planner = new ReplicationPlanner();

  private List<Allocation> allocations(ClusterView view, Random rnd, int count) {
    List<Allocation> out = new ArrayList<>();
    Classification[] cs = {
      Classification.SENSITIVE,
      Classification.STANDARD,
      Classification.PUBLIC,
      Classification.CRITICAL
    };
    for (int i = 0; i < count; i++) {
      Classification c = cs[rnd.nextInt(cs.length)];
      int replicas = 1 + rnd.nextInt(3);
      String pool = rnd.nextBoolean() ? "p0" : null;
      PlacementResult r =
          placement.place(
              PlacementRequest.builder("vol-" + i)
                  .sizeBytes((1 + rnd.nextInt(20)) * GIB)
                  .replicas(replicas)
                  .classification(c)
                  .pool(pool)
                  .build(),
              view);
      if (!r.placed()) {
        continue;
      }
      List<Replica> replicas2 = new ArrayList<>();
      for (String n : r.replicas()) {
        ReplicaState s =
            rnd.nextInt(6) == 0 ? ReplicaState.values()[rnd.nextInt(4)] : ReplicaState.HEALTHY;
        replicas2.add(new Replica(n, s));
      }
      out.add(
          new Allocation(
              "vol-" + i,
              c,
              (1 + rnd.nextInt(20)) * GIB,
              ReplicationStrategy.HIERARCHY_AWARE,
              pool,
              replicas,
              replicas2));
    }
    return out;
  }

  @Property(tries = 80, seed = "404")
  void throttlingNeverExceedsTheLimitsAndAccountsForEveryReplica(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 3) int perNode,
      @ForAll @IntRange(min = 1, max = 8) int perPool) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.stable(rnd);
    ClusterView before = Clusters.view(nodes);
    List<Allocation> allocations = allocations(before, rnd, 150);
    NodeView victim = nodes.get(rnd.nextInt(nodes.size()));
    ClusterView after = before.withNode(victim.withState(NodeState.DOWN));
    Map<String, Integer> active = new HashMap<>();
    for (int i = 0; i < 3; i++) {
      active.put(nodes.get(rnd.nextInt(nodes.size())).id(), rnd.nextInt(perNode + 1));
    }
    RebuildLimits limits = new RebuildLimits(perNode, perPool, active, Map.of("p0", 1));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.NodeLost(victim.id()), allocations, after, limits);

    long affected = allocations.stream().filter(a -> a.replicaOn(victim.id()) != null).count();
    assertThat(plan.affected()).isEqualTo((int) affected);
    Map<String, Integer> perNodeUse = new HashMap<>();
    Map<String, Integer> perPoolUse = new HashMap<>();
    for (RebuildTask t : plan.scheduled()) {
      perNodeUse.merge(t.sourceNode(), 1, Integer::sum);
      perNodeUse.merge(t.targetNode(), 1, Integer::sum);
      perPoolUse.merge(t.pool() == null ? RebuildLimits.NO_POOL : t.pool(), 1, Integer::sum);
      assertThat(t.targetNode()).isNotEqualTo(victim.id());
      assertThat(t.sourceNode()).isNotEqualTo(victim.id());
      NodeView target = after.node(t.targetNode()).orElseThrow();
      assertThat(target.state()).isEqualTo(NodeState.UP);
    }
    perNodeUse.forEach(
        (n, used) ->
            assertThat(used + active.getOrDefault(n, 0))
                .as("rebuilds touching %s", n)
                .isLessThanOrEqualTo(Math.max(perNode, active.getOrDefault(n, 0))));
    perNodeUse.forEach((n, used) -> assertThat(active.getOrDefault(n, 0)).isLessThan(perNode));
    perPoolUse.forEach(
        (p, used) ->
            assertThat(used + (p.equals("p0") ? 1 : 0)).isLessThanOrEqualTo(Math.max(perPool, 1)));
    for (DeferredRebuild d : plan.deferred()) {
      assertThat(d.reason()).contains("at its limit of");
    }
  }

  @Property(tries = 80, seed = "505")
  void rebuildsComeMostUrgentFirst(@ForAll long seed) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.stable(rnd);
    ClusterView before = Clusters.view(nodes);
    List<Allocation> allocations = allocations(before, rnd, 150);
    NodeView victim = nodes.get(rnd.nextInt(nodes.size()));
    ReplicationPlan plan =
        planner.plan(
            new ReplicationEvent.NodeLost(victim.id()),
            allocations,
            before.withNode(victim.withState(NodeState.DOWN)),
            RebuildLimits.of(1000, 1000));
    List<RebuildTask> s = plan.scheduled();
    for (int i = 1; i < s.size(); i++) {
      RebuildPriority a = s.get(i - 1).priority();
      RebuildPriority b = s.get(i).priority();
      assertThat(a.compareTo(b)).isLessThanOrEqualTo(0);
      if (a.compareTo(b) == 0) {
        assertThat(s.get(i - 1).volumeId()).isLessThan(s.get(i).volumeId());
      }
      assertThat(a.healthyReplicas()).isLessThanOrEqualTo(b.healthyReplicas());
    }
  }

  @Property(tries = 80, seed = "606")
  void gradedEvacuationAffectsExactlyTheClassificationsTheNewTierRefuses(
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 4) int fromOrd,
      @ForAll @IntRange(min = 0, max = 4) int toOrd) {
    Assume.that(fromOrd < toOrd);
    TrustTier from = TrustTier.values()[fromOrd];
    TrustTier to = TrustTier.values()[toOrd];
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.stable(rnd);
    ClusterView before = Clusters.view(nodes);
    List<Allocation> allocations = allocations(before, rnd, 150);
    NodeView victim = nodes.get(rnd.nextInt(nodes.size()));
    ReplicationPlan plan =
        planner.plan(
            new ReplicationEvent.TierDropped(victim.id(), from, to),
            allocations,
            before.withNode(victim.withTrust(to, Clusters.scoreFor(to, rnd))),
            RebuildLimits.of(1000, 1000));
    Set<String> expected = new HashSet<>();
    for (Allocation a : allocations) {
      if (a.replicaOn(victim.id()) != null
          && from.allows(a.classification())
          && !to.allows(a.classification())) {
        expected.add(a.volumeId());
      }
    }
    Set<String> got = new HashSet<>();
    plan.scheduled().forEach(t -> got.add(t.volumeId()));
    plan.deferred().forEach(d -> got.add(d.task().volumeId()));
    plan.unplaceable().forEach(u -> got.add(u.volumeId()));
    assertThat(got).isEqualTo(expected);
    Map<String, Allocation> byId = new HashMap<>();
    allocations.forEach(a -> byId.put(a.volumeId(), a));
    for (RebuildTask t : plan.scheduled()) {
      NodeView target = before.node(t.targetNode()).orElseThrow();
      assertThat(target.trustTier().allows(byId.get(t.volumeId()).classification())).isTrue();
      assertThat(byId.get(t.volumeId()).replicaOn(t.targetNode())).isNull();
    }
  }

  @Property(tries = 40, seed = "707")
  void aDryRunCountsExactlyTheDifferences(@ForAll long seed) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.stable(rnd);
    ClusterView before = Clusters.view(nodes);
    List<Allocation> allocations = allocations(before, rnd, 120);
    List<NodeView> changed = new ArrayList<>();
    for (NodeView n : nodes) {
      changed.add(rnd.nextInt(5) == 0 ? n.withState(NodeState.DRAINING) : n);
    }
    ClusterView after = before.withNodes(changed);
    MovementReport report = planner.dryRun(allocations, after);
    long added = 0;
    long bytes = 0;
    int volumesChanged = 0;
    int unplaceable = 0;
    for (Allocation a : allocations) {
      PlacementResult r =
          placement.place(PoolPolicy.defaults(a.pool()).requestFor(a).build(), after);
      if (!r.placed()) {
        unplaceable++;
        continue;
      }
      Set<String> now = new HashSet<>();
      a.replicas().forEach(x -> now.add(x.nodeId()));
      long newOnes = r.replicas().stream().filter(n -> !now.contains(n)).count();
      if (newOnes > 0 || !now.equals(new HashSet<>(r.replicas()))) {
        volumesChanged++;
      }
      added += newOnes;
      bytes += newOnes * a.sizeBytes();
    }
    assertThat(report.replicasAdded()).isEqualTo(added);
    assertThat(report.bytesMoved()).isEqualTo(bytes);
    assertThat(report.volumesChanged()).isEqualTo(volumesChanged);
    assertThat(report.unplaceable()).hasSize(unplaceable);
    assertThat(report.bytesInByNode().values().stream().mapToLong(Long::longValue).sum())
        .isEqualTo(bytes);
    for (String n : report.bytesInByNode().keySet()) {
      assertThat(after.node(n).orElseThrow().state()).isEqualTo(NodeState.UP);
    }
  }
}
