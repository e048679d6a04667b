package io.mycnet.storage.operator.placement;

import static io.mycnet.storage.operator.placement.Clusters.GIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PlacementPlannerTest {
  private final PlacementPlanner planner = new PlacementPlanner();

  private static PlacementRequest.Builder req(String id) {
    return PlacementRequest.builder(id).sizeBytes(10 * GIB);
  }

  private static Set<String> regionsOf(PlacementResult r, ClusterView v) {
    return r.replicas().stream()
        .map(id -> v.node(id).orElseThrow().topology().valueAt("region"))
        .collect(Collectors.toSet());
  }

  @Test
  void spreadsReplicasOverDistinctRegionsWhenEnoughExist() {
    ClusterView v = Clusters.view(Clusters.uniform(3, 2, 2, 2));
    for (int i = 0; i < 50; i++) {
      PlacementResult r = planner.place(req("vol-" + i).replicas(3).build(), v);
      assertThat(r.placed()).isTrue();
      assertThat(regionsOf(r, v)).hasSize(3);
      assertThat(r.spreadLevel()).isEqualTo("region");
      assertThat(r.fellBack()).isFalse();
      assertThat(r.notes()).isEmpty();
    }
  }

  @Test
  void fallsBackToZonesWhenRegionsAreTooFewAndSaysSo() {
    ClusterView v = Clusters.view(Clusters.uniform(2, 2, 2, 2));
    PlacementResult r = planner.place(req("vol-1").replicas(3).build(), v);
    assertThat(r.placed()).isTrue();
    assertThat(r.spreadLevel()).isEqualTo("zone");
    assertThat(r.fellBack()).isTrue();
    assertThat(r.notes())
        .singleElement()
        .asString()
        .contains("only 2 region(s) have eligible nodes")
        .contains("distinct zones");
    assertThat(regionsOf(r, v)).hasSize(2);
    Set<String> zones = new HashSet<>();
    r.replicas().forEach(id -> zones.add(v.node(id).orElseThrow().topology().domainAt(2)));
    assertThat(zones).hasSize(3);
  }

  @Test
  void hardAntiAffinityFailsNamingTheLevelAndTheAlternatives() {
    ClusterView v = Clusters.view(Clusters.uniform(2, 2, 2, 2));
    PlacementResult r =
        planner.place(
            req("vol-1").replicas(3).antiAffinity(AntiAffinity.HARD, "region").build(), v);
    assertThat(r.placed()).isFalse();
    PlacementFailure f = r.failure();
    assertThat(f.kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_DOMAINS);
    assertThat(f.level()).isEqualTo("region");
    assertThat(f.domainsAvailable()).isEqualTo(2);
    assertThat(f.message())
        .contains("HARD anti-affinity needs 3 distinct regions")
        .contains("only 2 have any")
        .contains("region=r0: 8")
        .contains("use SOFT anti-affinity (replicas would be in distinct zones)");
  }

  @Test
  void hardAntiAffinityAtAReachableLevelSucceeds() {
    ClusterView v = Clusters.view(Clusters.uniform(2, 2, 2, 2));
    PlacementResult r =
        planner.place(req("vol-1").replicas(4).antiAffinity(AntiAffinity.HARD, "zone").build(), v);
    assertThat(r.placed()).isTrue();
    assertThat(r.spreadLevel()).isEqualTo("zone");
    assertThat(r.fellBack()).isFalse();
    assertThat(regionsOf(r, v)).hasSize(2);
  }

  @Test
  void explainsFailureWithRealCountsAndFixes() {
    List<NodeView> nodes = new ArrayList<>();
    Consumer<NodeView.Builder> add = b -> nodes.add(b.build());
    int i = 0;
    for (; i < 4; i++) { // 4 below trust 0.9
      add.accept(
          NodeView.builder("low" + i, Clusters.path(i, 0, 0, "low" + i))
              .trust(TrustTier.SENSITIVE, 0.8));
    }
    for (int k = 0; k < 2; k++) { // 2 without 50 GiB free
      add.accept(
          NodeView.builder("full" + k, Clusters.path(k, 1, 0, "full" + k))
              .trust(TrustTier.CRITICAL, 0.95)
              .freeBytes(20 * GIB));
    }
    add.accept(
        NodeView.builder("drain", Clusters.path(0, 2, 0, "drain"))
            .trust(TrustTier.CRITICAL, 0.95)
            .state(NodeState.DRAINING));
    add.accept(
        NodeView.builder("ok", Clusters.path(1, 2, 0, "ok")).trust(TrustTier.CRITICAL, 0.97));
    ClusterView v = Clusters.view(nodes);
    PlacementResult r =
        planner.place(
            req("pvc-db")
                .sizeBytes(50 * GIB)
                .replicas(3)
                .classification(Classification.CRITICAL)
                .build(),
            v);
    assertThat(r.placed()).isFalse();
    PlacementFailure f = r.failure();
    assertThat(f.kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES);
    assertThat(f.rejections())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                RejectionReason.TRUST_TOO_LOW, 4,
                RejectionReason.INSUFFICIENT_FREE_SPACE, 2,
                RejectionReason.DRAINING, 1));
    assertThat(f.eligibleNodes()).isEqualTo(1);
    assertThat(f.message())
        .startsWith("cannot place 3 replicas of volume pvc-db (CRITICAL, 50 GiB)")
        .contains("1 node is eligible of 8, 3 needed")
        .contains("1 draining, 4 below trust 0.9 (tier CRITICAL), 2 without 50 GiB free")
        .contains("classify the volume SENSITIVE instead of CRITICAL")
        .contains("shrink the volume to at most 20 GiB")
        .contains("add 2 UP node(s) with trust tier CRITICAL or higher and 50 GiB free")
        .contains("lower replicas to 1");
  }

  @Test
  void overcommitLetsANodeWithLessFreeSpaceQualify() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      nodes.add(
          NodeView.builder("n" + i, Clusters.path(i, 0, 0, "n" + i)).freeBytes(30 * GIB).build());
    }
    ClusterView v = Clusters.view(nodes);
    PlacementRequest tight = req("v").sizeBytes(50 * GIB).replicas(3).build();
    assertThat(planner.place(tight, v).placed()).isFalse();
    assertThat(planner.place(tight, v).failure().message()).contains("3 without 50 GiB free");
    PlacementRequest loose = tight.toBuilder().overcommitRatio(2.0).build();
    assertThat(planner.place(loose, v).replicas()).containsExactlyInAnyOrder("n0", "n1", "n2");
    assertThat(planner.place(loose, v).failure()).isNull();
  }

  @Test
  void nodeSelectorAndPoolRestrictTheCandidates() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      nodes.add(
          NodeView.builder("n" + i, Clusters.path(i % 4, i % 3, 0, "n" + i))
              .labels(Map.of("disk", i % 2 == 0 ? "ssd" : "hdd"))
              .pools(i < 8 ? "fast" : "slow")
              .build());
    }
    ClusterView v = Clusters.view(nodes);
    for (int k = 0; k < 30; k++) {
      PlacementResult r =
          planner.place(
              req("v" + k).replicas(3).pool("fast").nodeSelector(Map.of("disk", "ssd")).build(), v);
      assertThat(r.replicas())
          .allSatisfy(
              id -> {
                NodeView n = v.node(id).orElseThrow();
                assertThat(n.labels()).containsEntry("disk", "ssd");
                assertThat(n.pools()).contains("fast");
              });
    }
    PlacementResult none = planner.place(req("x").replicas(1).pool("nope").build(), v);
    assertThat(none.failure().rejected(RejectionReason.NOT_IN_POOL)).isEqualTo(12);
    assertThat(none.failure().message()).contains("12 not in pool nope");
  }

  @Test
  void downDrainingAndQuarantinedNodesTakeNoReplicas() {
    List<NodeView> nodes = new ArrayList<>(Clusters.uniform(3, 2, 1, 2));
    Set<String> out = Set.of("n0000", "n0005", "n0009");
    nodes.replaceAll(
        n ->
            n.id().equals("n0000")
                ? n.withState(NodeState.DOWN)
                : n.id().equals("n0005")
                    ? n.withState(NodeState.DRAINING)
                    : n.id().equals("n0009") ? n.withState(NodeState.QUARANTINED) : n);
    ClusterView v = Clusters.view(nodes);
    for (int k = 0; k < 100; k++) {
      assertThat(planner.place(req("v" + k).replicas(3).build(), v).replicas())
          .doesNotContainAnyElementsOf(out);
    }
  }

  @Test
  void keptReplicasStayAndTheirDomainsCount() {
    ClusterView v = Clusters.view(Clusters.uniform(3, 2, 2, 2));
    PlacementResult r =
        planner.place(
            req("v")
                .replicas(3)
                .keepReplicas(List.of("n0000"))
                .excludeNodes(Set.of("n0020"))
                .build(),
            v);
    assertThat(r.replicas()).hasSize(3).startsWith("n0000").doesNotContain("n0020");
    assertThat(r.added()).hasSize(2).doesNotContain("n0000");
    assertThat(regionsOf(r, v)).hasSize(3);
  }

  @Test
  void excludedNodesAreNeverChosen() {
    ClusterView v = Clusters.view(Clusters.uniform(1, 1, 1, 4));
    PlacementResult r =
        planner.place(req("v").replicas(3).excludeNodes(Set.of("n0002")).build(), v);
    assertThat(r.replicas()).containsExactlyInAnyOrder("n0000", "n0001", "n0003");
    PlacementResult f =
        planner.place(req("v").replicas(4).excludeNodes(Set.of("n0002")).build(), v);
    assertThat(f.failure().rejected(RejectionReason.EXCLUDED)).isEqualTo(1);
  }

  @Test
  void rejectsInvalidRequestsNamingTheFieldAndWhatIsAllowed() {
    expectInvalid(() -> req("v").replicas(0).build(), "replicas", "between 1 and 7, got 0");
    expectInvalid(() -> req("v").replicas(8).build(), "replicas", "between 1 and 7, got 8");
    expectInvalid(() -> req("v").sizeBytes(0).build(), "sizeBytes", "greater than 0");
    expectInvalid(() -> req("v").sizeBytes(-5).build(), "sizeBytes", "got -5");
    expectInvalid(
        () -> req("v").classification((Classification) null).build(),
        "classification",
        "CRITICAL, SENSITIVE, STANDARD, PUBLIC");
    expectInvalid(
        () -> req("v").strategy((ReplicationStrategy) null).build(),
        "strategy",
        "HIERARCHY_AWARE, GEOGRAPHIC_DISTRIBUTION, TRUST_DIVERSIFICATION, PERFORMANCE_OPTIMIZED");
    expectInvalid(() -> req("v").strategy("FASTEST"), "strategy", "unknown value 'FASTEST'");
    expectInvalid(() -> req("v").strategy(""), "strategy", "is required");
    expectInvalid(() -> req("v").classification("TOP_SECRET"), "classification", "TOP_SECRET");
    expectInvalid(() -> req(" ").build(), "volumeId", "required");
    expectInvalid(() -> req("v").overcommitRatio(0.5).build(), "overcommitRatio", ">= 1.0");
    expectInvalid(() -> req("v").minTrustScore(1.5).build(), "minTrustScore", "between 0 and 1");
    expectInvalid(
        () -> req("v").replicas(1).keepReplicas(List.of("a", "b")).build(),
        "keepReplicas",
        "more than replicas");
    expectInvalid(
        () -> req("v").keepReplicas(List.of("a")).excludeNodes(Set.of("a")).build(),
        "excludeNodes",
        "contains a");
    ClusterView v = Clusters.view(Clusters.uniform(1, 1, 1, 3));
    expectInvalid(
        () -> planner.place(req("v").antiAffinity(AntiAffinity.HARD, "datacenter").build(), v),
        "antiAffinityLevel",
        "one of region, zone, rack, node");
    expectInvalid(
        () -> planner.place(req("v").keepReplicas(List.of("ghost")).build(), v),
        "keepReplicas",
        "ghost is not in the cluster view");
    expectInvalid(
        () ->
            planner.place(
                req("v")
                    .strategy(ReplicationStrategy.PERFORMANCE_OPTIMIZED)
                    .antiAffinity(AntiAffinity.HARD, "zone")
                    .build(),
                v),
        "antiAffinityLevel",
        "node-level spread only");
  }

  private static void expectInvalid(Runnable r, String field, String text) {
    assertThatThrownBy(r::run)
        .isInstanceOfSatisfying(
            InvalidPlacementRequestException.class, e -> assertThat(e.field()).isEqualTo(field))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(field + ": ")
        .hasMessageContaining(text);
  }

  @Test
  void parsesStrategyNamesLeniently() {
    assertThat(PlacementRequest.parseStrategy("trust-diversification"))
        .isEqualTo(ReplicationStrategy.TRUST_DIVERSIFICATION);
    assertThat(PlacementRequest.parseClassification(" critical "))
        .isEqualTo(Classification.CRITICAL);
  }

  private static NodeView geo(String id, int zone, double lat, double lon) {
    return NodeView.builder(id, "region=eu/zone=z" + zone + "/rack=k" + zone + "/node=" + id)
        .location(lat, lon)
        .build();
  }

  @Test
  void geographicDistributionPicksTheFarthestNodes() {
    List<NodeView> nodes =
        List.of(
            geo("munich", 1, 48.14, 11.58),
            geo("augsburg", 2, 48.37, 10.90),
            geo("berlin", 3, 52.52, 13.40),
            geo("lisbon", 4, 38.72, -9.14),
            geo("helsinki", 5, 60.17, 24.94),
            geo("vienna", 6, 48.21, 16.37));
    ClusterView v = Clusters.view(nodes);
    for (int k = 0; k < 40; k++) {
      PlacementResult r =
          planner.place(
              req("v" + k)
                  .replicas(3)
                  .strategy(ReplicationStrategy.GEOGRAPHIC_DISTRIBUTION)
                  .build(),
              v);
      List<NodeView> chosen = r.replicas().stream().map(id -> v.node(id).orElseThrow()).toList();
      NodeView first = chosen.get(0);
      double best =
          nodes.stream()
              .mapToDouble(n -> n.location().distanceKm(first.location()))
              .max()
              .orElseThrow();
      assertThat(chosen.get(1).location().distanceKm(first.location())).isEqualTo(best);
      double thirdMin =
          Math.min(
              chosen.get(2).location().distanceKm(first.location()),
              chosen.get(2).location().distanceKm(chosen.get(1).location()));
      for (NodeView n : nodes) {
        if (!chosen.contains(n)) {
          double m =
              Math.min(
                  n.location().distanceKm(first.location()),
                  n.location().distanceKm(chosen.get(1).location()));
          assertThat(thirdMin).isGreaterThanOrEqualTo(m);
        }
      }
    }
  }

  @Test
  void geographicDistributionStillPutsRegionsFirst() {
    List<NodeView> nodes = new ArrayList<>();
    nodes.add(geo("lisbon", 1, 38.72, -9.14));
    nodes.add(geo("helsinki", 2, 60.17, 24.94));
    nodes.add(
        NodeView.builder("frankfurt", "region=de/zone=f/rack=f/node=frankfurt")
            .location(50.11, 8.68)
            .build());
    ClusterView v = Clusters.view(nodes);
    for (int k = 0; k < 20; k++) {
      PlacementResult r =
          planner.place(
              req("v" + k)
                  .replicas(2)
                  .strategy(ReplicationStrategy.GEOGRAPHIC_DISTRIBUTION)
                  .build(),
              v);
      assertThat(r.replicas()).contains("frankfurt");
    }
  }

  @Test
  void trustDiversificationSpreadsOverOwnersAndTrustBands() {
    List<NodeView> nodes = new ArrayList<>();
    double[] scores = {0.91, 0.92, 0.96, 0.97, 0.93, 0.99};
    String[] owners = {"acme", "acme", "bob", "bob", "carol", "carol"};
    for (int i = 0; i < 6; i++) {
      nodes.add(
          NodeView.builder("n" + i, "region=eu/zone=z/rack=k/node=n" + i)
              .trust(TrustTier.CRITICAL, scores[i])
              .owner(owners[i])
              .build());
    }
    ClusterView v = Clusters.view(nodes);
    for (int k = 0; k < 40; k++) {
      PlacementResult r =
          planner.place(
              req("v" + k)
                  .replicas(2)
                  .classification(Classification.CRITICAL)
                  .strategy(ReplicationStrategy.TRUST_DIVERSIFICATION)
                  .build(),
              v);
      List<NodeView> chosen = r.replicas().stream().map(id -> v.node(id).orElseThrow()).toList();
      assertThat(chosen.stream().map(NodeView::owner).distinct()).hasSize(2);
      assertThat(chosen.stream().map(n -> ClusterView.trustBand(n.trustScore())).distinct())
          .as("two bands ([0.90,0.95) and [0.95,1]) are available")
          .hasSize(2);
      assertThat(r.minTrustScore()).isGreaterThanOrEqualTo(0.9);
    }
  }

  @Test
  void trustDiversificationFailsWhenOwnersAreTooFew() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      nodes.add(
          NodeView.builder("n" + i, Clusters.path(i, 0, 0, "n" + i))
              .owner(i < 3 ? "acme" : null)
              .build());
    }
    PlacementResult r =
        planner.place(
            req("v").replicas(3).strategy(ReplicationStrategy.TRUST_DIVERSIFICATION).build(),
            Clusters.view(nodes));
    assertThat(r.failure().kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_OWNERS);
    assertThat(r.failure().message())
        .contains("needs 3 distinct owners but the 5 eligible nodes belong to 2")
        .contains("<unknown>: 2, acme: 3")
        .contains("nodes without label mycnet.io/owner count as one owner");
  }

  @Test
  void performanceOptimizedKeepsDataNextToTheConsumer() {
    ClusterView v = Clusters.view(Clusters.uniform(2, 2, 2, 4));
    for (int k = 0; k < 30; k++) {
      PlacementResult r =
          planner.place(
              req("v" + k)
                  .replicas(3)
                  .strategy(ReplicationStrategy.PERFORMANCE_OPTIMIZED)
                  .consumerNode("n0005")
                  .build(),
              v);
      assertThat(r.replicas()).hasSize(3).startsWith("n0005").doesNotHaveDuplicates();
      String rack = v.node("n0005").orElseThrow().topology().domainAt(3);
      assertThat(r.replicas())
          .allSatisfy(
              id -> assertThat(v.node(id).orElseThrow().topology().domainAt(3)).isEqualTo(rack));
      assertThat(r.spreadLevel()).isEqualTo("node");
    }
  }

  @Test
  void performanceOptimizedUsesTheZoneWhenTheRackIsTooSmallAndPrefersFastNodes() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      boolean fast = i % 2 == 0;
      nodes.add(
          NodeView.builder("n" + i, "region=eu/zone=z" + (i / 6) + "/rack=k" + i + "/node=n" + i)
              .performance(fast ? 20000 : 200, fast ? 0.5 : 20)
              .build());
    }
    ClusterView v = Clusters.view(nodes);
    TopologyPath consumer = TopologyPath.parse("region=eu/zone=z0/rack=compute/node=app1");
    Map<Boolean, Integer> byKind = new HashMap<>();
    for (int k = 0; k < 300; k++) {
      PlacementResult r =
          planner.place(
              req("v" + k)
                  .replicas(2)
                  .strategy(ReplicationStrategy.PERFORMANCE_OPTIMIZED)
                  .consumerTopology(consumer)
                  .build(),
              v);
      for (String id : r.replicas()) {
        int n = Integer.parseInt(id.substring(1));
        assertThat(n).as("replica in the consumer's zone z0").isLessThan(6);
        byKind.merge(n % 2 == 0, 1, Integer::sum);
      }
    }
    assertThat(byKind.get(true)).isGreaterThan(4 * byKind.getOrDefault(false, 0));
  }

  @Test
  void performanceOptimizedWithoutConsumerPlacesClusterWide() {
    ClusterView v = Clusters.view(Clusters.uniform(2, 2, 2, 2));
    PlacementResult r =
        planner.place(
            req("v").replicas(3).strategy(ReplicationStrategy.PERFORMANCE_OPTIMIZED).build(), v);
    assertThat(r.replicas()).hasSize(3).doesNotHaveDuplicates();
  }

  @Test
  void weightFollowsCapacityAndTrust() {
    List<NodeView> nodes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      nodes.add(
          NodeView.builder("n" + i, "region=a/zone=b/rack=c/node=n" + i)
              .capacityBytes(i == 0 ? 2L << 40 : 1L << 40)
              .trust(TrustTier.CRITICAL, i == 1 ? 0.475 : 0.95)
              .build());
    }
    ClusterView v = Clusters.view(nodes);
    assertThat(v.weightOf("n0")).isEqualTo(1.0);
    assertThat(v.weightOf("n2")).isEqualTo(0.5);
    assertThat(v.weightOf("n1")).isEqualTo(0.25);
    Map<String, Integer> load = new HashMap<>();
    for (int k = 0; k < 20000; k++) {
      load.merge(
          planner.place(req("v" + k).replicas(1).build(), v).replicas().get(0), 1, Integer::sum);
    }
    double ratioBig = load.get("n0") / (double) load.get("n2");
    double ratioLow = load.get("n1") / (double) load.get("n2");
    assertThat(ratioBig).isBetween(1.8, 2.2);
    assertThat(ratioLow).isBetween(0.42, 0.58);
  }

  @Test
  void unknownOrDownEverywhereFailsCleanly() {
    List<NodeView> nodes = new ArrayList<>();
    for (NodeView n : Clusters.uniform(1, 1, 1, 3)) {
      nodes.add(n.withState(NodeState.DOWN));
    }
    PlacementResult r = planner.place(req("v").replicas(2).build(), Clusters.view(nodes));
    assertThat(r.failure().message())
        .contains("0 nodes are eligible of 3")
        .contains("3 down")
        .contains("return down, draining or quarantined nodes to service (3 now)");
    assertThat(r.replicas()).isEmpty();
  }

  @Test
  void findsTheRealSpreadWhenARegionLooksEligibleButHasNoSpace() {
    List<NodeView> nodes = new ArrayList<>(Clusters.uniform(3, 2, 2, 10));
    nodes.replaceAll(n -> n.topology().valueAt("region").equals("r2") ? n.withFreeBytes(GIB) : n);
    ClusterView v = Clusters.view(nodes);
    for (int k = 0; k < 20; k++) {
      PlacementResult r = planner.place(req("v" + k).replicas(3).build(), v);
      assertThat(r.placed()).isTrue();
      assertThat(regionsOf(r, v)).containsExactlyInAnyOrder("r0", "r1");
      assertThat(r.spreadLevel()).isEqualTo("zone");
      assertThat(planner.place(req("v" + k).replicas(3).build(), v)).isEqualTo(r);
    }
  }

  @Test
  void slotsArePersistedAndInheritedSoPlacementSurvivesRebuilds() {
    List<NodeView> nodes = Clusters.uniform(2, 2, 2, 3);
    ClusterView v1 = Clusters.view(nodes);
    Map<String, Integer> slots = v1.slotAssignments();
    assertThat(new HashSet<>(slots.values())).hasSize(nodes.size());
    List<NodeView> restored = new ArrayList<>();
    for (NodeView n : nodes) {
      restored.add(n.withSlot(slots.get(n.id())));
    }
    Collections.shuffle(restored, new Random(3));
    restored.add(NodeView.builder("a-new-node", Clusters.path(0, 0, 0, "a-new-node")).build());
    ClusterView v2 = Clusters.view(restored);
    ClusterView v3 = v1.withNode(restored.get(restored.size() - 1));
    assertThat(v2.slotOf("a-new-node")).isEqualTo(nodes.size());
    assertThat(v3.slotAssignments()).isEqualTo(v2.slotAssignments());
    for (int k = 0; k < 50; k++) {
      PlacementRequest r = req("v" + k).replicas(3).build();
      assertThat(planner.place(r, v2)).isEqualTo(planner.place(r, v3));
    }
  }

  @Test
  void rejectsInconsistentViews() {
    NodeView a = NodeView.builder("a", "region=x/zone=y/rack=z/node=a").slot(4).build();
    NodeView b = NodeView.builder("b", "region=x/zone=y/rack=z/node=b").slot(4).build();
    assertThatThrownBy(() -> Clusters.view(List.of(a, b)))
        .hasMessageContaining("both claim placement slot 4");
    assertThatThrownBy(() -> Clusters.view(List.of(a, a.withSlot(1))))
        .hasMessageContaining("node id a appears twice");
    NodeView shallow = NodeView.builder("c", "region=x/zone=y").build();
    assertThatThrownBy(() -> Clusters.view(List.of(shallow)))
        .hasMessageContaining("node c: topology path 'region=x/zone=y'")
        .hasMessageContaining("region > zone > rack > node");
  }

  @Test
  void anEmptyClusterExplainsItselfAndASingleNodeTakesOneReplica() {
    ClusterView empty = ClusterView.of(Clusters.LEVELS, List.of());
    PlacementResult none = planner.place(req("v").replicas(1).build(), empty);
    assertThat(none.failure().message()).contains("0 nodes are eligible of 0, 1 needed");
    ClusterView one = Clusters.view(Clusters.uniform(1, 1, 1, 1));
    PlacementResult r = planner.place(req("v").replicas(1).build(), one);
    assertThat(r.replicas()).containsExactly("n0000");
    assertThat(r.message()).startsWith("placed 1 replica of v on n0000");
    assertThat(planner.place(req("v").replicas(2).build(), one).failure().kind())
        .isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES);
  }
}
