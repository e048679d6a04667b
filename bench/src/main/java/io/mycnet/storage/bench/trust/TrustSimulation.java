package io.mycnet.storage.bench.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TierTransition;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvaluator;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustEvidence.AuditKind;
import io.mycnet.storage.operator.trust.TrustEvidence.IntegrityAudit;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Monte Carlo simulation of the trust engine's quarantine rule under the default policy. Prints
 * figures; asserts nothing (it is not a test). Usage: {@code TrustSimulation [seed] [nodes]
 * [maxAudits]}, defaults 20250101, 10000, 10000.
 *
 * <ol>
 *   <li>A node failing every audit, from the worst case (a long perfect record: steady state) and
 *       from a fresh node: audits until quarantine, against the bound 1.1 × ln(T)/ln(λ). The
 *       record-level result is cross-checked through a full {@link TrustEngine}.
 *   <li>Nodes failing 1%, 2%, 3% and 5% of audits independently at random: the share excluded
 *       (quarantined) within {@code maxAudits} audits, and how many audits it took.
 * </ol>
 */
public final class TrustSimulation {
  private static final Instant T0 = Instant.parse("2025-01-01T00:00:00Z");

  private TrustSimulation() {}

  public static void main(String[] args) {
    long seed = args.length > 0 ? Long.parseLong(args[0]) : 20250101L;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
    int maxAudits = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
    TrustPolicy policy = TrustPolicy.defaults();
    TrustEvaluator evaluator = new TrustEvaluator(policy);
    double lambda = policy.decay();
    double threshold = policy.quarantineThreshold();

    out("== trust engine simulation (default TrustPolicy) ==");
    out(
        "seed %d, nodes %d, audits per node up to %d; decay λ = %s (window 1/(1-λ) = %.0f"
            + " events), quarantineThreshold T = %s (failure-weight limit (1-T)/(1-λ) = %.2f)",
        seed,
        nodes,
        maxAudits,
        lambda,
        1 / (1 - lambda),
        threshold,
        policy.quarantineFailureLimit());
    long started = System.nanoTime();

    // 1. A node failing every audit.
    double bound = Math.log(threshold) / Math.log(lambda);
    out("");
    out("-- a node failing every audit --");
    out("bound: ln(T)/ln(λ) = %.2f audits; required: within 1.1 x that = %.2f", bound, 1.1 * bound);
    int veteranAudits = 20 * (int) Math.ceil(1 / (1 - lambda));
    NodeTrustRecord veteran = NodeTrustRecord.create("veteran");
    IntegrityAudit pass = new IntegrityAudit("veteran", T0, AuditKind.CHALLENGE, true);
    for (int i = 0; i < veteranAudits; i++) {
      veteran.apply(pass, policy);
    }
    int[] fromVeteran = failEverything(veteran, nodes, maxAudits, policy, evaluator);
    int[] fromFresh =
        failEverything(NodeTrustRecord.create("veteran"), nodes, maxAudits, policy, evaluator);
    reportAllFail(
        "steady state (" + veteranAudits + " clean audits first)", fromVeteran, bound, nodes);
    reportAllFail("fresh node (no evidence)", fromFresh, bound, nodes);
    engineCrossCheck(policy, fromVeteran[0]);

    // 2. Nodes failing a fraction of audits at random.
    out("");
    out("-- nodes failing a fraction p of audits at random (independent Bernoulli) --");
    out(
        "%-6s %-10s %-12s %-10s %-10s %-10s %-10s",
        "p", "excluded", "rate", "p50", "p99", "max", "(audits to exclusion, excluded nodes)");
    SplittableRandom root = new SplittableRandom(seed);
    double[] rates = {0.01, 0.02, 0.03, 0.05};
    double[] excludedRate = new double[rates.length];
    for (int k = 0; k < rates.length; k++) {
      excludedRate[k] = randomFailures(rates[k], root.split(), nodes, maxAudits, policy, evaluator);
    }
    out("");
    out(
        "requirement: p = 5%% excluded within %d audits with probability >= 99%%: %.2f%% -> %s",
        maxAudits, 100 * excludedRate[3], excludedRate[3] >= 0.99 ? "MET" : "NOT MET");
    out(
        "requirement: p = 1%% wrongly excluded within %d audits at most 1%% of the time: %.2f%% -> %s",
        maxAudits, 100 * excludedRate[0], excludedRate[0] <= 0.01 ? "MET" : "NOT MET");
    out("simulation time %.1f s", (System.nanoTime() - started) / 1e9);
  }

  /** Copies {@code start} to {@code nodes} nodes, fails every audit, returns audits needed. */
  private static int[] failEverything(
      NodeTrustRecord start,
      int nodes,
      int maxAudits,
      TrustPolicy policy,
      TrustEvaluator evaluator) {
    IntegrityAudit fail = new IntegrityAudit(start.nodeId(), T0, AuditKind.CHALLENGE, false);
    int[] needed = new int[nodes];
    for (int n = 0; n < nodes; n++) {
      NodeTrustRecord r = start.copy();
      int audits = 0;
      while (audits < maxAudits && !evaluator.quarantineStatus(r).quarantined()) {
        r.apply(fail, policy);
        audits++;
      }
      needed[n] = evaluator.quarantineStatus(r).quarantined() ? audits : -1;
    }
    return needed;
  }

  private static void reportAllFail(String label, int[] needed, double bound, int nodes) {
    int[] sorted = needed.clone();
    Arrays.sort(sorted);
    int worst = sorted[sorted.length - 1];
    boolean all = sorted[0] > 0;
    out(
        "%-44s quarantined after %d audits (min %d, max %d over %d nodes); ratio to bound %.3f;"
            + " within 1.1 x bound: %s",
        label + ":",
        worst,
        sorted[0],
        worst,
        nodes,
        worst / bound,
        all && worst <= 1.1 * bound ? "MET" : "NOT MET");
  }

  /** The same scenario through the full engine: a healthy vetted node that starts failing. */
  private static void engineCrossCheck(TrustPolicy policy, int expected) {
    SimClock clock = new SimClock(T0);
    TrustEngine engine = new TrustEngine(policy, clock);
    String id = "engine-veteran";
    for (int i = 0; i < 2_000; i++) {
      clock.advance(Duration.ofMinutes(1));
      Instant at = clock.instant();
      engine.recordAll(
          List.of(
              new TrustEvidence.Heartbeat(id, at, true),
              new TrustEvidence.LatencySample(
                  id, at, TrustEvidence.RoundTrip.HEARTBEAT, Duration.ofMillis(20)),
              new TrustEvidence.ReplicationAck(id, at, true),
              new IntegrityAudit(id, at, AuditKind.CHALLENGE, true),
              new TrustEvidence.BytesServed(id, at, 1 << 20, 1 << 20),
              new TrustEvidence.ReportedFactor(id, at, TrustFactor.IO_PERFORMANCE, 1),
              new TrustEvidence.ReportedFactor(id, at, TrustFactor.ENCRYPTION_COMPLIANCE, 1),
              new TrustEvidence.ReportedFactor(id, at, TrustFactor.ACCESS_CONTROL, 1)));
    }
    TrustTier before = engine.tier(id);
    List<TierTransition> transitions = new ArrayList<>();
    int audits = 0;
    while (engine.tier(id) != TrustTier.NONE && audits < 1_000) {
      clock.advance(Duration.ofSeconds(30));
      transitions.addAll(
          engine.record(new IntegrityAudit(id, clock.instant(), AuditKind.CHALLENGE, false)));
      audits++;
    }
    out(
        "engine cross-check (healthy node, 2000 ticks, then failing audits): %s -> %s after %d"
            + " failed audits (record-level: %d); transitions: %s",
        before,
        engine.tier(id),
        audits,
        expected,
        transitions.stream()
            .map(t -> t.from() + "->" + t.to() + " evacuate " + t.evacuate())
            .toList());
    TierTransition last = transitions.get(transitions.size() - 1);
    out("  reason: %s", last.reason());
    out("  explanation after quarantine:");
    for (String line : engine.assess(id).render().split("\n")) {
      out("    %s", line);
    }
  }

  private static double randomFailures(
      double p,
      SplittableRandom rng,
      int nodes,
      int maxAudits,
      TrustPolicy policy,
      TrustEvaluator evaluator) {
    IntegrityAudit pass = new IntegrityAudit("sim", T0, AuditKind.CHALLENGE, true);
    IntegrityAudit fail = new IntegrityAudit("sim", T0, AuditKind.CHALLENGE, false);
    int[] when = new int[nodes];
    int excluded = 0;
    for (int n = 0; n < nodes; n++) {
      SplittableRandom nodeRng = rng.split();
      NodeTrustRecord r = NodeTrustRecord.create("sim");
      when[n] = -1;
      for (int a = 1; a <= maxAudits; a++) {
        boolean failed = nodeRng.nextDouble() < p;
        r.apply(failed ? fail : pass, policy);
        if (failed && evaluator.quarantineStatus(r).quarantined()) {
          when[n] = a;
          excluded++;
          break;
        }
      }
    }
    int[] hits = Arrays.stream(when).filter(w -> w > 0).sorted().toArray();
    double rate = excluded / (double) nodes;
    out(
        "%-6s %-10s %-12s %-10s %-10s %-10s",
        String.format(Locale.ROOT, "%.0f%%", p * 100),
        excluded + "/" + nodes,
        String.format(Locale.ROOT, "%.2f%%", rate * 100),
        hits.length == 0 ? "-" : Integer.toString(hits[hits.length / 2]),
        hits.length == 0 ? "-" : Integer.toString(hits[(int) Math.floor(0.99 * (hits.length - 1))]),
        hits.length == 0 ? "-" : Integer.toString(hits[hits.length - 1]));
    return rate;
  }

  private static void out(String format, Object... args) {
    System.out.println(String.format(Locale.ROOT, format, args));
  }

  /** A clock the simulation moves by hand. */
  private static final class SimClock extends Clock {
    private Instant now;

    SimClock(Instant start) {
      this.now = start;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
