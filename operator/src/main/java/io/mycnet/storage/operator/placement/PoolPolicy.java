package io.mycnet.storage.operator.placement;

import java.util.Map;
import java.util.TreeMap;

/**
 * The placement rules a storage pool sets for every volume in it.
 *
 * @param name the pool's name (null for volumes outside any pool)
 * @param overcommitRatio bytes promised per byte free, {@code >= 1}
 * @param nodeSelector labels a node must carry
 * @param antiAffinity HARD or SOFT spread at {@code antiAffinityLevel}
 * @param antiAffinityLevel level name, or null for the outermost level
 * @param minTrustScore a minimum trust score on top of the tier rule, or null
 */
public record PoolPolicy(
    String name,
    double overcommitRatio,
    Map<String, String> nodeSelector,
    AntiAffinity antiAffinity,
    String antiAffinityLevel,
    Double minTrustScore) {

  public PoolPolicy {
    if (!(overcommitRatio >= 1.0)) {
      throw new IllegalArgumentException(
          "pool " + name + ": overcommitRatio must be >= 1.0, got " + overcommitRatio);
    }
    nodeSelector = nodeSelector == null ? Map.of() : Map.copyOf(new TreeMap<>(nodeSelector));
    if (antiAffinity == null) {
      antiAffinity = AntiAffinity.SOFT;
    }
  }

  /** No overcommit, no selector, SOFT spread from the outermost level. */
  public static PoolPolicy defaults(String name) {
    return new PoolPolicy(name, 1.0, Map.of(), AntiAffinity.SOFT, null, null);
  }

  /** A placement request for {@code a} under this pool's rules ({@code desiredReplicas}). */
  public PlacementRequest.Builder requestFor(Allocation a) {
    return PlacementRequest.builder(a.volumeId())
        .sizeBytes(a.sizeBytes())
        .replicas(a.desiredReplicas())
        .classification(a.classification())
        .strategy(a.strategy())
        .pool(a.pool())
        .overcommitRatio(overcommitRatio)
        .nodeSelector(nodeSelector)
        .antiAffinity(antiAffinity, antiAffinityLevel)
        .minTrustScore(minTrustScore);
  }
}
