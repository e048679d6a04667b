package io.mycnet.storage.operator.placement;

import static io.mycnet.storage.operator.placement.Clusters.GIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TrustTier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReplicationPlannerTest {
  private final PlacementPlanner placement = new PlacementPlanner();
  private final ReplicationPlanner planner = new ReplicationPlanner();
  private static final RebuildLimits UNLIMITED = RebuildLimits.of(1000, 1000);

  private List<Allocation> placeAll(ClusterView view, int volumes, Classification c) {
    List<Allocation> out = new ArrayList<>();
    for (int i = 0; i < volumes; i++) {
      PlacementRequest r =
          PlacementRequest.builder("vol-" + i).sizeBytes(GIB).replicas(3).classification(c).build();
      PlacementResult p = placement.place(r, view);
      out.add(
          Allocation.of(
              r.volumeId(), c, GIB, ReplicationStrategy.HIERARCHY_AWARE, null, p.replicas()));
    }
    return out;
  }

  @Test
  void nodeLossReplacesEachReplicaExactlyAsAFreshPlacementWouldWithoutTheNode() {
    List<NodeView> nodes = Clusters.uniform(3, 2, 2, 3);
    ClusterView before = Clusters.view(nodes);
    List<Allocation> allocations = placeAll(before, 300, Classification.STANDARD);
    String victim = "n0007";
    ClusterView after =
        before.withNode(before.node(victim).orElseThrow().withState(NodeState.DOWN));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.NodeLost(victim), allocations, after, UNLIMITED);
    long expected = allocations.stream().filter(a -> a.replicaOn(victim) != null).count();
    assertThat(expected).isPositive();
    assertThat(plan.scheduled()).hasSize((int) expected);
    assertThat(plan.deferred()).isEmpty();
    assertThat(plan.unplaceable()).isEmpty();
    assertThat(plan.summary()).startsWith("node n0007 lost: " + expected + " replica(s) affected");
    Map<String, Allocation> byId = new HashMap<>();
    allocations.forEach(a -> byId.put(a.volumeId(), a));
    for (RebuildTask t : plan.scheduled()) {
      Allocation a = byId.get(t.volumeId());
      PlacementResult fresh =
          placement.place(
              PlacementRequest.builder(t.volumeId()).sizeBytes(GIB).replicas(3).build(), after);
      Set<String> expectedNew = new HashSet<>(fresh.replicas());
      a.replicas().forEach(r -> expectedNew.remove(r.nodeId()));
      assertThat(expectedNew).containsExactly(t.targetNode());
      assertThat(t.replacedNode()).isEqualTo(victim);
      assertThat(a.replicaOn(t.sourceNode())).isNotNull();
      assertThat(t.sourceNode()).isNotEqualTo(victim);
      assertThat(t.reason()).isEqualTo("node n0007 lost");
      assertThat(t.priority().healthyReplicas()).isEqualTo(2);
    }
  }

  private static NodeView node(String id, String rack, TrustTier tier, double score) {
    return NodeView.builder(id, "region=eu/zone=z/rack=" + rack + "/node=" + id)
        .trust(tier, score)
        .build();
  }

  @Test
  void gradedEvacuationMovesOnlyWhatTheNewTierNoLongerAllows() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      nodes.add(node("c" + i, "k" + i, TrustTier.CRITICAL, 0.95));
    }
    ClusterView view = Clusters.view(nodes);
    List<Allocation> allocations = new ArrayList<>();
    for (Classification c : Classification.values()) {
      allocations.add(
          Allocation.of(
              "vol-" + c,
              c,
              GIB,
              ReplicationStrategy.HIERARCHY_AWARE,
              null,
              List.of("c0", "c1", "c2")));
    }
    ClusterView dropped = view.withNode(nodes.get(0).withTrust(TrustTier.STANDARD, 0.6));
    ReplicationPlan belowSensitive =
        planner.plan(
            new ReplicationEvent.TierDropped("c0", TrustTier.CRITICAL, TrustTier.STANDARD),
            allocations,
            dropped,
            UNLIMITED);
    assertThat(belowSensitive.scheduled())
        .extracting(RebuildTask::volumeId)
        .containsExactlyInAnyOrder("vol-CRITICAL", "vol-SENSITIVE");
    ReplicationPlan belowCritical =
        planner.plan(
            new ReplicationEvent.TierDropped("c0", TrustTier.CRITICAL, TrustTier.SENSITIVE),
            allocations,
            view.withNode(nodes.get(0).withTrust(TrustTier.SENSITIVE, 0.8)),
            UNLIMITED);
    assertThat(belowCritical.scheduled())
        .extracting(RebuildTask::volumeId)
        .containsExactly("vol-CRITICAL");
    for (RebuildTask t : belowSensitive.scheduled()) {
      assertThat(t.targetNode()).isIn("c3", "c4", "c5");
      assertThat(t.sourceNode()).isIn("c1", "c2");
      assertThat(t.priority().healthyReplicas()).isEqualTo(3);
    }
    assertThatThrownBy(
            () -> new ReplicationEvent.TierDropped("c0", TrustTier.STANDARD, TrustTier.CRITICAL))
        .hasMessageContaining("'to' must be lower than 'from'");
  }

  @Test
  void anEvacuatingReplicaIsOnlyALastResortSource() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      nodes.add(node("c" + i, "k" + i, TrustTier.CRITICAL, 0.95));
    }
    ClusterView view = Clusters.view(nodes).withNode(nodes.get(0).withTrust(TrustTier.PUBLIC, 0.3));
    Allocation a =
        new Allocation(
            "v",
            Classification.CRITICAL,
            GIB,
            ReplicationStrategy.HIERARCHY_AWARE,
            null,
            2,
            List.of(Replica.healthy("c0"), new Replica("c1", ReplicaState.STALE)));
    ReplicationPlan plan =
        planner.plan(
            new ReplicationEvent.TierDropped("c0", TrustTier.CRITICAL, TrustTier.PUBLIC),
            List.of(a),
            view,
            UNLIMITED);
    assertThat(plan.scheduled())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.sourceNode()).isEqualTo("c0");
              assertThat(t.targetNode()).isIn("c2", "c3");
            });
  }

  @Test
  void quarantinedAndUnhealthyReplicasAreNeverSources() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      nodes.add(node("n" + i, "k" + i, TrustTier.CRITICAL, 0.95));
    }
    ClusterView view = Clusters.view(nodes).withNode(nodes.get(0).withState(NodeState.QUARANTINED));
    Allocation ok =
        new Allocation(
            "ok",
            Classification.STANDARD,
            GIB,
            ReplicationStrategy.HIERARCHY_AWARE,
            null,
            3,
            List.of(
                Replica.healthy("n0"),
                new Replica("n1", ReplicaState.STALE),
                Replica.healthy("n2")));
    Allocation lost =
        new Allocation(
            "lost",
            Classification.STANDARD,
            GIB,
            ReplicationStrategy.HIERARCHY_AWARE,
            null,
            3,
            List.of(
                Replica.healthy("n0"),
                new Replica("n1", ReplicaState.FAILED),
                new Replica("n2", ReplicaState.REBUILDING)));
    ReplicationPlan plan =
        planner.plan(
            new ReplicationEvent.NodeQuarantined("n0"), List.of(ok, lost), view, UNLIMITED);
    assertThat(plan.scheduled())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.volumeId()).isEqualTo("ok");
              assertThat(t.sourceNode()).isEqualTo("n2");
              assertThat(t.targetNode()).isIn("n3", "n4");
            });
    assertThat(plan.unplaceable())
        .singleElement()
        .satisfies(
            u -> {
              assertThat(u.volumeId()).isEqualTo("lost");
              assertThat(u.reason()).isEqualTo("no healthy replica left to copy from");
              assertThat(u.priority().healthyReplicas()).isZero();
            });
  }

  @Test
  void anAuditFailureReplacesThatReplicaAndNeverOntoTheSameNode() {
    ClusterView view = Clusters.view(Clusters.uniform(1, 1, 1, 4));
    List<Allocation> allocations =
        List.of(
            Allocation.of(
                "a",
                Classification.STANDARD,
                GIB,
                ReplicationStrategy.HIERARCHY_AWARE,
                null,
                List.of("n0000", "n0001")),
            Allocation.of(
                "b",
                Classification.STANDARD,
                GIB,
                ReplicationStrategy.HIERARCHY_AWARE,
                null,
                List.of("n0000", "n0002")));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.AuditFailed("a", "n0000"), allocations, view, UNLIMITED);
    assertThat(plan.scheduled())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.volumeId()).isEqualTo("a");
              assertThat(t.targetNode()).isIn("n0002", "n0003");
              assertThat(t.sourceNode()).isEqualTo("n0001");
            });
  }

  @Test
  void theSourceIsTheMostTrustedTierThenTheNearest() {
    List<NodeView> nodes = new ArrayList<>();
    nodes.add(NodeView.builder("x", "region=a/zone=a1/rack=ra/node=x").build());
    nodes.add(
        NodeView.builder("near", "region=b/zone=b1/rack=rb/node=near")
            .trust(TrustTier.CRITICAL, 0.91)
            .build());
    nodes.add(
        NodeView.builder("far", "region=c/zone=c1/rack=rc/node=far")
            .trust(TrustTier.CRITICAL, 0.99)
            .build());
    nodes.add(
        NodeView.builder("nearer", "region=b/zone=b1/rack=rb/node=nearer")
            .trust(TrustTier.SENSITIVE, 0.85)
            .build());
    nodes.add(NodeView.builder("t", "region=b/zone=b1/rack=rb/node=t").build());
    ClusterView view = Clusters.view(nodes);
    view = view.withNode(nodes.get(0).withState(NodeState.DOWN));
    Allocation a =
        new Allocation(
            "v",
            Classification.STANDARD,
            GIB,
            ReplicationStrategy.HIERARCHY_AWARE,
            null,
            4,
            List.of(
                Replica.healthy("x"),
                Replica.healthy("near"),
                Replica.healthy("far"),
                Replica.healthy("nearer")));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.NodeLost("x"), List.of(a), view, UNLIMITED);
    RebuildTask t = plan.scheduled().get(0);
    assertThat(t.targetNode()).isEqualTo("t");
    assertThat(t.sourceNode()).isEqualTo("near");
    assertThat(t.priority().minHealthyTrust()).isEqualTo(0.85);
  }

  @Test
  void throttlingCapsRebuildsPerNodeAndPerPoolAndReportsTheRest() {
    List<NodeView> nodes = new ArrayList<>();
    for (NodeView n : Clusters.uniform(3, 2, 2, 3)) {
      nodes.add(n.toBuilder().pools("p0", "even", "odd").build());
    }
    ClusterView before = Clusters.view(nodes);
    List<Allocation> allocations = new ArrayList<>();
    for (Allocation a : placeAll(before, 300, Classification.STANDARD)) {
      allocations.add(
          new Allocation(
              a.volumeId(),
              a.classification(),
              a.sizeBytes(),
              a.strategy(),
              a.volumeId().hashCode() % 2 == 0 ? "even" : "odd",
              3,
              a.replicas()));
    }
    String victim = "n0007";
    ClusterView after =
        before.withNode(before.node(victim).orElseThrow().withState(NodeState.DOWN));
    RebuildLimits limits = new RebuildLimits(2, 5, Map.of("n0001", 2), Map.of("odd", 1));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.NodeLost(victim), allocations, after, limits);
    Map<String, Integer> perNode = new HashMap<>(limits.activePerNode());
    Map<String, Integer> perPool = new HashMap<>(limits.activePerPool());
    for (RebuildTask t : plan.scheduled()) {
      perNode.merge(t.sourceNode(), 1, Integer::sum);
      perNode.merge(t.targetNode(), 1, Integer::sum);
      perPool.merge(t.pool(), 1, Integer::sum);
      assertThat(t.sourceNode()).isNotEqualTo("n0001");
      assertThat(t.targetNode()).isNotEqualTo("n0001");
    }
    assertThat(perNode.values()).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(2));
    assertThat(perPool.getOrDefault("even", 0)).isLessThanOrEqualTo(5);
    assertThat(perPool.getOrDefault("odd", 0)).isLessThanOrEqualTo(5);
    assertThat(plan.unplaceable()).isEmpty();
    assertThat(plan.scheduled()).isNotEmpty();
    assertThat(plan.deferred()).isNotEmpty();
    assertThat(plan.deferred()).allSatisfy(d -> assertThat(d.reason()).contains("at its limit of"));
    long affected = allocations.stream().filter(a -> a.replicaOn(victim) != null).count();
    assertThat(plan.affected()).isEqualTo((int) affected);
  }

  @Test
  void rebuildsAreOrderedByHealthyReplicasThenClassificationThenTrust() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      nodes.add(node("n" + i, "k" + i, TrustTier.CRITICAL, i == 3 ? 0.9 : 0.99));
    }
    ClusterView view = Clusters.view(nodes).withNode(nodes.get(0).withState(NodeState.DOWN));
    List<Allocation> allocations =
        List.of(
            new Allocation(
                "d-standard-trusted",
                Classification.STANDARD,
                GIB,
                ReplicationStrategy.HIERARCHY_AWARE,
                null,
                3,
                List.of(Replica.healthy("n0"), Replica.healthy("n1"), Replica.healthy("n2"))),
            new Allocation(
                "c-standard-lowtrust",
                Classification.STANDARD,
                GIB,
                ReplicationStrategy.HIERARCHY_AWARE,
                null,
                3,
                List.of(Replica.healthy("n0"), Replica.healthy("n3"), Replica.healthy("n2"))),
            new Allocation(
                "b-critical",
                Classification.CRITICAL,
                GIB,
                ReplicationStrategy.HIERARCHY_AWARE,
                null,
                3,
                List.of(Replica.healthy("n0"), Replica.healthy("n4"), Replica.healthy("n5"))),
            new Allocation(
                "a-last-copy",
                Classification.PUBLIC,
                GIB,
                ReplicationStrategy.HIERARCHY_AWARE,
                null,
                3,
                List.of(
                    Replica.healthy("n0"),
                    Replica.healthy("n6"),
                    new Replica("n7", ReplicaState.STALE))));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.NodeLost("n0"), allocations, view, UNLIMITED);
    assertThat(plan.scheduled())
        .extracting(RebuildTask::volumeId)
        .containsExactly("a-last-copy", "b-critical", "c-standard-lowtrust", "d-standard-trusted");
    assertThat(plan.scheduled().get(0).priority().estimatedTimeToLoss())
        .isLessThan(plan.scheduled().get(1).priority().estimatedTimeToLoss());
  }

  @Test
  void timeToLossIsTheExpectedLastFailure() {
    ReplicationPlanner p =
        new ReplicationPlanner(placement, PoolPolicy::defaults, Duration.ofDays(30));
    assertThat(p.timeToLoss(List.of(1.0))).isEqualTo(Duration.ofDays(30));
    assertThat(p.timeToLoss(List.of(1.0, 1.0))).isEqualTo(Duration.ofDays(45));
    assertThat(p.timeToLoss(List.of(0.5))).isEqualTo(Duration.ofDays(15));
    assertThat(p.timeToLoss(List.of())).isEqualTo(Duration.ZERO);
  }

  @Test
  void aDryRunReportsWhatWouldMoveAndMovesNothing() {
    List<NodeView> nodes = Clusters.uniform(5, 2, 1, 3);
    ClusterView view = Clusters.view(nodes);
    List<Allocation> allocations = placeAll(view, 400, Classification.STANDARD);
    MovementReport same = planner.dryRun(allocations, view);
    assertThat(same.replicasAdded()).isZero();
    assertThat(same.volumesChanged()).isZero();
    assertThat(same.volumes()).isEqualTo(400);

    NodeView added = NodeView.builder("added", Clusters.path(0, 0, 0, "added")).build();
    ClusterView grown = view.withNode(added);
    MovementReport grow = planner.dryRun(allocations, grown);
    assertThat(grow.replicasAdded()).isPositive().isEqualTo(grow.replicasRemoved());
    assertThat(grow.bytesMoved()).isEqualTo(grow.replicasAdded() * GIB);
    assertThat(grow.bytesInByNode()).containsOnlyKeys("added");
    assertThat(grow.moves()).allSatisfy(m -> assertThat(m.to()).containsExactly("added"));
    assertThat(grow.summary()).contains("would move");

    MovementReport more =
        planner.dryRun(
            allocations, view, a -> PoolPolicy.defaults(null).requestFor(a).replicas(4).build());
    assertThat(more.replicasAdded()).isEqualTo(400);
    assertThat(more.replicasRemoved()).isZero();
    assertThat(more.bytesMoved()).isEqualTo(400 * GIB);
    // Nothing was touched.
    assertThat(allocations).allSatisfy(a -> assertThat(a.replicas()).hasSize(3));
  }

  @Test
  void aReplicaNoNodeCanTakeIsReportedWithTheReason() {
    ClusterView view =
        Clusters.view(Clusters.uniform(1, 1, 1, 3))
            .withNode(Clusters.uniform(1, 1, 1, 3).get(0).withState(NodeState.DOWN));
    Allocation a =
        Allocation.of(
            "v",
            Classification.STANDARD,
            GIB,
            ReplicationStrategy.HIERARCHY_AWARE,
            null,
            List.of("n0000", "n0001", "n0002"));
    ReplicationPlan plan =
        planner.plan(new ReplicationEvent.NodeLost("n0000"), List.of(a), view, UNLIMITED);
    assertThat(plan.unplaceable())
        .singleElement()
        .satisfies(
            u -> {
              assertThat(u.failure().kind())
                  .isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES);
              assertThat(u.reason())
                  .contains("2 nodes are eligible of 3 (2 kept replicas included), 3 needed")
                  .contains("1 excluded or already holding a replica");
            });
  }
}
