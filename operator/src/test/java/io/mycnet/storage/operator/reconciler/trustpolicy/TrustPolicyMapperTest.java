package io.mycnet.storage.operator.reconciler.trustpolicy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.crds.v1alpha1.TrustPolicySpec;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrustPolicyMapperTest {
  @Test
  void anEmptySpecIsTheEnginesDefaults() {
    assertThat(TrustPolicyMapper.toPolicy(new TrustPolicySpec())).isEqualTo(TrustPolicy.defaults());
    assertThat(TrustPolicyMapper.toPolicy(null)).isEqualTo(TrustPolicy.defaults());
  }

  @Test
  void setFieldsOverrideAndGatesReplaceTheDefaults() {
    TrustPolicySpec spec = new TrustPolicySpec();
    TrustPolicySpec.TierThresholds t = new TrustPolicySpec.TierThresholds();
    t.setCritical(0.95);
    spec.setThresholds(t);
    spec.setGates(List.of());
    TrustPolicySpec.Vetting v = new TrustPolicySpec.Vetting();
    v.setMinAge("1h30m");
    spec.setVetting(v);
    TrustPolicy p = TrustPolicyMapper.toPolicy(spec);
    assertThat(p.threshold(TrustTier.CRITICAL)).isEqualTo(0.95);
    assertThat(p.threshold(TrustTier.SENSITIVE)).isEqualTo(0.7);
    assertThat(p.gates()).isEmpty();
    assertThat(p.vetting().minAge()).isEqualTo(Duration.ofMinutes(90));
    assertThat(p.vetting().auditsRequired()).isEqualTo(100);
    assertThat(p.weights().get(TrustFactor.UPTIME)).isEqualTo(0.20);
  }

  @Test
  void theEnginesFieldNamesBecomeTheResourcesPaths() {
    assertThat(TrustPolicyMapper.crField("weights.UPTIME")).isEqualTo("spec.weights.uptime");
    assertThat(TrustPolicyMapper.crField("weights.DATA_INTEGRITY"))
        .isEqualTo("spec.weights.dataIntegrity");
    assertThat(TrustPolicyMapper.crField("thresholds.PUBLIC")).isEqualTo("spec.thresholds.public");
    assertThat(TrustPolicyMapper.crField("vetting.minAge")).isEqualTo("spec.vetting.minAge");
    assertThat(TrustPolicyMapper.crField("decay")).isEqualTo("spec.decay");
    assertThat(TrustPolicyMapper.crField("gates.CRITICAL.ENCRYPTION_COMPLIANCE"))
        .isEqualTo("spec.gates[tier=CRITICAL,factor=ENCRYPTION_COMPLIANCE].minimum");
  }

  @Test
  void anInvalidValueNamesItsField() {
    TrustPolicySpec spec = new TrustPolicySpec();
    spec.setHysteresis(0.2);
    assertThatThrownBy(() -> TrustPolicyMapper.toPolicy(spec))
        .isInstanceOf(InvalidFieldException.class)
        .hasMessageStartingWith("spec.hysteresis: must be >= 0 and less than half");
  }
}
