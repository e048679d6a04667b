package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import java.util.Arrays;
import java.util.Map;

/** The per-request eligibility rules, applied to a node or (conservatively) to a slot range. */
final class NodeFilter {
  final ClusterView view;
  final Classification classification;
  final String pool;
  final int tierLimit;
  final long needFree;
  final int poolIdx;
  final boolean unknownPool;
  final long poolBit;
  final Map<String, String> selector;
  final double minScore;
  final long[] reserved;
  private final int[] excluded;

  NodeFilter(ClusterView view, PlacementRequest req, int[] excludedNodes, long[] reserved) {
    this(
        view,
        req.classification(),
        req.pool(),
        requiredFree(req.sizeBytes(), req.overcommitRatio()),
        req.nodeSelector(),
        req.minTrustScore() == null ? 0 : req.minTrustScore(),
        excludedNodes,
        reserved);
  }

  NodeFilter(
      ClusterView view,
      Classification classification,
      String pool,
      long needFree,
      Map<String, String> selector,
      double minScore,
      int[] excludedNodes,
      long[] reserved) {
    this.view = view;
    this.classification = classification;
    this.pool = pool;
    this.tierLimit = classification.ordinal();
    this.needFree = needFree;
    this.poolIdx = pool == null ? -1 : view.poolIndexOf(pool);
    this.unknownPool = pool != null && poolIdx < 0;
    this.poolBit = poolIdx < 0 ? 0 : poolIdx < 63 ? 1L << poolIdx : 1L << 63;
    this.selector = selector == null ? Map.of() : selector;
    this.minScore = minScore;
    this.reserved = reserved;
    int[] ex = excludedNodes == null ? new int[0] : excludedNodes.clone();
    Arrays.sort(ex);
    this.excluded = ex;
  }

  /** Bytes a node must have free: the size divided by the overcommit ratio, rounded up. */
  static long requiredFree(long size, double overcommit) {
    return (long) Math.ceil(size / overcommit);
  }

  NodeFilter withClassification(Classification c) {
    return new NodeFilter(view, c, pool, needFree, selector, 0, excluded, reserved);
  }

  /**
   * False only when no UP node in slot range {@code [idx*2^h, (idx+1)*2^h)} can pass the tier, pool
   * and free-space rules (a range that may hold one returns true).
   */
  boolean rangeMayContain(int h, long idx) {
    if (unknownPool || h >= view.aggTier.length) {
      return false;
    }
    byte[] tiers = view.aggTier[h];
    if (idx >= tiers.length) {
      return false;
    }
    int i = (int) idx;
    return tiers[i] <= tierLimit
        && view.aggFree[h][i] >= needFree
        && (poolBit == 0 || (view.aggPools[h][i] & poolBit) != 0);
  }

  boolean isExcluded(int n) {
    return excluded.length > 0 && Arrays.binarySearch(excluded, n) >= 0;
  }

  int[] excluded() {
    return excluded;
  }

  /** The first rule node {@code n} fails, or null when it may take a replica. */
  RejectionReason reject(int n) {
    if (isExcluded(n)) {
      return RejectionReason.EXCLUDED;
    }
    NodeView v = view.nodeAt(n);
    if (unknownPool || (poolIdx >= 0 && !v.pools().contains(view.poolNames.get(poolIdx)))) {
      return RejectionReason.NOT_IN_POOL;
    }
    switch (v.state()) {
      case DOWN:
        return RejectionReason.DOWN;
      case DRAINING:
        return RejectionReason.DRAINING;
      case QUARANTINED:
        return RejectionReason.QUARANTINED;
      default:
        break;
    }
    for (Map.Entry<String, String> e : selector.entrySet()) {
      if (!e.getValue().equals(v.labels().get(e.getKey()))) {
        return RejectionReason.SELECTOR_MISMATCH;
      }
    }
    if (view.tierOrd[n] > tierLimit || v.trustScore() < minScore) {
      return RejectionReason.TRUST_TOO_LOW;
    }
    if (freeOf(n) < needFree) {
      return RejectionReason.INSUFFICIENT_FREE_SPACE;
    }
    return null;
  }

  boolean accepts(int n) {
    return reject(n) == null;
  }

  /** Free bytes of node {@code n} after this plan's own reservations. */
  long freeOf(int n) {
    return view.freeBytes[n] - (reserved == null ? 0 : reserved[n]);
  }
}
