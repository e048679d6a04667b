package io.mycnet.storage.operator.reconciler.trustpolicy;

import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.TrustFactorName;
import io.mycnet.storage.crds.v1alpha1.TrustPolicySpec;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.Quantities;
import io.mycnet.storage.operator.trust.InvalidTrustPolicyException;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code TrustPolicy} custom resource to the trust engine's {@link TrustPolicy}. Unset fields keep
 * the engine's defaults; {@code gates} and {@code corroboration}, when set, replace the defaults
 * whole. The engine validates the result; its field names ({@code weights.UPTIME}) are translated
 * to the custom resource's ({@code spec.weights.uptime}).
 */
public final class TrustPolicyMapper {
  private TrustPolicyMapper() {}

  /**
   * @throws InvalidFieldException naming the first invalid field
   */
  public static TrustPolicy toPolicy(TrustPolicySpec spec) {
    TrustPolicy.Builder b = TrustPolicy.builder();
    if (spec == null) {
      return b.build();
    }
    TrustPolicySpec.FactorWeights w = spec.getWeights();
    if (w != null) {
      weight(b, TrustFactor.UPTIME, w.getUptime());
      weight(b, TrustFactor.DATA_INTEGRITY, w.getDataIntegrity());
      weight(b, TrustFactor.IO_PERFORMANCE, w.getIoPerformance());
      weight(b, TrustFactor.RESPONSE_TIME, w.getResponseTime());
      weight(b, TrustFactor.ENCRYPTION_COMPLIANCE, w.getEncryptionCompliance());
      weight(b, TrustFactor.ACCESS_CONTROL, w.getAccessControl());
      weight(b, TrustFactor.CONSENSUS_PARTICIPATION, w.getConsensusParticipation());
      weight(b, TrustFactor.NETWORK_CONTRIBUTION, w.getNetworkContribution());
    }
    TrustPolicySpec.TierThresholds t = spec.getThresholds();
    if (t != null) {
      threshold(b, TrustTier.CRITICAL, t.getCritical());
      threshold(b, TrustTier.SENSITIVE, t.getSensitive());
      threshold(b, TrustTier.STANDARD, t.getStandard());
      threshold(b, TrustTier.PUBLIC, t.getPublicTier());
    }
    if (spec.getHysteresis() != null) {
      b.hysteresis(spec.getHysteresis());
    }
    if (spec.getGates() != null) {
      b.clearGates();
      Set<String> seen = new HashSet<>();
      List<TrustPolicySpec.TrustGate> gates = spec.getGates();
      for (int i = 0; i < gates.size(); i++) {
        TrustPolicySpec.TrustGate g = gates.get(i);
        String f = "spec.gates[" + i + "]";
        if (g == null || g.getTier() == null || g.getFactor() == null || g.getMinimum() == null) {
          throw new InvalidFieldException(f, "tier, factor and minimum must all be set");
        }
        if (!seen.add(g.getTier() + "/" + g.getFactor())) {
          throw new InvalidFieldException(
              f, "a second gate for " + g.getFactor() + " at " + g.getTier());
        }
        b.gate(tier(g.getTier()), factor(g.getFactor()), g.getMinimum());
      }
    }
    if (spec.getMinUptime() != null) {
      b.minUptime(spec.getMinUptime());
    }
    if (spec.getVetting() != null) {
      TrustPolicy d = TrustPolicy.defaults();
      int audits =
          spec.getVetting().getAuditsRequired() == null
              ? d.vetting().auditsRequired()
              : spec.getVetting().getAuditsRequired();
      Duration age =
          spec.getVetting().getMinAge() == null
              ? d.vetting().minAge()
              : Durations.parse("spec.vetting.minAge", spec.getVetting().getMinAge());
      b.vetting(audits, age);
    }
    if (spec.getDecay() != null) {
      b.decay(spec.getDecay());
    }
    if (spec.getReportedFactorCap() != null) {
      b.reportedFactorCap(spec.getReportedFactorCap());
    }
    if (spec.getQuarantineThreshold() != null) {
      b.quarantineThreshold(spec.getQuarantineThreshold());
    }
    if (spec.getQuarantineReleaseThreshold() != null) {
      b.quarantineReleaseThreshold(spec.getQuarantineReleaseThreshold());
    }
    if (spec.getConfidence() != null) {
      b.confidence(spec.getConfidence());
    }
    if (spec.getResponseTimeGood() != null || spec.getResponseTimeBad() != null) {
      TrustPolicy d = TrustPolicy.defaults();
      Duration good =
          spec.getResponseTimeGood() == null
              ? d.responseTimeGood()
              : Durations.parse("spec.responseTimeGood", spec.getResponseTimeGood());
      Duration bad =
          spec.getResponseTimeBad() == null
              ? d.responseTimeBad()
              : Durations.parse("spec.responseTimeBad", spec.getResponseTimeBad());
      b.responseTime(good, bad);
    }
    if (spec.getNetworkTarget() != null) {
      b.networkTargetBytes(Quantities.bytes("spec.networkTarget", spec.getNetworkTarget()));
    }
    if (spec.getCorroboration() != null) {
      for (TrustFactor f : TrustFactor.values()) {
        if (f.isReported()) {
          b.corroboration(f, Set.of());
        }
      }
      List<TrustPolicySpec.Corroboration> cs = spec.getCorroboration();
      for (int i = 0; i < cs.size(); i++) {
        TrustPolicySpec.Corroboration c = cs.get(i);
        if (c == null || c.getReported() == null) {
          throw new InvalidFieldException("spec.corroboration[" + i + "].reported", "must be set");
        }
        EnumSet<TrustFactor> by = EnumSet.noneOf(TrustFactor.class);
        if (c.getVerifiedBy() != null) {
          for (TrustFactorName v : c.getVerifiedBy()) {
            by.add(factor(v));
          }
        }
        b.corroboration(factor(c.getReported()), by);
      }
    }
    if (spec.getContradictionTolerance() != null) {
      b.contradictionTolerance(spec.getContradictionTolerance());
    }
    if (spec.getContradictionMinEvidence() != null) {
      b.contradictionMinEvidence(spec.getContradictionMinEvidence());
    }
    try {
      return b.build();
    } catch (InvalidTrustPolicyException e) {
      String field = crField(e.field());
      String message = e.getMessage();
      if (message.startsWith(e.field())) {
        message = message.substring(e.field().length()).replaceFirst("^[:\\s]+", "");
      }
      throw new InvalidFieldException(field, message);
    }
  }

  private static void weight(TrustPolicy.Builder b, TrustFactor f, Double w) {
    if (w != null) {
      b.weight(f, w);
    }
  }

  private static void threshold(TrustPolicy.Builder b, TrustTier t, Double v) {
    if (v != null) {
      b.threshold(t, v);
    }
  }

  private static TrustTier tier(ClassificationName c) {
    return TrustTier.valueOf(c.name());
  }

  private static TrustFactor factor(TrustFactorName f) {
    return TrustFactor.valueOf(f.name());
  }

  /**
   * The engine's field path ({@code weights.UPTIME}, {@code gates.CRITICAL.ENCRYPTION_COMPLIANCE},
   * {@code thresholds.PUBLIC}, {@code decay}) as the custom resource spells it.
   */
  static String crField(String engineField) {
    String[] parts = engineField.split("\\.");
    if (parts[0].equals("gates") && parts.length == 3) {
      return "spec.gates[tier=" + parts[1] + ",factor=" + parts[2] + "].minimum";
    }
    StringBuilder sb = new StringBuilder("spec");
    for (String p : parts) {
      sb.append('.').append(camel(p));
    }
    return sb.toString();
  }

  private static String camel(String s) {
    if (!s.equals(s.toUpperCase(Locale.ROOT)) || s.isEmpty()) {
      return s;
    }
    StringBuilder sb = new StringBuilder();
    boolean up = false;
    for (char c : s.toLowerCase(Locale.ROOT).toCharArray()) {
      if (c == '_') {
        up = true;
      } else {
        sb.append(up ? Character.toUpperCase(c) : c);
        up = false;
      }
    }
    return sb.toString();
  }
}
