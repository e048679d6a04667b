package io.mycnet.storage.operator.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.trust.TrustEvidence.BytesServed;
import io.mycnet.storage.operator.trust.TrustEvidence.LatencySample;
import io.mycnet.storage.operator.trust.TrustEvidence.ReportedFactor;
import io.mycnet.storage.operator.trust.TrustEvidence.RoundTrip;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TrustEvaluatorTest {
  private static final Instant T0 = MutableClock.EPOCH;
  private final TrustPolicy policy = TrustPolicy.defaults();
  private final TrustEvaluator evaluator = new TrustEvaluator(policy);

  private static FactorBreakdown factor(TrustAssessment a, TrustFactor f) {
    return a.explanation().factors().get(f.ordinal());
  }

  @Test
  void successWeightsFollowThePolicyMappings() {
    assertThat(
            TrustEvaluator.successWeight(
                new LatencySample("n", T0, RoundTrip.COMMAND, Duration.ofMillis(50)), policy))
        .isEqualTo(1.0);
    assertThat(
            TrustEvaluator.successWeight(
                new LatencySample("n", T0, RoundTrip.COMMAND, Duration.ofMillis(550)), policy))
        .isCloseTo(0.5, within(1e-12));
    assertThat(
            TrustEvaluator.successWeight(
                new LatencySample("n", T0, RoundTrip.HEARTBEAT, Duration.ofSeconds(3)), policy))
        .isEqualTo(0.0);
    long mib = 1024 * 1024;
    assertThat(TrustEvaluator.successWeight(new BytesServed("n", T0, 5, 10), policy))
        .isEqualTo(0.5);
    // Asked for 1 GiB, served the 256 MiB target: full credit.
    assertThat(
            TrustEvaluator.successWeight(new BytesServed("n", T0, 256 * mib, 1024 * mib), policy))
        .isEqualTo(1.0);
    // Nothing asked: no evidence at all.
    assertThat(TrustEvaluator.successWeight(new BytesServed("n", T0, 0, 0), policy)).isNaN();
    assertThat(
            TrustEvaluator.successWeight(
                new ReportedFactor("n", T0, TrustFactor.ACCESS_CONTROL, 0.25), policy))
        .isEqualTo(0.25);
  }

  @Test
  void malformedEvidenceIsRejectedNamingTheField() {
    assertThatThrownBy(() -> new ReportedFactor("n", T0, TrustFactor.UPTIME, 1.0))
        .hasMessageContaining("UPTIME is VERIFIED");
    assertThatThrownBy(() -> new ReportedFactor("n", T0, TrustFactor.IO_PERFORMANCE, 1.5))
        .hasMessage("value of reported IO_PERFORMANCE must be in [0,1], was 1.5");
    assertThatThrownBy(() -> new BytesServed("n", T0, -1, 0)).hasMessageContaining("bytesServed");
    assertThatThrownBy(() -> Evidence.audit(" ", T0, true)).hasMessageContaining("nodeId");
    assertThatThrownBy(
            () -> NodeTrustRecord.create("a").apply(Evidence.audit("b", T0, true), policy))
        .hasMessageContaining("'b'");
  }

  @Test
  void noEvidenceEarnsAlmostNothing() {
    NodeTrustRecord r = NodeTrustRecord.create("n");
    TrustAssessment a = evaluator.evaluate(r, T0);
    for (FactorBreakdown f : a.explanation().factors()) {
      assertThat(f.mean()).isEqualTo(0.5);
      assertThat(f.lowerBound()).isCloseTo(0.025, within(0.001));
      assertThat(f.evidenceCount()).isZero();
    }
    assertThat(a.score()).isCloseTo(0.025, within(0.001));
  }

  @Test
  void lowerBoundRewardsALongerCleanRecord() {
    NodeTrustRecord few = Evidence.recordWith(policy, "n", TrustFactor.DATA_INTEGRITY, 10, 1);
    NodeTrustRecord many = Evidence.recordWith(policy, "n", TrustFactor.DATA_INTEGRITY, 100, 1);
    double lcbFew = factor(evaluator.evaluate(few, T0), TrustFactor.DATA_INTEGRITY).lowerBound();
    double lcbMany = factor(evaluator.evaluate(many, T0), TrustFactor.DATA_INTEGRITY).lowerBound();
    assertThat(lcbFew).isCloseTo(0.79, within(0.01));
    assertThat(lcbMany).isCloseTo(0.973, within(0.001));
    assertThat(evaluator.score(many)).isGreaterThan(evaluator.score(few));
  }

  @Test
  void evidenceDecaysWithLambdaPerEvent() {
    NodeTrustRecord r = Evidence.recordWith(policy, "n", TrustFactor.DATA_INTEGRITY, 3, 1);
    r.apply(Evidence.audit("n", T0, false), policy);
    double l = 0.999;
    assertThat(r.alpha(TrustFactor.DATA_INTEGRITY)).isCloseTo(l * (l * (l + 1) + 1), within(1e-12));
    assertThat(r.beta(TrustFactor.DATA_INTEGRITY)).isEqualTo(1.0);
    assertThat(r.events(TrustFactor.DATA_INTEGRITY)).isEqualTo(4);
    assertThat(r.latest(TrustFactor.DATA_INTEGRITY)).isEqualTo(0.0);
  }

  @Test
  void reportedFactorsAloneCannotReachStandard() {
    NodeTrustRecord r = NodeTrustRecord.create("liar");
    for (int i = 0; i < 1000; i++) {
      for (TrustFactor f : TrustFactor.values()) {
        if (f.isReported()) {
          r.apply(new ReportedFactor("liar", T0, f, 1.0), policy);
        }
      }
    }
    // Reported weights are 0.25 by default; an all-reported policy is held at the 0.30 cap.
    TrustPolicy greedy =
        policy.toBuilder()
            .weight(TrustFactor.IO_PERFORMANCE, 10)
            .weight(TrustFactor.ENCRYPTION_COMPLIANCE, 10)
            .weight(TrustFactor.ACCESS_CONTROL, 10)
            .build();
    double score = new TrustEvaluator(greedy).score(r);
    assertThat(score)
        .isLessThan(0.30 + 0.70 * 0.026)
        .isLessThan(greedy.threshold(io.mycnet.storage.operator.model.TrustTier.STANDARD));
    double reportedWeight = 0;
    for (FactorBreakdown f : new TrustEvaluator(greedy).evaluate(r, T0).explanation().factors()) {
      if (f.source() == TrustFactor.Source.REPORTED) {
        reportedWeight += f.weight();
      }
    }
    assertThat(reportedWeight).isCloseTo(0.30, within(1e-12));
  }

  @Test
  void aClaimContradictedByObservationIsCappedAtTheObservedMeanPlusTolerance() {
    NodeTrustRecord r = NodeTrustRecord.create("n");
    for (int i = 0; i < 50; i++) {
      r.apply(new ReportedFactor("n", T0, TrustFactor.IO_PERFORMANCE, 1.0), policy);
      r.apply(Evidence.event("n", T0, TrustFactor.RESPONSE_TIME, 0.1), policy);
      r.apply(Evidence.event("n", T0, TrustFactor.CONSENSUS_PARTICIPATION, 0), policy);
    }
    TrustAssessment a = evaluator.evaluate(r, T0);
    FactorBreakdown io = factor(a, TrustFactor.IO_PERFORMANCE);
    double observed =
        (factor(a, TrustFactor.RESPONSE_TIME).mean()
                + factor(a, TrustFactor.CONSENSUS_PARTICIPATION).mean())
            / 2;
    assertThat(io.contradicted()).isTrue();
    assertThat(io.lowerBound()).isGreaterThan(0.9);
    assertThat(io.value()).isCloseTo(observed + 0.2, within(1e-12));
    assertThat(io.contradiction().orElseThrow().observedBy())
        .containsExactlyInAnyOrder(TrustFactor.RESPONSE_TIME, TrustFactor.CONSENSUS_PARTICIPATION);
    assertThat(a.render()).contains("contradicted: observed").contains("caps it at");
    assertThat(evaluator.score(r)).isCloseTo(a.score(), within(1e-15));
  }

  @Test
  void noContradictionWithoutEnoughObservations() {
    NodeTrustRecord r = NodeTrustRecord.create("n");
    for (int i = 0; i < 50; i++) {
      r.apply(new ReportedFactor("n", T0, TrustFactor.IO_PERFORMANCE, 1.0), policy);
    }
    for (int i = 0; i < 19; i++) {
      r.apply(Evidence.event("n", T0, TrustFactor.RESPONSE_TIME, 0), policy);
    }
    FactorBreakdown io = factor(evaluator.evaluate(r, T0), TrustFactor.IO_PERFORMANCE);
    assertThat(io.contradicted()).isFalse();
    assertThat(io.value()).isEqualTo(io.lowerBound());
    // One more observation makes it count.
    r.apply(Evidence.event("n", T0, TrustFactor.RESPONSE_TIME, 0), policy);
    assertThat(factor(evaluator.evaluate(r, T0), TrustFactor.IO_PERFORMANCE).contradicted())
        .isTrue();
  }

  @Test
  void contributionsAddUpToTheScore() {
    NodeTrustRecord r = NodeTrustRecord.create("n");
    Instant at = T0;
    for (int i = 0; i < 40; i++) {
      for (TrustEvidence e : Evidence.healthyTick("n", at)) {
        r.apply(e, policy);
      }
      r.apply(new TrustEvidence.Heartbeat("n", at, i % 3 != 0), policy);
    }
    TrustAssessment a = evaluator.evaluate(r, at);
    double sum = 0;
    double weights = 0;
    for (FactorBreakdown f : a.explanation().factors()) {
      assertThat(f.contribution()).isCloseTo(f.weight() * f.value(), within(1e-15));
      sum += f.contribution();
      weights += f.weight();
    }
    assertThat(weights).isCloseTo(1.0, within(1e-12));
    assertThat(a.score()).isCloseTo(sum, within(1e-12));
    assertThat(evaluator.score(r)).isEqualTo(a.score());
  }
}
