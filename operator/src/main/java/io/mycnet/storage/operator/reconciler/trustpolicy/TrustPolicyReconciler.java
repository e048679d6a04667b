package io.mycnet.storage.operator.reconciler.trustpolicy;

import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.crds.v1alpha1.TrustPolicyStatus;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.ReconcileFailures;
import io.mycnet.storage.operator.reconciler.ReplicationTrigger;
import io.mycnet.storage.operator.reconciler.Statuses;
import io.mycnet.storage.operator.trust.TierTransition;
import io.mycnet.storage.operator.trust.TrustEngine;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles {@code TrustPolicy} resources into the trust engine. See the package documentation.
 */
public final class TrustPolicyReconciler implements Reconciler<TrustPolicy>, Cleaner<TrustPolicy> {
  private static final Logger LOG = LoggerFactory.getLogger(TrustPolicyReconciler.class);
  private static final int MAX_LISTED = 10;

  private final TrustEngine engine;
  private final ReplicationTrigger replication;
  private final KubeEvents events;
  private final ReconcileFailures failures;
  private final TrustPolicyStatusFactory status;

  public TrustPolicyReconciler(
      TrustEngine engine,
      ReplicationTrigger replication,
      KubeEvents events,
      Conditions conditions) {
    this.engine = engine;
    this.replication = replication;
    this.events = events;
    this.failures = new ReconcileFailures(conditions, events);
    this.status = new TrustPolicyStatusFactory(conditions);
  }

  /** The policy in force among {@code all}: the oldest not being deleted marked default. */
  static Optional<TrustPolicy> chosenDefault(List<TrustPolicy> all) {
    return all.stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .filter(p -> p.getSpec() != null && Boolean.TRUE.equals(p.getSpec().getDefaultPolicy()))
        .min(
            Comparator.comparing(
                    (TrustPolicy p) ->
                        p.getMetadata().getCreationTimestamp() == null
                            ? ""
                            : p.getMetadata().getCreationTimestamp())
                .thenComparing(p -> p.getMetadata().getName()));
  }

  @Override
  public UpdateControl<TrustPolicy> reconcile(TrustPolicy tp, Context<TrustPolicy> context) {
    List<TrustPolicy> all = context.getPrimaryCache().list().toList();
    Optional<TrustPolicy> chosen = chosenDefault(all);
    List<TierTransition> transitions = applyInForce(chosen.orElse(null));
    boolean isChosen =
        chosen.map(c -> c.getMetadata().getName().equals(tp.getMetadata().getName())).orElse(false);

    TrustPolicyStatus next;
    try {
      TrustPolicyMapper.toPolicy(tp.getSpec());
      if (isChosen) {
        next =
            status.active(
                tp, engine.tiers(), !transitions.isEmpty() || !wasActive(tp), transitions.size());
      } else if (tp.getSpec() != null && Boolean.TRUE.equals(tp.getSpec().getDefaultPolicy())) {
        next =
            status.inactive(
                tp,
                false,
                TrustPolicyReason.CONFLICTING_DEFAULT,
                "TrustPolicy "
                    + chosen.map(c -> c.getMetadata().getName()).orElse("?")
                    + " is older and also marked default; only one policy is in force");
      } else {
        next =
            status.inactive(
                tp,
                true,
                TrustPolicyReason.NOT_DEFAULT,
                "valid; not applied because it is not marked default");
      }
    } catch (InvalidFieldException e) {
      failures.invalidSpec(tp, tp.getStatus() == null ? null : tp.getStatus().getConditions(), e);
      next = status.invalid(tp, e.getMessage(), isChosen);
    }
    if (isChosen && !transitions.isEmpty()) {
      events.normal(tp, TrustPolicyReason.TIER_CHANGES, describe(transitions));
    }
    if (Statuses.same(tp.getStatus(), next)) {
      return UpdateControl.noUpdate();
    }
    tp.setStatus(next);
    return UpdateControl.patchStatus(tp);
  }

  private static boolean wasActive(TrustPolicy tp) {
    return tp.getStatus() != null && Boolean.TRUE.equals(tp.getStatus().getActive());
  }

  /**
   * Makes the engine run the policy in force (the engine's defaults when no policy is marked
   * default; unchanged while the chosen one is invalid) and hands every tier transition to the
   * replication manager.
   */
  private List<TierTransition> applyInForce(TrustPolicy chosen) {
    io.mycnet.storage.operator.trust.TrustPolicy policy;
    if (chosen == null) {
      policy = io.mycnet.storage.operator.trust.TrustPolicy.defaults();
    } else {
      try {
        policy = TrustPolicyMapper.toPolicy(chosen.getSpec());
      } catch (InvalidFieldException e) {
        return List.of();
      }
    }
    List<TierTransition> transitions = engine.applyPolicy(policy);
    if (!transitions.isEmpty()) {
      LOG.info(
          "trust policy {} applied: {}",
          chosen == null ? "(defaults)" : chosen.getMetadata().getName(),
          describe(transitions));
      for (TierTransition t : transitions) {
        replication.tierChanged(t.nodeId());
      }
    }
    return transitions;
  }

  static String describe(List<TierTransition> transitions) {
    String listed =
        transitions.stream()
            .limit(MAX_LISTED)
            .map(t -> t.nodeId() + " " + t.from() + "->" + t.to())
            .collect(Collectors.joining(", "));
    return transitions.size()
        + " nodes changed tier: "
        + listed
        + (transitions.size() > MAX_LISTED ? ", ..." : "");
  }

  @Override
  public ErrorStatusUpdateControl<TrustPolicy> updateErrorStatus(
      TrustPolicy tp, Context<TrustPolicy> context, Exception e) {
    return failures.reconcileFailed(
        tp,
        tp.getStatus() == null ? new TrustPolicyStatus() : tp.getStatus(),
        TrustPolicyStatus::getConditions,
        TrustPolicyStatus::setConditions,
        CommonReason.RECONCILE_ERROR,
        e);
  }

  /** Deleting the policy in force falls back to the next default, or to the defaults. */
  @Override
  public DeleteControl cleanup(TrustPolicy tp, Context<TrustPolicy> context) {
    String name = tp.getMetadata().getName();
    List<TrustPolicy> others =
        context
            .getPrimaryCache()
            .list()
            .filter(p -> !p.getMetadata().getName().equals(name))
            .toList();
    List<TierTransition> t = applyInForce(chosenDefault(others).orElse(null));
    if (!t.isEmpty()) {
      LOG.info("trust policy {} deleted; {}", name, describe(t));
    }
    return DeleteControl.defaultDelete();
  }
}
