package io.mycnet.storage.operator.trust;

import static io.mycnet.storage.operator.model.TrustTier.CRITICAL;
import static io.mycnet.storage.operator.model.TrustTier.NONE;
import static io.mycnet.storage.operator.model.TrustTier.PUBLIC;
import static io.mycnet.storage.operator.model.TrustTier.SENSITIVE;
import static io.mycnet.storage.operator.model.TrustTier.STANDARD;
import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.operator.trust.TierClassifier.Movement;
import org.junit.jupiter.api.Test;

class TierClassifierTest {
  private final TrustPolicy p = TrustPolicy.defaults();

  @Test
  void firstAssessmentUsesPlainThresholds() {
    assertThat(TierClassifier.next(p, null, 0.90)).isEqualTo(CRITICAL);
    assertThat(TierClassifier.next(p, null, 0.8999)).isEqualTo(SENSITIVE);
    assertThat(TierClassifier.next(p, null, 0.5)).isEqualTo(STANDARD);
    assertThat(TierClassifier.next(p, null, 0.1)).isEqualTo(PUBLIC);
    assertThat(TierClassifier.next(p, null, 0.0999)).isEqualTo(NONE);
    assertThat(TierClassifier.classify(p, null, 0.75).movement()).isEqualTo(Movement.FIRST);
  }

  @Test
  void movesUpOnlyAtThresholdPlusHysteresis() {
    assertThat(TierClassifier.next(p, SENSITIVE, 0.91)).isEqualTo(SENSITIVE);
    assertThat(TierClassifier.next(p, SENSITIVE, 0.9199)).isEqualTo(SENSITIVE);
    assertThat(TierClassifier.next(p, SENSITIVE, 0.92)).isEqualTo(CRITICAL);
    // Straight from NONE to the highest tier reached with margin.
    assertThat(TierClassifier.next(p, NONE, 0.95)).isEqualTo(CRITICAL);
    assertThat(TierClassifier.next(p, NONE, 0.91)).isEqualTo(SENSITIVE);
    assertThat(TierClassifier.classify(p, NONE, 0.91).movement()).isEqualTo(Movement.UP);
  }

  @Test
  void movesDownOnlyBelowThresholdMinusHysteresis() {
    assertThat(TierClassifier.next(p, CRITICAL, 0.89)).isEqualTo(CRITICAL);
    assertThat(TierClassifier.next(p, CRITICAL, 0.88)).isEqualTo(CRITICAL);
    assertThat(TierClassifier.next(p, CRITICAL, 0.8799)).isEqualTo(SENSITIVE);
    // Lands on the highest lower tier it has not fallen through (with the same band).
    assertThat(TierClassifier.next(p, CRITICAL, 0.69)).isEqualTo(SENSITIVE);
    assertThat(TierClassifier.next(p, CRITICAL, 0.6799)).isEqualTo(STANDARD);
    assertThat(TierClassifier.next(p, PUBLIC, 0.085)).isEqualTo(PUBLIC);
    assertThat(TierClassifier.next(p, PUBLIC, 0.07)).isEqualTo(NONE);
    assertThat(TierClassifier.classify(p, CRITICAL, 0.6).movement()).isEqualTo(Movement.DOWN);
    assertThat(TierClassifier.classify(p, CRITICAL, 0.89).movement()).isEqualTo(Movement.STAY);
  }

  @Test
  void reasonsNameThresholdsAndHysteresis() {
    assertThat(TierClassifier.classify(p, null, 0.8).reason())
        .isEqualTo("score 0.800 >= SENSITIVE threshold 0.70 (first assessment, plain thresholds)");
    assertThat(TierClassifier.classify(p, SENSITIVE, 0.93).reason())
        .isEqualTo("score 0.930 >= CRITICAL threshold 0.90 + hysteresis 0.02: up from SENSITIVE");
    assertThat(TierClassifier.classify(p, CRITICAL, 0.85).reason())
        .isEqualTo(
            "score 0.850 < CRITICAL threshold 0.90 - hysteresis 0.02: down to SENSITIVE"
                + " (>= 0.70 - 0.02)");
    assertThat(TierClassifier.classify(p, SENSITIVE, 0.91).reason())
        .isEqualTo(
            "score 0.910 keeps SENSITIVE within hysteresis 0.02 (up needs >= 0.92, down below"
                + " 0.68)");
    assertThat(TierClassifier.classify(p, null, 0.05).reason())
        .isEqualTo("score 0.050 < PUBLIC threshold 0.10");
  }
}
