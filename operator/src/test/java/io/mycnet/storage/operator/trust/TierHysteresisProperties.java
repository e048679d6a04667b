package io.mycnet.storage.operator.trust;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.operator.model.TrustTier;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.Scale;
import net.jqwik.api.constraints.Size;

/** Hysteresis keeps a noisy score from flapping across a threshold (fixed seeds). */
class TierHysteresisProperties {

  private static int transitions(
      TrustPolicy p, double center, double amplitude, List<Double> noise) {
    TrustTier tier = null;
    int changes = 0;
    for (double n : noise) {
      TrustTier next = TierClassifier.next(p, tier, center + amplitude * n);
      if (tier != null && next != tier) {
        changes++;
      }
      tier = next;
    }
    return changes;
  }

  @Property(tries = 500, seed = "20250201")
  void noiseNarrowerThanTheBandCausesAtMostOneTransition(
      @ForAll @DoubleRange(min = 0, max = 1) @Scale(6) double center,
      @ForAll @DoubleRange(min = 0, max = 0.999) @Scale(6) double fractionOfH,
      @ForAll @Size(min = 1, max = 300)
          List<@DoubleRange(min = -1, max = 1) @Scale(6) Double> noise) {
    TrustPolicy p = TrustPolicy.defaults();
    assertThat(transitions(p, center, fractionOfH * p.hysteresis(), noise)).isLessThanOrEqualTo(1);
  }

  @Property(tries = 300, seed = "20250202")
  void holdsForAnyValidHysteresisAroundAThreshold(
      @ForAll @DoubleRange(min = 0.001, max = 0.099) @Scale(6) double h,
      @ForAll @DoubleRange(min = -1, max = 1) @Scale(6) double offset,
      @ForAll @DoubleRange(min = 0, max = 0.999) @Scale(6) double fractionOfH,
      @ForAll @Size(min = 1, max = 300)
          List<@DoubleRange(min = -1, max = 1) @Scale(6) Double> noise) {
    TrustPolicy p = TrustPolicy.builder().hysteresis(h).build();
    // Centre the noise within one band-width of the SENSITIVE threshold.
    double center = p.threshold(TrustTier.SENSITIVE) + offset * h;
    assertThat(transitions(p, center, fractionOfH * h, noise)).isLessThanOrEqualTo(1);
  }

  @Property(tries = 200, seed = "20250203")
  void withoutHysteresisTheSameNoiseCanFlap(
      @ForAll @Size(min = 10, max = 50)
          List<@DoubleRange(min = -1, max = 1) @Scale(6) Double> noise) {
    // Sanity check of the test itself: alternate strictly around the threshold with h = 0.
    TrustPolicy p = TrustPolicy.builder().hysteresis(0).build();
    double t = p.threshold(TrustTier.SENSITIVE);
    TrustTier tier = null;
    int changes = 0;
    for (int i = 0; i < noise.size(); i++) {
      TrustTier next = TierClassifier.next(p, tier, i % 2 == 0 ? t : t - 0.001);
      if (tier != null && next != tier) {
        changes++;
      }
      tier = next;
    }
    assertThat(changes).isEqualTo(noise.size() - 1);
  }
}
