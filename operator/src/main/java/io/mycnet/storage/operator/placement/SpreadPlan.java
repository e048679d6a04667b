package io.mycnet.storage.operator.placement;

/**
 * How many replicas each failure domain may hold for one placement: replicas in distinct domains at
 * {@link #depth}, and above it as evenly spread as the eligible domains allow.
 *
 * <p>Above {@code depth}, a domain's cap comes from water-filling among its siblings: with parent
 * cap {@code c} and children that can hold {@code k_i} replicas each (the number of eligible {@code
 * depth}-domains under them), every child gets {@code min(w, k_i)} where {@code w} is the smallest
 * level with {@code sum(min(w, k_i)) >= c}. Three replicas over two regions give caps 2 and 2; over
 * three regions 1, 1, 1; over regions holding 1, 1 and 10 zones, for five replicas, 1, 1 and 3.
 *
 * <p>These caps on the nested domains form a <em>laminar matroid</em>; picking nodes greedily in
 * draw order under them gives the matroid's minimum basis, which is what makes placement move the
 * least: removing a node swaps exactly its own replica, adding one swaps at most one replica (onto
 * the new node).
 */
final class SpreadPlan {
  /** The depth at which replicas are in distinct domains (1 = outermost level). */
  final int depth;

  final int replicas;

  /** caps[d][domain] for 1 <= d < depth; rows at other depths are null. */
  final int[][] caps;

  final boolean feasible;

  /** True for the last-resort plan that only keeps replicas on distinct nodes. */
  final boolean nodesOnly;

  private SpreadPlan(int depth, int replicas, int[][] caps, boolean feasible) {
    this(depth, replicas, caps, feasible, false);
  }

  private SpreadPlan(int depth, int replicas, int[][] caps, boolean feasible, boolean nodesOnly) {
    this.depth = depth;
    this.replicas = replicas;
    this.caps = caps;
    this.feasible = feasible;
    this.nodesOnly = nodesOnly;
  }

  /** Distinct nodes, no cap on any domain: the last resort when other rules must come first. */
  static SpreadPlan nodesOnly(ClusterView view, int replicas) {
    return new SpreadPlan(view.depthLeaf, replicas, new int[view.depthLeaf][], true, true);
  }

  /**
   * Plans {@code replicas} replicas distinct at {@code depth}, given {@code count[d][domain]} =
   * eligible nodes per domain.
   */
  static SpreadPlan compute(ClusterView view, int[][] count, int replicas, int depth) {
    int[][] room = new int[depth][];
    for (int d = 0; d < depth; d++) {
      room[d] = new int[view.domainCount[d]];
    }
    int[] parentAtDepth = view.parentOf[depth];
    for (int dom = 0; dom < view.domainCount[depth]; dom++) {
      if (count[depth][dom] == 0) {
        continue;
      }
      int a = dom;
      for (int d = depth - 1; d >= 0; d--) {
        a = view.parentOf[d + 1][a];
        room[d][a]++;
      }
    }
    if (room[0][0] < replicas) {
      return new SpreadPlan(depth, replicas, new int[depth][], false);
    }
    int[][] caps = new int[depth][];
    caps[0] = new int[] {replicas};
    for (int d = 1; d < depth; d++) {
      caps[d] = new int[view.domainCount[d]];
      for (int parent = 0; parent < view.domainCount[d - 1]; parent++) {
        int c = caps[d - 1][parent];
        if (c == 0) {
          continue;
        }
        int[] children = view.childrenOf[d - 1][parent];
        int level = 0;
        for (int w = 1; w <= c; w++) {
          int sum = 0;
          for (int child : children) {
            sum += Math.min(w, room[d][child]);
          }
          if (sum >= c) {
            level = w;
            break;
          }
        }
        if (level == 0) {
          return new SpreadPlan(depth, replicas, caps, false);
        }
        for (int child : children) {
          caps[d][child] = Math.min(level, room[d][child]);
        }
      }
    }
    return new SpreadPlan(depth, replicas, caps, true);
  }

  /**
   * The most replicas this plan's caps admit when {@code count} gives the eligible nodes per domain
   * (the laminar matroid's rank).
   */
  int rankWith(ClusterView view, int[][] count) {
    if (nodesOnly) {
      return count[0][0];
    }
    int[] below = new int[view.domainCount[depth]];
    for (int dom = 0; dom < below.length; dom++) {
      below[dom] = count[depth][dom] > 0 ? 1 : 0;
    }
    for (int d = depth - 1; d >= 0; d--) {
      int[] sums = new int[view.domainCount[d]];
      int[] parents = view.parentOf[d + 1];
      for (int child = 0; child < below.length; child++) {
        sums[parents[child]] += below[child];
      }
      for (int dom = 0; dom < sums.length; dom++) {
        sums[dom] = Math.min(sums[dom], caps[d][dom]);
      }
      below = sums;
    }
    return below[0];
  }

  /**
   * True when node {@code n} may join the replicas {@code chosen[0..size)} under this plan: not the
   * same node, not the same domain at {@link #depth}, and within every cap above it.
   */
  boolean admits(ClusterView view, int n, int[] chosen, int size) {
    int[] atDepth = view.domainOf[depth];
    int mine = atDepth[n];
    for (int i = 0; i < size; i++) {
      int c = chosen[i];
      if (c == n || atDepth[c] == mine) {
        return false;
      }
    }
    if (nodesOnly) {
      return true;
    }
    for (int d = 1; d < depth; d++) {
      int[] of = view.domainOf[d];
      int dom = of[n];
      int used = 1;
      for (int i = 0; i < size; i++) {
        if (of[chosen[i]] == dom) {
          used++;
        }
      }
      if (used > caps[d][dom]) {
        return false;
      }
    }
    return true;
  }
}
