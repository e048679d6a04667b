/**
 * The trust engine: from evidence about each node to a trust score, a tier of data it may hold, an
 * explanation, and an event whenever the tier changes. Pure Java: no Kubernetes, etcd or gRPC here;
 * adapters feed it {@link io.mycnet.storage.operator.trust.TrustEvidence} and read {@link
 * io.mycnet.storage.operator.trust.TierTransition}s. Every default below lives in {@link
 * io.mycnet.storage.operator.trust.TrustPolicy}, which gives the reason for each value.
 *
 * <h2>Evidence</h2>
 *
 * Evidence arrives as events, each about one node at one instant and each feeding one of the eight
 * factors with a success weight s in [0, 1]: integrity audits and scrubs (DATA_INTEGRITY, s =
 * passed), heartbeat intervals seen or missed (UPTIME), heartbeat and command round trips
 * (RESPONSE_TIME, 1 up to {@code responseTimeGood}, 0 from {@code responseTimeBad}, linear in
 * between), replication acknowledgements on time or late (CONSENSUS_PARTICIPATION), bytes served to
 * peers against bytes asked (NETWORK_CONTRIBUTION, capped at {@code networkTargetBytes}), and the
 * agent's own claims for the three REPORTED factors (s = the claimed value).
 *
 * <h2>Model: Beta evidence with forgetting</h2>
 *
 * Each factor keeps decayed success and failure weights, in the manner of Storj's audit reputation:
 * on each event {@code α ← λα + s}, {@code β ← λβ + (1 - s)}, with λ = {@code decay}. The weights
 * start at 0 and saturate at α + β = 1/(1 - λ), the evidence window (1000 events at the default λ =
 * 0.999); old evidence fades geometrically, so a node's past neither protects nor condemns it
 * forever. Decisions read the posterior Beta(α + 1, β + 1) (uniform prior).
 *
 * <p>A factor's <b>value</b> is the posterior's <b>lower confidence bound</b> at {@code confidence}
 * (default 0.95, z = 1.645), approximated as {@code mean - z·sd} and clamped to [0, 1]. A node with
 * little evidence is therefore trusted less than one with a long clean record: no evidence gives
 * 0.03, ten clean audits 0.79, a hundred 0.973, a full window 0.997.
 *
 * <h2>Score</h2>
 *
 * {@code score = Σ w_f · value_f} with the policy's {@code weights} normalised to sum 1 (so only
 * their ratios matter), then the REPORTED factors scaled down to hold together at most {@code
 * reportedFactorCap} (default 0.30) and the VERIFIED ones scaled up to fill the rest: what the
 * control plane measures outweighs what an agent claims (docs/architecture.md, rule 3). The score
 * is in [0, 1].
 *
 * <p><b>Contradiction discount.</b> A REPORTED factor can be contradicted by the VERIFIED factors
 * that observe the same property ({@code corroboration}; by default IO_PERFORMANCE by RESPONSE_TIME
 * and CONSENSUS_PARTICIPATION). The claim's value is capped at the average posterior mean of those
 * corroborating factors that have at least {@code contradictionMinEvidence} (20) events, plus
 * {@code contradictionTolerance} (0.2): {@code value = min(LCB(claim), observed + tolerance)}. A
 * node claiming a fast disk while its round trips and acks are poor thus gets little for the claim.
 * The rule is a cap rather than a penalty so that it stays monotone: a better claim or a better
 * observation never lowers the score. Without enough observations there is no contradiction.
 *
 * <h2>Tier</h2>
 *
 * <ol>
 *   <li><b>Thresholds with hysteresis</b> ({@link
 *       io.mycnet.storage.operator.trust.TierClassifier}): CRITICAL 0.9, SENSITIVE 0.7, STANDARD
 *       0.5, PUBLIC 0.1 by default. The first assessment uses them as they are; afterwards a node
 *       moves up only at threshold + h and down only below threshold - h (h = {@code hysteresis},
 *       0.02), so a score wandering less than 2h never changes tier more than once.
 *   <li><b>Gates.</b> {@code gates} require a factor to reach a minimum to hold a tier, and that
 *       tier's requirement holds at every tier above it too (default: ENCRYPTION_COMPLIANCE &gt;=
 *       0.9 for SENSITIVE and CRITICAL). A gate passes when the factor's lower bound reaches the
 *       minimum (with the same hysteresis band, remembered per gate) and, for a REPORTED factor,
 *       the latest report does too, so a node saying its encryption is off loses the tier at once.
 *       A failed gate at tier T caps the node just below T. {@code minUptime} (0.8) is a gate on
 *       UPTIME for every tier: below it a node holds nothing.
 *   <li><b>Vetting.</b> A node is held at STANDARD at most until it has passed {@code
 *       vetting.auditsRequired} (100) integrity audits and is {@code vetting.minAge} (24h) old.
 *       Vetting is one-way until a quarantine; a node released from quarantine is vetted again from
 *       scratch.
 *   <li><b>Quarantine.</b> DATA_INTEGRITY below {@code quarantineThreshold} (T = 0.975) removes the
 *       node from every tier (NONE). Quarantine is a sanction, so it needs proof of failure, not
 *       mere lack of evidence: its statistic is not the lower bound (a new node with one audit has
 *       a bound of 0.28 if it passed, 0.005 if it failed) but the integrity posterior mean under a
 *       presumption-of-innocence prior of a full window of passed audits, 1/(1 - λ), decaying like
 *       real evidence. Since every event adds exactly 1 to α + β, this mean is exactly {@code 1 -
 *       (1 - λ)·β}: only failed audits lower it, and the rule reads "quarantine when the decayed
 *       weight of failed audits exceeds (1 - T)/(1 - λ)" (25 at the defaults). A node failing
 *       everything is caught after ceil(ln T / ln λ) = 26 audits whether it is new or a veteran
 *       with a perfect record (because the prior decays exactly like evidence, both start from zero
 *       failure weight; the veteran, the slow case of Storj's scheme, is thus no slower here),
 *       while a new node with one failed audit is far from it. The score, in contrast, uses the
 *       lower bound under the uniform prior, so that same new node earns little trust: no trust
 *       without evidence, no sanction without evidence. A quarantined node is released once its
 *       reputation is back at {@code quarantineReleaseThreshold} (0.9875, i.e. the failure weight
 *       has halved: at least 693 clean audits) and is then vetted again.
 * </ol>
 *
 * The node's tier is the lowest of what these rules allow, and {@link
 * io.mycnet.storage.operator.trust.TrustExplanation} says which rule decided.
 *
 * <h2>Transitions</h2>
 *
 * {@link io.mycnet.storage.operator.trust.TrustEngine} commits each assessment and emits a {@link
 * io.mycnet.storage.operator.trust.TierTransition} for every change of tier, including the first
 * (from NONE) and those caused by a policy change or by time (vetting age), carrying exactly the
 * classifications the node may no longer hold.
 *
 * <h2>Determinism and cost</h2>
 *
 * Time comes only from the injected {@link java.time.Clock} (and the evidence's own instants);
 * nodes are processed in id order; there is no randomness. A node's state is a few primitive
 * arrays; its score costs eight square roots, and a full assessment with explanation a few dozen
 * small allocations ({@code bench/trust-simulation.sh} measures both against a plain weighted sum).
 */
package io.mycnet.storage.operator.trust;
