package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import java.util.Optional;
import java.util.Set;

/**
 * One factor's part in a score.
 *
 * @param factor the factor
 * @param source VERIFIED (measured by the control plane) or REPORTED (claimed by the agent)
 * @param mean posterior mean of the factor's Beta evidence under the uniform prior
 * @param lowerBound lower confidence bound of that posterior at the policy's confidence
 * @param value what the score uses: the lower bound, capped when a reported claim is contradicted
 * @param evidenceCount events recorded for this factor (not decayed)
 * @param evidenceWeight decayed evidence weight α + β (at most 1 / (1 - λ))
 * @param latest success weight of the most recent event, NaN when there is none
 * @param weight the factor's effective weight (normalised, reported cap applied)
 * @param contribution {@code weight * value}
 * @param contradiction present when observation contradicts this reported factor
 */
public record FactorBreakdown(
    TrustFactor factor,
    TrustFactor.Source source,
    double mean,
    double lowerBound,
    double value,
    long evidenceCount,
    double evidenceWeight,
    double latest,
    double weight,
    double contribution,
    Optional<Contradiction> contradiction) {

  /**
   * A REPORTED factor claims more than the VERIFIED factors observing the same property support.
   *
   * @param observedBy the corroborating factors that had enough evidence to count
   * @param observedMean the mean of their posterior means
   * @param tolerance the policy's contradiction tolerance
   * @param cap {@code observedMean + tolerance}: the most the claim may count for
   */
  public record Contradiction(
      Set<TrustFactor> observedBy, double observedMean, double tolerance, double cap) {}

  public boolean contradicted() {
    return contradiction.isPresent();
  }
}
