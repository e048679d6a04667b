package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TopologyPath;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Places a volume's replicas on nodes: a pure, deterministic function of (request, view).
 *
 * <h2>Order</h2>
 *
 * Every volume ranks the nodes by a weighted rendezvous draw (see {@link DrawStream}): node {@code
 * i} draws {@code E_i ~ Exp(weight_i)}, a function of the volume id and of node {@code i}'s own
 * placement slot only; weight = capacity share × trust weight. The {@link DrawStream} yields the
 * eligible nodes in ascending {@code E} in {@code O(log N)} per node, so placement never scans the
 * cluster in the normal case.
 *
 * <h2>Eligibility</h2>
 *
 * A node may take a replica when it is in the pool, {@code UP} (down, draining and quarantined
 * nodes keep their slot and are skipped at selection: "out", never removed from the draw), matches
 * the node selector, has a trust tier allowing the classification (and the optional minimum score),
 * and has {@code sizeBytes / overcommitRatio} bytes free.
 *
 * <h2>Spread</h2>
 *
 * Replicas go to distinct domains at the highest level that has at least {@code replicas} domains
 * with eligible nodes; above that level they are spread as evenly as the domains allow ({@link
 * SpreadPlan}). Nodes are taken greedily in draw order, skipping any that would break a cap. These
 * caps form a laminar matroid, so the greedy result is the matroid's minimum basis in draw order:
 * when a node goes out exactly its own replicas move (each to the next admissible node in its
 * volume's order) and when a node is added the only replicas that move are those that move onto it.
 * HARD anti-affinity fails when the spread level would fall below the requested level; SOFT falls
 * back and says so.
 *
 * <h2>Strategies</h2>
 *
 * <ul>
 *   <li>{@code HIERARCHY_AWARE}: exactly the above: maximal failure-domain spread, draw order.
 *   <li>{@code GEOGRAPHIC_DISTRIBUTION}: the same caps (so distinct regions first), but each
 *       replica after the first is the candidate, among the next {@value #GEO_WINDOW} admissible
 *       ones in draw order, that is farthest from the replicas chosen so far: first the fewest
 *       shared topology levels with the closest chosen replica, then the largest great-circle
 *       distance to the closest chosen replica when both nodes have coordinates (an unknown
 *       distance counts as 0), then draw order.
 *   <li>{@code TRUST_DIVERSIFICATION}: the caps plus: no two replicas on nodes of the same owner
 *       (hard; unlabelled nodes share one owner) and at most {@code ceil(replicas / B)} replicas
 *       per trust band of width 0.05, B being the number of bands the eligible nodes span (soft:
 *       dropped, with a note, when it cannot be met). The tier rule already keeps every replica,
 *       hence the set's minimum trust, at or above the classification's threshold.
 *   <li>{@code PERFORMANCE_OPTIMIZED}: data locality. If the consumer's node is eligible it takes
 *       the first replica. The others come from the consumer's innermost domain (rack, then zone,
 *       then region) holding enough eligible nodes, ranked by a rendezvous draw whose weight is
 *       multiplied by a performance factor ((IO / median IO) × (median latency / latency), clamped
 *       to [0.25, 4]); without a consumer, or when no enclosing domain is big enough, the first
 *       {@value #PERF_WINDOW_PER_REPLICA}·replicas nodes of the cluster-wide draw order are ranked
 *       the same way. Only node-level spread is kept.
 * </ul>
 *
 * <h2>Failure</h2>
 *
 * When no replica set exists, the result carries a {@link PlacementFailure}: rejected nodes per
 * rule, the rule that made it impossible, and what would make it succeed.
 */
public final class PlacementPlanner {
  static final int GEO_WINDOW = 8;
  static final int PERF_WINDOW_PER_REPLICA = 4;
  private static final int BUDGET_BASE = 64;
  private static final int BUDGET_PER_REPLICA = 16;

  /** Default trust thresholds per classification (docs/architecture.md), used in explanations. */
  static final double[] DEFAULT_THRESHOLDS = {0.9, 0.7, 0.5, 0.1};

  private static final ThreadLocal<DrawStream.Scratch> SCRATCH =
      ThreadLocal.withInitial(DrawStream.Scratch::new);

  /**
   * Places {@code request} on {@code view}.
   *
   * @throws InvalidPlacementRequestException when the request names a level, kept replica or
   *     consumer the view does not know
   */
  public PlacementResult place(PlacementRequest request, ClusterView view) {
    return place(request, view, null);
  }

  /** As {@link #place(PlacementRequest, ClusterView)}, with bytes already reserved per node. */
  PlacementResult place(PlacementRequest request, ClusterView view, long[] reserved) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(view, "view");
    Attempt c = new Attempt(request, view, reserved);
    if (c.pinned.length == c.replicas) {
      return success(c, c.pinned.clone(), view.depthLeaf, List.of());
    }
    if (request.strategy() == ReplicationStrategy.PERFORMANCE_OPTIMIZED) {
      return placeNearConsumer(c);
    }
    PlacementResult r = ladder(c, c.approximateCounts(), true);
    if (r != null) {
      return r;
    }
    ExactEligibility exact = c.exact();
    r = ladder(c, exact.counts, false);
    return r != null ? r : failure(c, exact);
  }

  // ---------------------------------------------------------------------------------------------
  // Spread strategies.

  private PlacementResult ladder(Attempt c, EligibleCounts counts, boolean budgeted) {
    int maxDepth = c.hard ? c.preferredDepth : c.view.depthLeaf;
    for (int depth = 1; depth <= maxDepth; depth++) {
      if (counts.domainsWith[depth] < c.replicas) {
        continue;
      }
      SpreadPlan plan = counts.plan(c.replicas, depth);
      if (!plan.feasible) {
        continue;
      }
      boolean trust = c.req.strategy() == ReplicationStrategy.TRUST_DIVERSIFICATION;
      for (int variant = 0; variant < (trust ? 2 : 1); variant++) {
        boolean bands = trust && variant == 0;
        int[] chosen = select(c, plan, counts, bands, budgeted);
        if (chosen != null) {
          List<String> notes = new ArrayList<>();
          if (depth > c.preferredDepth) {
            notes.add(fallbackNote(c, counts, depth));
          }
          if (trust && !bands && counts.bandCount > 1) {
            notes.add(
                "replicas could not also be spread over the "
                    + counts.bandCount
                    + " trust bands within the other rules; bands not enforced");
          }
          return success(c, chosen, depth, notes);
        }
        if (c.abort) {
          c.abort = false;
          return null;
        }
      }
    }
    if (c.req.strategy() == ReplicationStrategy.TRUST_DIVERSIFICATION
        && maxDepth == c.view.depthLeaf
        && counts.domainsWith[maxDepth] >= c.replicas) {
      // Owners first: the greedy over owners and nested caps together can miss a solution that
      // owners alone admit (two matroids intersect), so keep only distinct nodes and owners.
      int[] chosen = select(c, SpreadPlan.nodesOnly(c.view, c.replicas), counts, false, budgeted);
      if (chosen != null) {
        return success(
            c,
            chosen,
            c.view.depthLeaf,
            List.of(
                "distinct owners could not be combined with failure-domain spread: replicas are"
                    + " only guaranteed to be on distinct nodes of distinct owners"));
      }
      c.abort = false;
    }
    return null;
  }

  private static String fallbackNote(Attempt c, EligibleCounts counts, int depth) {
    String want = c.view.levelName(c.preferredDepth);
    return "only "
        + counts.domainsWith[c.preferredDepth]
        + " "
        + want
        + "(s) have eligible nodes and "
        + c.replicas
        + " replicas are needed: replicas are in distinct "
        + c.view.levelName(depth)
        + "s instead";
  }

  private int[] select(
      Attempt c, SpreadPlan plan, EligibleCounts counts, boolean bands, boolean budgeted) {
    ClusterView view = c.view;
    int r = c.replicas;
    int[] chosen = new int[r];
    System.arraycopy(c.pinned, 0, chosen, 0, c.pinned.length);
    int size = c.pinned.length;
    DrawStream stream = c.stream();
    boolean trust = c.req.strategy() == ReplicationStrategy.TRUST_DIVERSIFICATION;
    int bandCap = bands ? (r + counts.bandCount - 1) / Math.max(1, counts.bandCount) : r;
    int budget = budgeted ? BUDGET_BASE + BUDGET_PER_REPLICA * r : Integer.MAX_VALUE;
    if (c.req.strategy() == ReplicationStrategy.GEOGRAPHIC_DISTRIBUTION) {
      return selectFarthest(c, plan, stream, chosen, size, budget);
    }
    while (size < r) {
      int n = stream.next();
      if (n < 0) {
        c.abort = budgeted; // the cached counts were too hopeful: redo with exact ones
        return null;
      }
      if (stream.emitted() == budget && !c.stillFeasible(plan)) {
        c.abort = true;
        return null;
      }
      if (plan.admits(view, n, chosen, size)
          && (!trust || trustAdmits(view, n, chosen, size, bandCap))) {
        chosen[size++] = n;
      }
    }
    return chosen;
  }

  private static boolean trustAdmits(ClusterView view, int n, int[] chosen, int size, int cap) {
    int sameBand = 1;
    for (int i = 0; i < size; i++) {
      int o = chosen[i];
      if (view.ownerOf[o] == view.ownerOf[n]) {
        return false;
      }
      if (view.bandOf[o] == view.bandOf[n]) {
        sameBand++;
      }
    }
    return sameBand <= cap;
  }

  private int[] selectFarthest(
      Attempt c, SpreadPlan plan, DrawStream stream, int[] chosen, int size, int budget) {
    ClusterView view = c.view;
    List<Integer> window = new ArrayList<>(GEO_WINDOW);
    boolean exhausted = false;
    while (size < c.replicas) {
      final int fixed = size;
      window.removeIf(n -> !plan.admits(view, n, chosen, fixed));
      while (!exhausted && window.size() < GEO_WINDOW) {
        int n = stream.next();
        if (n < 0) {
          exhausted = true;
          break;
        }
        if (stream.emitted() == budget && !c.stillFeasible(plan)) {
          c.abort = true;
          return null;
        }
        if (plan.admits(view, n, chosen, size)) {
          window.add(n);
        }
      }
      if (window.isEmpty()) {
        c.abort = budget != Integer.MAX_VALUE;
        return null;
      }
      int best = 0;
      int bestShared = Integer.MAX_VALUE;
      double bestDist = -1;
      for (int k = 0; k < window.size(); k++) {
        int n = window.get(k);
        int shared = 0;
        double dist = Double.POSITIVE_INFINITY;
        for (int i = 0; i < size; i++) {
          shared = Math.max(shared, view.sharedDepth(n, chosen[i]));
          dist = Math.min(dist, distance(view, n, chosen[i]));
        }
        if (shared < bestShared || (shared == bestShared && dist > bestDist)) {
          best = k;
          bestShared = shared;
          bestDist = dist;
        }
      }
      chosen[size++] = window.remove(best);
    }
    return chosen;
  }

  private static double distance(ClusterView view, int a, int b) {
    GeoPoint pa = view.nodeAt(a).location();
    GeoPoint pb = view.nodeAt(b).location();
    return pa == null || pb == null ? 0 : pa.distanceKm(pb);
  }

  // ---------------------------------------------------------------------------------------------
  // PERFORMANCE_OPTIMIZED.

  private PlacementResult placeNearConsumer(Attempt c) {
    ClusterView view = c.view;
    int r = c.replicas;
    List<Integer> chosen = new ArrayList<>();
    for (int p : c.pinned) {
      chosen.add(p);
    }
    List<String> notes = new ArrayList<>();
    TopologyPath consumer = c.consumerPath;
    int local = c.req.consumerNode() == null ? -1 : view.indexOf(c.req.consumerNode());
    if (local >= 0 && !chosen.contains(local) && c.filter.accepts(local)) {
      chosen.add(local);
      notes.add("local replica on the consumer's node " + view.nodeAt(local).id());
    }
    if (chosen.size() < r && consumer != null) {
      ClusterView.EligibilityIndex idx = c.idx;
      for (int d = view.levels().size(); d >= 1 && chosen.size() < r; d--) {
        Integer dom = view.domainIndex.get(d).get(consumer.domainAt(d));
        if (dom == null || idx.count[d][dom] + chosen.size() < r) {
          continue;
        }
        List<Integer> candidates = new ArrayList<>();
        for (int n : view.membersOf[d][dom]) {
          if (!chosen.contains(n) && c.filter.accepts(n)) {
            candidates.add(n);
          }
        }
        if (candidates.size() + chosen.size() < r) {
          continue;
        }
        Map<Integer, Double> key = new HashMap<>();
        for (int n : candidates) {
          double e = PlacementHash.exp1(PlacementHash.combine(c.volumeHash, view.idHash[n]));
          key.put(n, e / (view.weight[n] * view.perfFactor[n]));
        }
        candidates.sort(Comparator.comparingDouble(key::get));
        for (int k = 0; chosen.size() < r; k++) {
          chosen.add(candidates.get(k));
        }
        notes.add("replicas near the consumer, in " + view.domainName[d][dom]);
      }
    }
    if (chosen.size() < r) {
      DrawStream stream = c.stream();
      for (int n : chosen) {
        stream.skip(n);
      }
      List<Integer> window = new ArrayList<>();
      Map<Integer, Double> key = new HashMap<>();
      int limit = PERF_WINDOW_PER_REPLICA * r;
      for (int n = stream.next(); n >= 0; n = window.size() < limit ? stream.next() : -1) {
        window.add(n);
        key.put(n, stream.lastDraw() / view.perfFactor[n]);
      }
      if (window.size() + chosen.size() >= r) {
        window.sort(Comparator.comparingDouble(key::get));
        for (int k = 0; chosen.size() < r; k++) {
          chosen.add(window.get(k));
        }
        if (consumer != null) {
          notes.add("no domain around the consumer has enough eligible nodes; placed cluster-wide");
        }
      }
    }
    if (chosen.size() < r) {
      return failure(c, c.exact());
    }
    return success(c, chosen.stream().mapToInt(Integer::intValue).toArray(), view.depthLeaf, notes);
  }

  // ---------------------------------------------------------------------------------------------
  // Results.

  private static PlacementResult success(Attempt c, int[] chosen, int depth, List<String> notes) {
    ClusterView view = c.view;
    List<String> replicas = new ArrayList<>();
    double minTrust = Double.POSITIVE_INFINITY;
    for (int n : chosen) {
      replicas.add(view.nodeAt(n).id());
      minTrust = Math.min(minTrust, view.nodeAt(n).trustScore());
    }
    return new PlacementResult(
        c.req.volumeId(),
        c.req.strategy(),
        replicas,
        replicas.subList(c.pinned.length, replicas.size()),
        view.levelName(depth),
        depth > c.preferredDepth && chosen.length > c.pinned.length,
        minTrust,
        notes,
        null);
  }

  private static PlacementResult failure(Attempt c, ExactEligibility exact) {
    return PlacementResult.failed(
        c.req.volumeId(), c.req.strategy(), PlacementExplainer.explain(c, exact));
  }

  // ---------------------------------------------------------------------------------------------
  // Per-request state.

  /**
   * How many eligible nodes each topology domain holds, per depth ({@code count[depth][domain]}),
   * how many domains at each depth hold at least one, how many trust bands the eligible nodes span,
   * and the spread plans derived from these numbers (memoised per replica count and depth). Either
   * approximate (from the view's cached eligibility index, which knows UP, pool and tier only) or
   * exact (from {@link ExactEligibility}).
   */
  static final class EligibleCounts {
    final int[][] count;
    final int[] domainsWith;
    final int bandCount;
    private final ClusterView view;
    private final ClusterView.EligibilityIndex cached;
    private final Map<Integer, SpreadPlan> plans = new HashMap<>();

    EligibleCounts(
        ClusterView view, int[][] count, int bandCount, ClusterView.EligibilityIndex cached) {
      this.view = view;
      this.count = count;
      this.bandCount = bandCount;
      this.cached = cached;
      if (cached != null) {
        this.domainsWith = cached.domainsWithEligible;
        return;
      }
      this.domainsWith = new int[count.length];
      for (int d = 0; d < count.length; d++) {
        for (int v : count[d]) {
          if (v > 0) {
            domainsWith[d]++;
          }
        }
      }
    }

    SpreadPlan plan(int replicas, int depth) {
      if (cached != null) {
        return cached.plan(replicas, depth);
      }
      return plans.computeIfAbsent(
          replicas * 64 + depth, k -> SpreadPlan.compute(view, count, replicas, depth));
    }
  }

  /**
   * The result of checking every node against every rule of the request: the slow, exact path,
   * taken only when the approximate counts did not lead to a placement. Holds the rejection reason
   * per node (null: eligible), the number of eligible nodes, their exact {@link EligibleCounts} and
   * how many distinct owners they belong to; a failure is explained from it.
   */
  static final class ExactEligibility {
    final RejectionReason[] reason;
    final int eligible;
    final EligibleCounts counts;
    final int owners;

    ExactEligibility(RejectionReason[] reason, int eligible, EligibleCounts counts, int owners) {
      this.reason = reason;
      this.eligible = eligible;
      this.counts = counts;
      this.owners = owners;
    }
  }

  /**
   * One placement of one request on one view: the validated request (kept replicas resolved to node
   * indexes, anti-affinity level to a depth, consumer to a topology path), the node filter built
   * from it, and the {@link ExactEligibility} once computed. Construction rejects a request the
   * view cannot satisfy by name ({@link InvalidPlacementRequestException}); it lives for one call
   * to {@code place} and is not shared between threads.
   */
  static final class Attempt {
    final PlacementRequest req;
    final ClusterView view;
    final NodeFilter filter;
    final int[] pinned;
    final int replicas;
    final long volumeHash;
    final ClusterView.EligibilityIndex idx;
    final boolean hard;
    final int preferredDepth;
    final TopologyPath consumerPath;
    boolean abort;
    private ExactEligibility exact;

    Attempt(PlacementRequest req, ClusterView view, long[] reserved) {
      this.req = req;
      this.view = view;
      this.replicas = req.replicas();
      this.pinned = new int[req.keepReplicas().size()];
      for (int i = 0; i < pinned.length; i++) {
        String id = req.keepReplicas().get(i);
        pinned[i] = view.indexOf(id);
        if (pinned[i] < 0) {
          throw new InvalidPlacementRequestException(
              "keepReplicas", "node " + id + " is not in the cluster view");
        }
      }
      List<Integer> excluded = new ArrayList<>();
      for (String id : req.excludeNodes()) {
        int i = view.indexOf(id);
        if (i >= 0) {
          excluded.add(i);
        }
      }
      for (int p : pinned) {
        excluded.add(p);
      }
      this.filter =
          new NodeFilter(
              view, req, excluded.stream().mapToInt(Integer::intValue).toArray(), reserved);
      this.volumeHash = PlacementHash.of(req.volumeId());
      this.idx = view.eligibility(req.pool(), req.classification());
      this.hard = req.antiAffinity() == AntiAffinity.HARD;
      if (req.antiAffinityLevel() == null) {
        preferredDepth = 1;
      } else {
        preferredDepth = view.depthOfLevel(req.antiAffinityLevel());
        if (preferredDepth < 0) {
          throw new InvalidPlacementRequestException(
              "antiAffinityLevel",
              "unknown level '"
                  + req.antiAffinityLevel()
                  + "'; one of "
                  + String.join(", ", view.spreadLevels()));
        }
      }
      if (req.strategy() == ReplicationStrategy.PERFORMANCE_OPTIMIZED
          && hard
          && !view.levelName(preferredDepth).equals(ClusterView.NODE_LEVEL)) {
        throw new InvalidPlacementRequestException(
            "antiAffinityLevel",
            "PERFORMANCE_OPTIMIZED keeps replicas near the consumer with node-level spread only;"
                + " HARD anti-affinity at '"
                + req.antiAffinityLevel()
                + "' needs HIERARCHY_AWARE, GEOGRAPHIC_DISTRIBUTION or TRUST_DIVERSIFICATION");
      }
      TopologyPath consumer = req.consumerTopology();
      if (req.consumerNode() != null) {
        int i = view.indexOf(req.consumerNode());
        if (i >= 0) {
          consumer = view.nodeAt(i).topology();
        } else if (consumer == null) {
          throw new InvalidPlacementRequestException(
              "consumerNode",
              "node "
                  + req.consumerNode()
                  + " is not in the cluster view; give consumerTopology for a node without"
                  + " storage");
        }
      }
      this.consumerPath = consumer;
    }

    DrawStream stream() {
      return new DrawStream(view, filter, volumeHash, SCRATCH.get());
    }

    /** Counts from the view's cached index (UP, pool, tier), with kept replicas added. */
    EligibleCounts approximateCounts() {
      if (pinned.length == 0) {
        return new EligibleCounts(view, idx.count, idx.bandCount, idx);
      }
      int[][] count = new int[idx.count.length][];
      for (int d = 0; d < count.length; d++) {
        count[d] = idx.count[d].clone();
      }
      int bands = 0;
      for (int i = 0; i < view.nodeCount; i++) {
        if (view.up[i] && filter.tierLimit >= view.tierOrd[i]) {
          bands |= 1 << view.bandOf[i];
        }
      }
      for (int p : pinned) {
        bands |= 1 << view.bandOf[p];
        if (count[view.depthLeaf][p] == 0) {
          for (int d = 0; d < count.length; d++) {
            count[d][view.domainOf[d][p]]++;
          }
        }
      }
      return new EligibleCounts(view, count, Integer.bitCount(bands), null);
    }

    /** Every node checked against every rule; kept replicas count as eligible. */
    ExactEligibility exact() {
      if (exact != null) {
        return exact;
      }
      int depths = view.depthLeaf + 1;
      int[][] count = new int[depths][];
      for (int d = 0; d < depths; d++) {
        count[d] = new int[view.domainCount[d]];
      }
      RejectionReason[] reason = new RejectionReason[view.nodeCount];
      boolean[] owners = new boolean[view.ownerNames.size()];
      int ownerCount = 0;
      int bands = 0;
      int eligible = 0;
      boolean[] isPinned = new boolean[view.nodeCount];
      for (int p : pinned) {
        isPinned[p] = true;
      }
      for (int i = 0; i < view.nodeCount; i++) {
        reason[i] = isPinned[i] ? null : filter.reject(i);
        if (reason[i] == null) {
          if (!isPinned[i]) {
            eligible++;
          }
          for (int d = 0; d < depths; d++) {
            count[d][view.domainOf[d][i]]++;
          }
          if (!owners[view.ownerOf[i]]) {
            owners[view.ownerOf[i]] = true;
            ownerCount++;
          }
          bands |= 1 << view.bandOf[i];
        }
      }
      exact =
          new ExactEligibility(
              reason,
              eligible,
              new EligibleCounts(view, count, Integer.bitCount(bands), null),
              ownerCount);
      return exact;
    }

    /** Whether {@code plan} can still be completed given the exact eligibility (a budget check). */
    boolean stillFeasible(SpreadPlan plan) {
      return plan.rankWith(view, exact().counts.count) >= replicas;
    }
  }
}
