package io.mycnet.storage.operator.reconciler.trustpolicy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.crds.v1alpha1.TrustPolicyStatus;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.TestClock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrustPolicyStatusFactoryTest {
  private final TestClock clock = new TestClock();
  private final TrustPolicyStatusFactory factory =
      new TrustPolicyStatusFactory(new Conditions(clock));

  private static TrustPolicy policy(long generation) {
    TrustPolicy tp = new TrustPolicy();
    tp.setMetadata(new ObjectMetaBuilder().withName("strict").withGeneration(generation).build());
    return tp;
  }

  private static Condition condition(TrustPolicyStatus s, String type) {
    return Conditions.find(s.getConditions(), type).orElseThrow();
  }

  @Test
  void thePolicyInForceCountsNodesPerTierAndRecordsTheEvaluation() {
    TrustPolicy tp = policy(4);
    TrustPolicyStatus s =
        factory.active(
            tp,
            Map.of("a", TrustTier.CRITICAL, "b", TrustTier.STANDARD, "c", TrustTier.STANDARD),
            true,
            2);

    assertThat(s.getActive()).isTrue();
    assertThat(s.getNodes()).isEqualTo(3);
    assertThat(s.getNodesPerTier()).isEqualTo(Map.of("CRITICAL", 1, "STANDARD", 2));
    assertThat(s.getLastEvaluation()).isEqualTo("2026-01-01T00:00:00Z");
    assertThat(s.getLastTierChanges()).isEqualTo(2);
    assertThat(s.getObservedGeneration()).isEqualTo(4L);
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("Applied");
    assertThat(ready.getMessage()).isEqualTo("the trust engine applies this policy to 3 nodes");
    Condition active = condition(s, TrustPolicyStatusFactory.ACTIVE);
    assertThat(active.getStatus()).isEqualTo("True");
    assertThat(active.getReason()).isEqualTo("Default");
  }

  @Test
  void theLastEvaluationMovesOnlyWhenThePolicyWasEvaluatedAgain() {
    TrustPolicy tp = policy(1);
    tp.setStatus(factory.active(tp, Map.of("a", TrustTier.PUBLIC), true, 1));
    clock.advance(Duration.ofMinutes(1));

    TrustPolicyStatus same = factory.active(tp, Map.of("a", TrustTier.PUBLIC), false, 0);
    TrustPolicyStatus again = factory.active(tp, Map.of("a", TrustTier.PUBLIC), true, 0);

    assertThat(same.getLastEvaluation()).isEqualTo("2026-01-01T00:00:00Z");
    assertThat(same.getLastTierChanges()).isEqualTo(1);
    assertThat(again.getLastEvaluation()).isEqualTo("2026-01-01T00:01:00Z");
    assertThat(again.getLastTierChanges()).isZero();
  }

  @Test
  void aPolicyNotInForceShowsTheSameReasonOnReadyAndActive() {
    TrustPolicy tp = policy(1);
    tp.setStatus(factory.active(tp, Map.of("a", TrustTier.PUBLIC), true, 0));

    TrustPolicyStatus s =
        factory.inactive(tp, false, TrustPolicyReason.CONFLICTING_DEFAULT, "older one wins");

    assertThat(s.getActive()).isFalse();
    assertThat(s.getNodes()).isNull();
    assertThat(s.getNodesPerTier()).isEmpty();
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("ConflictingDefault");
    assertThat(ready.getMessage()).isEqualTo("older one wins");
    Condition active = condition(s, TrustPolicyStatusFactory.ACTIVE);
    assertThat(active.getStatus()).isEqualTo("False");
    assertThat(active.getReason()).isEqualTo("ConflictingDefault");
  }

  @Test
  void anInvalidDefaultStaysActiveWithThePolicyTheEngineKept() {
    TrustPolicy tp = policy(1);
    tp.setStatus(factory.active(tp, Map.of("a", TrustTier.PUBLIC), true, 0));
    tp.getMetadata().setGeneration(2L);

    TrustPolicyStatus chosen = factory.invalid(tp, "spec.weights.uptime: must be >= 0", true);
    TrustPolicyStatus other = factory.invalid(tp, "spec.weights.uptime: must be >= 0", false);

    Condition ready = condition(chosen, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("InvalidSpec");
    assertThat(ready.getMessage())
        .isEqualTo(
            "spec.weights.uptime: must be >= 0; the trust engine keeps the policy it applied"
                + " before");
    assertThat(chosen.getActive()).isTrue();
    assertThat(condition(chosen, TrustPolicyStatusFactory.ACTIVE).getReason()).isEqualTo("Default");
    assertThat(chosen.getObservedGeneration()).isEqualTo(2L);

    assertThat(other.getActive()).isFalse();
    assertThat(condition(other, Conditions.READY).getMessage())
        .endsWith("; this policy cannot become the default until it is fixed");
    Condition active = condition(other, TrustPolicyStatusFactory.ACTIVE);
    assertThat(active.getReason()).isEqualTo("InvalidSpec");
    assertThat(active.getMessage()).isEqualTo("not applied");
  }
}
