/**
 * The {@code TrustPolicy} reconciler. The custom resource maps field by field onto the trust
 * engine's immutable {@link io.mycnet.storage.operator.trust.TrustPolicy} (unset fields keep the
 * engine's defaults); the engine's own validation names an invalid field, which becomes {@code
 * Ready=False}. Exactly one policy is in force: the oldest one marked {@code default: true} (while
 * it is invalid the engine keeps the policy it had), or the engine's defaults when there is none.
 * Every reconcile of any TrustPolicy makes the engine run that one ({@code
 * TrustEngine.applyPolicy}), and each tier transition it causes is handed to the replication
 * manager, so a stricter policy shows up as re-replication of exactly the replicas that lost their
 * tier. Deleting the policy in force (finalizer) falls back to the next default or to the defaults,
 * with the same re-evaluation.
 */
package io.mycnet.storage.operator.reconciler.trustpolicy;
