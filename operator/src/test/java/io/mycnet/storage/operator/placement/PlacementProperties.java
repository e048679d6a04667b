package io.mycnet.storage.operator.placement;

import static io.mycnet.storage.operator.placement.Clusters.GIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.StringLength;

/** Properties of placement over seeded random clusters. */
class PlacementProperties {
  private static final int VOLUMES = 120;
  private final PlacementPlanner planner = new PlacementPlanner();

  private static PlacementRequest.Builder request(
      String id, int replicas, Classification c, ReplicationStrategy s) {
    return PlacementRequest.builder(id)
        .sizeBytes(10 * GIB)
        .replicas(replicas)
        .classification(c)
        .strategy(s);
  }

  @Property(tries = 100, seed = "4242")
  void placementIsDeterministic(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 5) int replicas,
      @ForAll Classification c,
      @ForAll ReplicationStrategy strategy) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.messy(rnd);
    List<NodeView> shuffled = new ArrayList<>(nodes);
    Collections.shuffle(shuffled, rnd);
    ClusterView a = Clusters.view(nodes);
    ClusterView b = Clusters.view(shuffled);
    PlacementRequest req =
        request("vol-" + seed, replicas, c, strategy)
            .consumerNode(nodes.get(rnd.nextInt(nodes.size())).id())
            .build();
    PlacementResult first = planner.place(req, a);
    assertThat(planner.place(req, a)).isEqualTo(first);
    assertThat(planner.place(req, b)).isEqualTo(first);
  }

  @Property(tries = 150, seed = "777")
  void everyReplicaPassesEveryNodeRule(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 6) int replicas,
      @ForAll Classification c,
      @ForAll ReplicationStrategy strategy) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.messy(rnd);
    ClusterView view = Clusters.view(nodes);
    PlacementRequest req =
        request("v" + seed, replicas, c, strategy)
            .pool("p0")
            .sizeBytes((1 + rnd.nextInt(300)) * GIB)
            .overcommitRatio(1 + rnd.nextInt(3))
            .minTrustScore(rnd.nextBoolean() ? null : 0.5)
            .consumerNode(nodes.get(0).id())
            .build();
    PlacementResult r = planner.place(req, view);
    List<NodeView> eligible = eligible(nodes, req);
    if (strategy != ReplicationStrategy.TRUST_DIVERSIFICATION) {
      assertThat(r.placed()).as(r.message()).isEqualTo(eligible.size() >= replicas);
    }
    if (!r.placed()) {
      return;
    }
    assertThat(r.replicas()).hasSize(replicas).doesNotHaveDuplicates();
    for (String id : r.replicas()) {
      NodeView n = view.node(id).orElseThrow();
      assertThat(n.trustTier().allows(c)).as("tier of %s", id).isTrue();
      assertThat(eligible).contains(n);
    }
    assertThat(r.minTrustScore())
        .isEqualTo(
            r.replicas().stream()
                .mapToDouble(id -> view.node(id).orElseThrow().trustScore())
                .min()
                .orElseThrow());
  }

  /** The independent, brute-force version of the per-node rules. */
  static List<NodeView> eligible(List<NodeView> nodes, PlacementRequest req) {
    List<NodeView> out = new ArrayList<>();
    for (NodeView n : nodes) {
      if (reasonOf(n, req) == null) {
        out.add(n);
      }
    }
    return out;
  }

  static RejectionReason reasonOf(NodeView n, PlacementRequest req) {
    if (req.excludeNodes().contains(n.id())) {
      return RejectionReason.EXCLUDED;
    }
    if (req.pool() != null && !n.pools().contains(req.pool())) {
      return RejectionReason.NOT_IN_POOL;
    }
    if (n.state() != NodeState.UP) {
      return RejectionReason.valueOf(n.state().name());
    }
    for (Map.Entry<String, String> e : req.nodeSelector().entrySet()) {
      if (!e.getValue().equals(n.labels().get(e.getKey()))) {
        return RejectionReason.SELECTOR_MISMATCH;
      }
    }
    if (!n.trustTier().allows(req.classification())
        || (req.minTrustScore() != null && n.trustScore() < req.minTrustScore())) {
      return RejectionReason.TRUST_TOO_LOW;
    }
    if (n.freeBytes() * req.overcommitRatio() < req.sizeBytes() - 1e-6) {
      return RejectionReason.INSUFFICIENT_FREE_SPACE;
    }
    return null;
  }

  @Property(tries = 150, seed = "31337")
  void replicasAreInDistinctDomainsAtTheHighestLevelThatHasEnough(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 6) int replicas,
      @ForAll Classification c) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.messy(rnd);
    ClusterView view = Clusters.view(nodes);
    PlacementRequest req =
        request("v" + seed, replicas, c, ReplicationStrategy.HIERARCHY_AWARE).build();
    List<NodeView> eligible = eligible(nodes, req);
    PlacementResult r = planner.place(req, view);
    if (eligible.size() < replicas) {
      assertThat(r.placed()).isFalse();
      assertThat(r.failure().kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES);
      return;
    }
    assertThat(r.placed()).as(r.message()).isTrue();
    int expected = 1;
    while (expected <= 4 && domains(eligible, expected) < replicas) {
      expected++;
    }
    assertThat(r.spreadLevel()).isEqualTo(Clusters.LEVELS.get(Math.min(expected, 4) - 1));
    assertThat(r.fellBack()).isEqualTo(expected > 1);
    List<NodeView> chosen = r.replicas().stream().map(id -> view.node(id).orElseThrow()).toList();
    assertThat(domainsOf(chosen, Math.min(expected, 4))).hasSize(replicas);
    for (int d = 1; d < expected; d++) {
      if (domains(eligible, d) >= 2 && replicas >= 2) {
        assertThat(domainsOf(chosen, d)).as("spread at depth %d", d).hasSizeGreaterThan(1);
      }
    }
  }

  private static int domains(List<NodeView> nodes, int depth) {
    return domainsOf(nodes, depth).size();
  }

  private static Set<String> domainsOf(List<NodeView> nodes, int depth) {
    return nodes.stream().map(n -> n.topology().domainAt(depth)).collect(Collectors.toSet());
  }

  @Property(tries = 60, seed = "99")
  void removingANodeMovesExactlyItsOwnReplicas(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 4) int replicas,
      @ForAll Classification c,
      @ForAll @IntRange(min = 0, max = 3) int how) {
    Assume.that(c != Classification.PUBLIC);
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.stable(rnd);
    ClusterView before = Clusters.view(nodes);
    NodeView victim = nodes.get(rnd.nextInt(nodes.size()));
    ClusterView after;
    if (how == 3) {
      List<NodeView> rest = new ArrayList<>(nodes);
      rest.remove(victim);
      after = before.withNodes(rest);
    } else {
      NodeState state = List.of(NodeState.DOWN, NodeState.DRAINING, NodeState.QUARANTINED).get(how);
      after = before.withNode(victim.withState(state));
    }
    for (int v = 0; v < VOLUMES; v++) {
      PlacementRequest req =
          request("vol-" + seed + "-" + v, replicas, c, ReplicationStrategy.HIERARCHY_AWARE)
              .build();
      PlacementResult b = planner.place(req, before);
      PlacementResult a = planner.place(req, after);
      if (!b.placed()) {
        assertThat(a.placed()).isFalse();
        continue;
      }
      if (!b.replicas().contains(victim.id())) {
        assertThat(a.replicas())
            .as("volume without a replica on the removed node")
            .isEqualTo(b.replicas());
        continue;
      }
      if (!a.placed()) {
        continue; // not enough nodes left: nothing moved between others either
      }
      Set<String> kept = new HashSet<>(b.replicas());
      kept.remove(victim.id());
      assertThat(a.replicas()).containsAll(kept).doesNotContain(victim.id()).hasSize(replicas);
    }
  }

  @Property(tries = 60, seed = "2718")
  void addingANodeOnlyMovesReplicasOntoIt(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 4) int replicas,
      @ForAll Classification c) {
    Assume.that(c != Classification.PUBLIC);
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.stable(rnd);
    ClusterView before = Clusters.view(nodes);
    NodeView sibling = nodes.get(rnd.nextInt(nodes.size()));
    String path = sibling.topology().toString();
    NodeView added =
        NodeView.builder("added", path.substring(0, path.lastIndexOf('=') + 1) + "added")
            .capacityBytes(sibling.capacityBytes())
            .trust(sibling.trustTier(), sibling.trustScore())
            .owner(sibling.owner())
            .pools(sibling.pools())
            .build();
    ClusterView after = before.withNode(added);
    int moved = 0;
    for (int v = 0; v < VOLUMES; v++) {
      PlacementRequest req =
          request("vol-" + seed + "-" + v, replicas, c, ReplicationStrategy.HIERARCHY_AWARE)
              .build();
      PlacementResult b = planner.place(req, before);
      PlacementResult a = planner.place(req, after);
      if (!b.placed()) {
        continue;
      }
      assertThat(a.placed()).isTrue();
      Set<String> gone = new HashSet<>(b.replicas());
      gone.removeAll(a.replicas());
      Set<String> arrived = new HashSet<>(a.replicas());
      arrived.removeAll(b.replicas());
      assertThat(gone).hasSizeLessThanOrEqualTo(1);
      assertThat(arrived).hasSameSizeAs(gone);
      if (!arrived.isEmpty()) {
        assertThat(arrived).containsExactly("added");
        moved++;
      }
    }
    assertThat(moved).isLessThanOrEqualTo(VOLUMES);
  }

  @Property(tries = 120, seed = "1618")
  void trustDiversificationNeverPutsTwoReplicasUnderOneOwner(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 5) int replicas,
      @ForAll Classification c) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.messy(rnd);
    ClusterView view = Clusters.view(nodes);
    PlacementRequest req =
        request("v" + seed, replicas, c, ReplicationStrategy.TRUST_DIVERSIFICATION).build();
    PlacementResult r = planner.place(req, view);
    List<NodeView> eligible = eligible(nodes, req);
    Set<String> owners = eligible.stream().map(ClusterView::ownerName).collect(Collectors.toSet());
    if (r.placed()) {
      List<String> chosenOwners =
          r.replicas().stream()
              .map(id -> ClusterView.ownerName(view.node(id).orElseThrow()))
              .toList();
      assertThat(chosenOwners).doesNotHaveDuplicates();
      assertThat(r.minTrustScore())
          .isGreaterThanOrEqualTo(PlacementPlanner.DEFAULT_THRESHOLDS[c.ordinal()] - 1e-9);
    } else if (eligible.size() >= replicas) {
      assertThat(r.failure().kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_OWNERS);
      assertThat(owners).hasSizeLessThan(replicas);
      assertThat(r.failure().domainsAvailable()).isEqualTo(owners.size());
      assertThat(r.failure().message()).contains("belong to " + owners.size());
    } else {
      assertThat(r.failure().kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES);
    }
  }

  @Property(tries = 200, seed = "8080")
  void failuresNameTheRealReasonsWithTheRealCounts(
      @ForAll long seed,
      @ForAll @IntRange(min = 1, max = 7) int replicas,
      @ForAll Classification c,
      @ForAll @IntRange(min = 0, max = 3) int poolChoice,
      @ForAll boolean selector) {
    Random rnd = new Random(seed);
    List<NodeView> nodes = Clusters.messy(rnd);
    ClusterView view = Clusters.view(nodes);
    String pool = new String[] {null, "p0", "p1", "nope"}[poolChoice];
    PlacementRequest req =
        request("v" + seed, replicas, c, ReplicationStrategy.HIERARCHY_AWARE)
            .pool(pool)
            .sizeBytes((1 + rnd.nextInt(600)) * GIB)
            .nodeSelector(selector ? Map.of("disk", "ssd") : Map.of())
            .build();
    PlacementResult r = planner.place(req, view);
    Map<RejectionReason, Integer> expected = new EnumMap<>(RejectionReason.class);
    int eligible = 0;
    for (NodeView n : nodes) {
      RejectionReason why = reasonOf(n, req);
      if (why == null) {
        eligible++;
      } else {
        expected.merge(why, 1, Integer::sum);
      }
    }
    assertThat(r.placed()).isEqualTo(eligible >= replicas);
    if (r.placed()) {
      return;
    }
    PlacementFailure f = r.failure();
    assertThat(f.kind()).isEqualTo(PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES);
    assertThat(f.rejections()).isEqualTo(expected);
    assertThat(f.eligibleNodes()).isEqualTo(eligible);
    assertThat(f.requiredNodes()).isEqualTo(replicas);
    assertThat(f.nodesConsidered()).isEqualTo(nodes.size());
    String m = f.message();
    assertThat(m).contains(eligible + (eligible == 1 ? " node is" : " nodes are") + " eligible");
    expected.forEach(
        (why, n) -> {
          switch (why) {
            case DRAINING -> assertThat(m).contains(n + " draining");
            case DOWN -> assertThat(m).contains(n + " down");
            case QUARANTINED -> assertThat(m).contains(n + " quarantined");
            case NOT_IN_POOL -> assertThat(m).contains(n + " not in pool " + pool);
            case SELECTOR_MISMATCH -> assertThat(m).contains(n + " not matching node selector");
            case TRUST_TOO_LOW -> assertThat(m).contains(n + " below trust ");
            case INSUFFICIENT_FREE_SPACE ->
                assertThat(m)
                    .contains(
                        n + " without " + PlacementExplainer.bytes(req.sizeBytes()) + " free");
            default -> throw new AssertionError(why);
          }
        });
    assertThat(f.suggestions()).isNotEmpty();
    assertThat(m).contains("To place it: ");
  }

  @Property(tries = 50, seed = "5")
  void replicaCountsOutsideOneToSevenAreRejected(@ForAll int replicas) {
    Assume.that(replicas < 1 || replicas > 7);
    assertThatThrownBy(
            () ->
                request("v", replicas, Classification.STANDARD, ReplicationStrategy.HIERARCHY_AWARE)
                    .build())
        .isInstanceOfSatisfying(
            InvalidPlacementRequestException.class,
            e -> assertThat(e.field()).isEqualTo("replicas"))
        .hasMessageContaining("replicas")
        .hasMessageContaining("between 1 and 7")
        .hasMessageContaining(Integer.toString(replicas));
  }

  @Property(tries = 50, seed = "6")
  void nonPositiveSizesAreRejected(@ForAll @LongRange(min = Long.MIN_VALUE, max = 0) long size) {
    assertThatThrownBy(() -> PlacementRequest.builder("v").sizeBytes(size).build())
        .isInstanceOfSatisfying(
            InvalidPlacementRequestException.class,
            e -> assertThat(e.field()).isEqualTo("sizeBytes"))
        .hasMessageContaining("greater than 0");
  }

  @Property(tries = 50, seed = "7")
  void unknownStrategyNamesAreRejected(
      @ForAll @AlphaChars @StringLength(min = 1, max = 14) String name) {
    Assume.that(
        java.util.Arrays.stream(ReplicationStrategy.values())
            .noneMatch(s -> s.name().equalsIgnoreCase(name)));
    assertThatThrownBy(() -> PlacementRequest.builder("v").strategy(name))
        .isInstanceOfSatisfying(
            InvalidPlacementRequestException.class,
            e -> assertThat(e.field()).isEqualTo("strategy"))
        .hasMessageContaining(name)
        .hasMessageContaining("HIERARCHY_AWARE, GEOGRAPHIC_DISTRIBUTION");
  }
}
