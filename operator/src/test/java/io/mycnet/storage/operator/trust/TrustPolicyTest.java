package io.mycnet.storage.operator.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class TrustPolicyTest {

  private static void rejects(UnaryOperator<TrustPolicy.Builder> change, String field, String msg) {
    assertThatThrownBy(() -> change.apply(TrustPolicy.builder()).build())
        .isInstanceOfSatisfying(
            InvalidTrustPolicyException.class, e -> assertThat(e.field()).isEqualTo(field))
        .hasMessageStartingWith(field.startsWith("decay") ? "decay" : field)
        .hasMessageContaining(msg);
  }

  @Test
  void defaultsAreTheDocumentedValues() {
    TrustPolicy p = TrustPolicy.defaults();
    assertThat(p.thresholds())
        .containsEntry(TrustTier.CRITICAL, 0.9)
        .containsEntry(TrustTier.SENSITIVE, 0.7)
        .containsEntry(TrustTier.STANDARD, 0.5)
        .containsEntry(TrustTier.PUBLIC, 0.1);
    assertThat(p.hysteresis()).isEqualTo(0.02);
    assertThat(p.decay()).isEqualTo(0.999);
    assertThat(p.reportedFactorCap()).isEqualTo(0.30);
    assertThat(p.quarantineThreshold()).isEqualTo(0.975);
    assertThat(p.vetting()).isEqualTo(new TrustPolicy.Vetting(100, Duration.ofHours(24)));
    assertThat(p.gates().get(TrustTier.CRITICAL))
        .containsEntry(TrustFactor.ENCRYPTION_COMPLIANCE, 0.9);
    assertThat(p.gates().get(TrustTier.SENSITIVE))
        .containsEntry(TrustFactor.ENCRYPTION_COMPLIANCE, 0.9);
    assertThat(p.z()).isCloseTo(1.6448536, within(1e-6));
    assertThat(p.quarantineFailureLimit()).isCloseTo(25.0, within(1e-9));
  }

  @Test
  void effectiveWeightsAreNormalisedAndReportedShareBelowCap() {
    TrustPolicy p = TrustPolicy.defaults();
    double sum = 0;
    double reported = 0;
    for (TrustFactor f : TrustFactor.values()) {
      sum += p.effectiveWeight(f);
      if (f.isReported()) {
        reported += p.effectiveWeight(f);
      }
    }
    assertThat(sum).isCloseTo(1.0, within(1e-12));
    assertThat(reported).isCloseTo(0.25, within(1e-12));
  }

  @Test
  void reportedFactorsAreScaledDownToTheCap() {
    Map<TrustFactor, Double> equal = new EnumMap<>(TrustFactor.class);
    for (TrustFactor f : TrustFactor.values()) {
      equal.put(f, 1.0);
    }
    // 3 of 8 factors are reported: share 0.375 > cap 0.30.
    TrustPolicy p = TrustPolicy.builder().weights(equal).build();
    assertThat(p.effectiveWeight(TrustFactor.IO_PERFORMANCE)).isCloseTo(0.10, within(1e-12));
    assertThat(p.effectiveWeight(TrustFactor.ENCRYPTION_COMPLIANCE)).isCloseTo(0.10, within(1e-12));
    assertThat(p.effectiveWeight(TrustFactor.UPTIME)).isCloseTo(0.14, within(1e-12));
    // With a cap above the share, nothing changes.
    TrustPolicy loose = TrustPolicy.builder().weights(equal).reportedFactorCap(0.5).build();
    assertThat(loose.effectiveWeight(TrustFactor.IO_PERFORMANCE)).isCloseTo(0.125, within(1e-12));
  }

  @Test
  void toBuilderRoundTripsAndEqualityIsByValue() {
    TrustPolicy p = TrustPolicy.defaults().toBuilder().decay(0.99).hysteresis(0.01).build();
    assertThat(p.toBuilder().build()).isEqualTo(p).hasSameHashCodeAs(p);
    assertThat(p).isNotEqualTo(TrustPolicy.defaults());
    assertThat(TrustPolicy.builder().build()).isEqualTo(TrustPolicy.defaults());
  }

  @Test
  void rejectsInvalidWeights() {
    rejects(b -> b.weight(TrustFactor.UPTIME, -1.0), "weights.UPTIME", "must be >= 0, was -1.0");
    rejects(
        b -> b.weight(TrustFactor.ACCESS_CONTROL, Double.NaN),
        "weights.ACCESS_CONTROL",
        "finite number");
    rejects(b -> b.weights(Map.of()), "weights", "must not all be 0");
    rejects(
        b -> b.weights(Map.of(TrustFactor.IO_PERFORMANCE, 1.0)),
        "weights",
        "every VERIFIED factor has weight 0");
    // ...but a cap of 1 allows it: the operator asked for it explicitly.
    assertThat(
            TrustPolicy.builder()
                .weights(Map.of(TrustFactor.IO_PERFORMANCE, 1.0))
                .reportedFactorCap(1)
                .build()
                .effectiveWeight(TrustFactor.IO_PERFORMANCE))
        .isEqualTo(1.0);
    rejects(b -> b.reportedFactorCap(1.2), "reportedFactorCap", "must be in [0,1], was 1.2");
  }

  @Test
  void rejectsInvalidThresholdsAndHysteresis() {
    rejects(
        b -> b.threshold(TrustTier.SENSITIVE, 0.95),
        "thresholds",
        "thresholds must be in decreasing order CRITICAL > SENSITIVE > STANDARD > PUBLIC");
    rejects(
        b -> b.threshold(TrustTier.PUBLIC, 0.5),
        "thresholds",
        "decreasing order CRITICAL > SENSITIVE > STANDARD > PUBLIC, was CRITICAL=0.9,"
            + " SENSITIVE=0.7, STANDARD=0.5, PUBLIC=0.5");
    rejects(b -> b.threshold(TrustTier.CRITICAL, 1.5), "thresholds.CRITICAL", "must be in [0,1]");
    rejects(
        b -> b.thresholds(Map.of(TrustTier.CRITICAL, 0.9)), "thresholds.SENSITIVE", "is missing");
    rejects(b -> b.threshold(TrustTier.NONE, 0.0), "thresholds.NONE", "not a tier");
    rejects(b -> b.hysteresis(-0.01), "hysteresis", "must be >= 0");
    rejects(b -> b.hysteresis(0.1), "hysteresis", "less than half the smallest gap");
    rejects(
        b -> b.threshold(TrustTier.CRITICAL, 0.99),
        "thresholds.CRITICAL",
        "thresholds.CRITICAL + hysteresis must be <= 1");
  }

  @Test
  void rejectsInvalidDecayConfidenceAndQuarantine() {
    rejects(b -> b.decay(1.5), "decay", "decay (λ) must be in (0,1], was 1.5");
    rejects(b -> b.decay(0), "decay", "decay (λ) must be in (0,1], was 0.0");
    rejects(b -> b.decay(1.0), "decay", "quarantine could never fire");
    assertThat(TrustPolicy.builder().decay(1.0).quarantineThreshold(0).build().decay())
        .isEqualTo(1.0);
    rejects(b -> b.confidence(1.0), "confidence", "must be in [0.5,1), was 1.0");
    rejects(b -> b.confidence(0.3), "confidence", "must be in [0.5,1)");
    rejects(b -> b.quarantineThreshold(1.0), "quarantineThreshold", "must be in [0,1)");
    rejects(
        b -> b.quarantineReleaseThreshold(0.9),
        "quarantineReleaseThreshold",
        "must be in (quarantineThreshold 0.975, 1], was 0.9");
  }

  @Test
  void rejectsInvalidGatesVettingAndMappings() {
    rejects(
        b -> b.gate(TrustTier.SENSITIVE, TrustFactor.ENCRYPTION_COMPLIANCE, 2.0),
        "gates.SENSITIVE.ENCRYPTION_COMPLIANCE",
        "must be in [0,1], was 2.0");
    rejects(b -> b.gate(TrustTier.NONE, TrustFactor.UPTIME, 0.5), "gates.NONE", "no gates");
    rejects(b -> b.minUptime(1.1), "minUptime", "must be in [0,1]");
    rejects(b -> b.vetting(-1, Duration.ZERO), "vetting.auditsRequired", "must be >= 0, was -1");
    rejects(b -> b.vetting(10, Duration.ofHours(-1)), "vetting.minAge", "duration >= 0");
    rejects(
        b -> b.responseTime(Duration.ofMillis(500), Duration.ofMillis(100)),
        "responseTimeBad",
        "longer than responseTimeGood");
    rejects(b -> b.networkTargetBytes(0), "networkTargetBytes", "must be > 0");
    rejects(
        b -> b.corroboration(TrustFactor.UPTIME, Set.of(TrustFactor.RESPONSE_TIME)),
        "corroboration.UPTIME",
        "only REPORTED factors are corroborated");
    rejects(
        b -> b.corroboration(TrustFactor.IO_PERFORMANCE, Set.of(TrustFactor.ACCESS_CONTROL)),
        "corroboration.IO_PERFORMANCE",
        "ACCESS_CONTROL is REPORTED");
    rejects(b -> b.contradictionTolerance(-0.1), "contradictionTolerance", "must be in [0,1]");
    rejects(b -> b.contradictionMinEvidence(-1), "contradictionMinEvidence", "must be >= 0");
  }

  @Test
  void compiledGatesPutMinUptimeFirstAsAPublicGate() {
    assertThat(TrustPolicy.defaults().compiledGates())
        .extracting(TrustPolicy.Gate::field)
        .containsExactly(
            "minUptime",
            "gates.CRITICAL.ENCRYPTION_COMPLIANCE",
            "gates.SENSITIVE.ENCRYPTION_COMPLIANCE");
    assertThat(TrustPolicy.defaults().compiledGates().get(0).tier()).isEqualTo(TrustTier.PUBLIC);
    assertThat(TrustPolicy.builder().minUptime(0).clearGates().build().compiledGates()).isEmpty();
  }

  @Test
  void zQuantilesMatchTheNormalTable() {
    assertThat(BetaPosterior.zForConfidence(0.5)).isEqualTo(0.0);
    assertThat(BetaPosterior.zForConfidence(0.8413447)).isCloseTo(1.0, within(1e-6));
    assertThat(BetaPosterior.zForConfidence(0.975)).isCloseTo(1.959964, within(1e-6));
    assertThat(BetaPosterior.zForConfidence(0.999)).isCloseTo(3.090232, within(1e-6));
  }
}
