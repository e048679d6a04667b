package io.mycnet.storage.operator.reconciler.trustpolicy;

import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.crds.v1alpha1.TrustPolicyStatus;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.Reason;
import java.util.Map;
import java.util.TreeMap;

/** Builds a {@link TrustPolicyStatus}. */
final class TrustPolicyStatusFactory {
  static final String ACTIVE = "Active";

  private final Conditions conditions;

  TrustPolicyStatusFactory(Conditions conditions) {
    this.conditions = conditions;
  }

  private static TrustPolicyStatus copyOf(TrustPolicy tp) {
    TrustPolicyStatus old = tp.getStatus();
    TrustPolicyStatus s = new TrustPolicyStatus();
    if (old != null) {
      s.setActive(old.getActive());
      s.setNodes(old.getNodes());
      s.setNodesPerTier(old.getNodesPerTier());
      s.setLastEvaluation(old.getLastEvaluation());
      s.setLastTierChanges(old.getLastTierChanges());
      s.setConditions(old.getConditions());
    }
    s.setObservedGeneration(tp.getMetadata().getGeneration());
    return s;
  }

  /** The policy in force. */
  TrustPolicyStatus active(
      TrustPolicy tp, Map<String, TrustTier> tiers, boolean evaluatedNow, int tierChanges) {
    TrustPolicyStatus s = copyOf(tp);
    Long gen = tp.getMetadata().getGeneration();
    s.setActive(true);
    Map<String, Integer> perTier = new TreeMap<>();
    tiers.values().forEach(t -> perTier.merge(t.name(), 1, Integer::sum));
    s.setNodes(tiers.size());
    s.setNodesPerTier(perTier);
    if (evaluatedNow || s.getLastEvaluation() == null) {
      s.setLastEvaluation(conditions.now());
      s.setLastTierChanges(tierChanges);
    }
    s.setConditions(
        conditions.set(
            s.getConditions(),
            Conditions.READY,
            true,
            TrustPolicyReason.APPLIED,
            "the trust engine applies this policy to " + tiers.size() + " nodes",
            gen));
    s.setConditions(
        conditions.set(
            s.getConditions(),
            ACTIVE,
            true,
            TrustPolicyReason.DEFAULT,
            "this is the default policy",
            gen));
    return s;
  }

  /** A valid policy that is not in force. */
  TrustPolicyStatus inactive(TrustPolicy tp, boolean ready, Reason reason, String message) {
    TrustPolicyStatus s = copyOf(tp);
    Long gen = tp.getMetadata().getGeneration();
    s.setActive(false);
    s.setNodes(null);
    s.setNodesPerTier(new TreeMap<>());
    s.setConditions(
        conditions.set(s.getConditions(), Conditions.READY, ready, reason, message, gen));
    s.setConditions(conditions.set(s.getConditions(), ACTIVE, false, reason, message, gen));
    return s;
  }

  /** An invalid policy; {@code wasActive}: it is the default and the engine keeps its policy. */
  TrustPolicyStatus invalid(TrustPolicy tp, String message, boolean isChosenDefault) {
    TrustPolicyStatus s = copyOf(tp);
    Long gen = tp.getMetadata().getGeneration();
    String m =
        message
            + (isChosenDefault
                ? "; the trust engine keeps the policy it applied before"
                : "; this policy cannot become the default until it is fixed");
    s.setConditions(
        conditions.set(
            s.getConditions(), Conditions.READY, false, CommonReason.INVALID_SPEC, m, gen));
    if (!isChosenDefault) {
      s.setActive(false);
      s.setConditions(
          conditions.set(
              s.getConditions(), ACTIVE, false, CommonReason.INVALID_SPEC, "not applied", gen));
    }
    return s;
  }
}
