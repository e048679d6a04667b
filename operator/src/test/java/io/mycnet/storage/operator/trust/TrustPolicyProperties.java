package io.mycnet.storage.operator.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.Scale;

/** Invalid policies are rejected naming the field; valid ones are accepted (fixed seeds). */
class TrustPolicyProperties {

  @Property(tries = 200, seed = "20250301")
  void aNegativeWeightIsRejectedNamingTheFactor(
      @ForAll TrustFactor factor,
      @ForAll @DoubleRange(min = -1e6, max = -1e-6) @Scale(8) double weight) {
    assertThatThrownBy(() -> TrustPolicy.builder().weight(factor, weight).build())
        .isInstanceOfSatisfying(
            InvalidTrustPolicyException.class,
            e -> assertThat(e.field()).isEqualTo("weights." + factor.name()))
        .hasMessage("weights." + factor.name() + " must be >= 0, was " + weight);
  }

  @Property(tries = 300, seed = "20250302")
  void thresholdsOutOfOrderAreRejected(
      @ForAll @DoubleRange(min = 0, max = 1) @Scale(4) double critical,
      @ForAll @DoubleRange(min = 0, max = 1) @Scale(4) double sensitive,
      @ForAll @DoubleRange(min = 0, max = 1) @Scale(4) double standard,
      @ForAll @DoubleRange(min = 0, max = 1) @Scale(4) double pub) {
    Assume.that(!(critical > sensitive && sensitive > standard && standard > pub));
    assertThatThrownBy(
            () ->
                TrustPolicy.builder()
                    .threshold(TrustTier.CRITICAL, critical)
                    .threshold(TrustTier.SENSITIVE, sensitive)
                    .threshold(TrustTier.STANDARD, standard)
                    .threshold(TrustTier.PUBLIC, pub)
                    .build())
        .isInstanceOfSatisfying(
            InvalidTrustPolicyException.class, e -> assertThat(e.field()).isEqualTo("thresholds"))
        .hasMessageStartingWith(
            "thresholds must be in decreasing order CRITICAL > SENSITIVE > STANDARD > PUBLIC");
  }

  @Provide
  Arbitrary<Double> decaysOutsideTheUnitInterval() {
    return Arbitraries.oneOf(
        Arbitraries.doubles().between(-10, 0).ofScale(6),
        Arbitraries.doubles().between(1, 10).ofScale(6).filter(d -> d > 1),
        Arbitraries.of(
            Double.NaN, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, Math.nextUp(1.0)));
  }

  @Property(tries = 200, seed = "20250303")
  void aDecayOutsideZeroToOneIsRejected(@ForAll("decaysOutsideTheUnitInterval") double decay) {
    assertThatThrownBy(() -> TrustPolicy.builder().decay(decay).build())
        .isInstanceOfSatisfying(
            InvalidTrustPolicyException.class, e -> assertThat(e.field()).isEqualTo("decay"))
        .hasMessage("decay (λ) must be in (0,1], was " + decay);
  }

  @Property(tries = 200, seed = "20250304")
  void aDecayInsideZeroToOneIsAccepted(
      @ForAll @DoubleRange(min = 0, minIncluded = false, max = 1) @Scale(8) double decay) {
    TrustPolicy.Builder b = TrustPolicy.builder().decay(decay);
    if (decay == 1.0) {
      b.quarantineThreshold(0);
    }
    assertThat(b.build().decay()).isEqualTo(decay);
  }
}
