package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import java.time.Duration;
import java.util.Comparator;

/**
 * How urgent a rebuild is. Ordered most urgent first: fewest healthy replicas, then the stricter
 * classification, then the lower minimum trust among the healthy replicas left.
 *
 * @param healthyReplicas healthy, readable replicas left (including an evacuating one)
 * @param classification the volume's classification
 * @param minHealthyTrust lowest trust score among those replicas (0 when none)
 * @param estimatedTimeToLoss expected time until the last healthy replica fails if nothing is
 *     rebuilt, with independent node failures at rate {@code 1 / (mttf * max(score, 0.05))}
 */
public record RebuildPriority(
    int healthyReplicas,
    Classification classification,
    double minHealthyTrust,
    Duration estimatedTimeToLoss)
    implements Comparable<RebuildPriority> {

  private static final Comparator<RebuildPriority> ORDER =
      Comparator.comparingInt(RebuildPriority::healthyReplicas)
          .thenComparing(p -> p.classification().ordinal())
          .thenComparingDouble(RebuildPriority::minHealthyTrust);

  @Override
  public int compareTo(RebuildPriority o) {
    return ORDER.compare(this, o);
  }
}
