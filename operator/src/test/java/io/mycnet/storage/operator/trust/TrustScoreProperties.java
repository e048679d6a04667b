package io.mycnet.storage.operator.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.mycnet.storage.operator.model.TrustFactor;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Scale;

/** Properties of the score over arbitrary evidence sequences and policies (fixed seeds). */
class TrustScoreProperties {
  private static final Instant T0 = MutableClock.EPOCH;

  /** One event: its factor and its success weight. */
  record Step(TrustFactor factor, double s) {}

  @Provide
  Arbitrary<List<Step>> sequences() {
    Arbitrary<Double> s =
        Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(3, Arbitraries.just(0.0)),
            net.jqwik.api.Tuple.of(6, Arbitraries.just(1.0)),
            net.jqwik.api.Tuple.of(2, Arbitraries.doubles().between(0, 1).ofScale(4)));
    return Combinators.combine(Arbitraries.of(TrustFactor.class), s)
        .as(Step::new)
        .list()
        .ofMinSize(1)
        .ofMaxSize(300);
  }

  @Provide
  Arbitrary<TrustPolicy> policies() {
    Arbitrary<List<Double>> weights =
        Arbitraries.doubles().between(0, 10).ofScale(4).list().ofSize(8);
    Arbitrary<Double> decay = Arbitraries.doubles().between(0.9, 0.9999).ofScale(6);
    Arbitrary<Double> confidence = Arbitraries.doubles().between(0.5, 0.999).ofScale(6);
    Arbitrary<Double> cap = Arbitraries.doubles().between(0, 1).ofScale(4);
    Arbitrary<Double> tolerance = Arbitraries.doubles().between(0, 1).ofScale(4);
    Arbitrary<Integer> minEvidence = Arbitraries.integers().between(0, 30);
    return Combinators.combine(weights, decay, confidence, cap, tolerance, minEvidence)
        .as(
            (w, d, c, k, t, m) -> {
              Map<TrustFactor, Double> map = new EnumMap<>(TrustFactor.class);
              for (TrustFactor f : TrustFactor.values()) {
                map.put(f, w.get(f.ordinal()));
              }
              map.put(TrustFactor.UPTIME, map.get(TrustFactor.UPTIME) + 0.01);
              return TrustPolicy.builder()
                  .weights(map)
                  .decay(d)
                  .confidence(c)
                  .reportedFactorCap(k)
                  .contradictionTolerance(t)
                  .contradictionMinEvidence(m)
                  .build();
            });
  }

  private static NodeTrustRecord replay(List<Step> steps, TrustPolicy p) {
    NodeTrustRecord r = NodeTrustRecord.create("n");
    for (Step st : steps) {
      r.apply(Evidence.event("n", T0, st.factor(), st.s()), p);
    }
    return r;
  }

  @Property(tries = 300, seed = "20250101")
  void replacingAFailureByASuccessNeverLowersTheScore(
      @ForAll("sequences") List<Step> steps,
      @ForAll("policies") TrustPolicy policy,
      @ForAll @IntRange(min = 0, max = 100_000) int pick) {
    List<Integer> failures = new ArrayList<>();
    for (int i = 0; i < steps.size(); i++) {
      if (steps.get(i).s() < 1) {
        failures.add(i);
      }
    }
    Assume.that(!failures.isEmpty());
    int i = failures.get(pick % failures.size());
    List<Step> better = new ArrayList<>(steps);
    better.set(i, new Step(steps.get(i).factor(), 1.0));

    TrustEvaluator evaluator = new TrustEvaluator(policy);
    double before = evaluator.score(replay(steps, policy));
    double after = evaluator.score(replay(better, policy));
    assertThat(after).isGreaterThanOrEqualTo(before - 1e-12);
  }

  @Property(tries = 300, seed = "20250102")
  void scoresAndFactorValuesStayInTheUnitInterval(
      @ForAll("sequences") List<Step> steps, @ForAll("policies") TrustPolicy policy) {
    NodeTrustRecord r = replay(steps, policy);
    TrustEvaluator evaluator = new TrustEvaluator(policy);
    TrustAssessment a = evaluator.evaluate(r, T0);
    assertThat(a.score()).isBetween(0.0, 1.0).isEqualTo(evaluator.score(r));
    for (FactorBreakdown f : a.explanation().factors()) {
      assertThat(f.mean()).isBetween(0.0, 1.0);
      assertThat(f.lowerBound()).isBetween(0.0, f.mean());
      assertThat(f.value()).isBetween(0.0, f.lowerBound());
    }
  }

  @Property(tries = 200, seed = "20250103")
  void scalingEveryWeightByTheSameFactorKeepsTheScore(
      @ForAll("sequences") List<Step> steps,
      @ForAll("policies") TrustPolicy policy,
      @ForAll @DoubleRange(min = 1e-3, max = 1e3) @Scale(6) double c) {
    Map<TrustFactor, Double> scaled = new EnumMap<>(TrustFactor.class);
    policy.weights().forEach((f, w) -> scaled.put(f, w * c));
    TrustPolicy p2 = policy.toBuilder().weights(scaled).build();
    NodeTrustRecord r = replay(steps, policy);
    assertThat(new TrustEvaluator(p2).score(r))
        .isCloseTo(new TrustEvaluator(policy).score(r), within(1e-12));
    for (TrustFactor f : TrustFactor.values()) {
      assertThat(p2.effectiveWeight(f)).isCloseTo(policy.effectiveWeight(f), within(1e-12));
    }
  }

  @Property(tries = 200, seed = "20250104")
  void effectiveWeightsSumToOneAndRespectTheReportedCap(@ForAll("policies") TrustPolicy policy) {
    double sum = 0;
    double reported = 0;
    for (TrustFactor f : TrustFactor.values()) {
      assertThat(policy.effectiveWeight(f)).isGreaterThanOrEqualTo(0);
      sum += policy.effectiveWeight(f);
      if (f.isReported()) {
        reported += policy.effectiveWeight(f);
      }
    }
    assertThat(sum).isCloseTo(1.0, within(1e-12));
    assertThat(reported).isLessThanOrEqualTo(policy.reportedFactorCap() + 1e-12);
  }
}
