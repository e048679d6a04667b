package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;

/**
 * The pure function from a node's evidence and a policy to its score, tier and explanation. It
 * reads a {@link NodeTrustRecord} (including the state the hysteresis rules remember from the last
 * assessment) and changes nothing; {@link TrustEngine} commits the result.
 *
 * <p>The steps, in order (see the package documentation for the reasons):
 *
 * <ol>
 *   <li>each factor's value is the lower confidence bound of its Beta posterior;
 *   <li>a REPORTED factor with corroborating VERIFIED factors is capped at their observed mean +
 *       {@code contradictionTolerance} (counting only corroborators with at least {@code
 *       contradictionMinEvidence} events);
 *   <li>score = Σ effective weight × value;
 *   <li>the score tier comes from {@link TierClassifier} (thresholds with hysteresis);
 *   <li>a failed gate at tier T caps the tier one below T (minUptime is a gate at PUBLIC, so it
 *       caps at NONE); an unvetted node is capped at STANDARD; a quarantined node gets NONE.
 * </ol>
 */
public final class TrustEvaluator {
  private static final TrustFactor[] FACTORS = TrustFactor.values();
  private static final int N = FACTORS.length;
  private static final int INTEGRITY = TrustFactor.DATA_INTEGRITY.ordinal();
  private static final TrustTier[] TIERS = TrustTier.values();

  private final TrustPolicy policy;
  private final double[] weights;
  private final double z;
  private final int[][] corroborators;
  private final double tolerance;
  private final long minEvidence;

  public TrustEvaluator(TrustPolicy policy) {
    this.policy = policy;
    this.weights = policy.effectiveWeightArray();
    this.z = policy.z();
    this.corroborators = new int[N][];
    for (int f = 0; f < N; f++) {
      corroborators[f] = policy.corroborators(f);
    }
    this.tolerance = policy.contradictionTolerance();
    this.minEvidence = policy.contradictionMinEvidence();
  }

  public TrustPolicy policy() {
    return policy;
  }

  /**
   * The success weight s in [0, 1] one piece of evidence contributes to its factor under {@code
   * policy}, or NaN when it carries no evidence.
   */
  public static double successWeight(TrustEvidence e, TrustPolicy policy) {
    if (e instanceof TrustEvidence.IntegrityAudit a) {
      return a.passed() ? 1 : 0;
    } else if (e instanceof TrustEvidence.Heartbeat h) {
      return h.seen() ? 1 : 0;
    } else if (e instanceof TrustEvidence.ReplicationAck r) {
      return r.onTime() ? 1 : 0;
    } else if (e instanceof TrustEvidence.LatencySample l) {
      long nanos = saturatedNanos(l.latency());
      long good = saturatedNanos(policy.responseTimeGood());
      long bad = saturatedNanos(policy.responseTimeBad());
      if (nanos <= good) {
        return 1;
      }
      if (nanos >= bad) {
        return 0;
      }
      return (double) (bad - nanos) / (double) (bad - good);
    } else if (e instanceof TrustEvidence.BytesServed b) {
      if (b.bytesRequested() == 0) {
        return Double.NaN;
      }
      double expected = Math.min(b.bytesRequested(), policy.networkTargetBytes());
      return Math.min(1.0, b.bytesServed() / expected);
    } else if (e instanceof TrustEvidence.ReportedFactor r) {
      return r.value();
    }
    throw new IllegalArgumentException("unknown evidence " + e);
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException overflow) {
      return Long.MAX_VALUE;
    }
  }

  // ------------------------------------------------------------------ score

  /** The score alone, without tier or explanation: the cheap path (no allocation). */
  public double score(NodeTrustRecord r) {
    double score = 0;
    for (int f = 0; f < N; f++) {
      double w = weights[f];
      if (w == 0) {
        continue;
      }
      double v = BetaPosterior.lowerBound(r.alpha[f], r.beta[f], z);
      int[] cs = corroborators[f];
      if (cs.length > 0) {
        double cap = corroborationCap(r, cs);
        if (v > cap) {
          v = cap;
        }
      }
      score += w * v;
    }
    return clamp(score);
  }

  /** observed mean + tolerance over corroborators with enough evidence; +∞ when none has. */
  private double corroborationCap(NodeTrustRecord r, int[] cs) {
    double sum = 0;
    int counted = 0;
    for (int c : cs) {
      if (r.events[c] >= minEvidence && r.events[c] > 0) {
        sum += BetaPosterior.mean(r.alpha[c], r.beta[c]);
        counted++;
      }
    }
    return counted == 0 ? Double.POSITIVE_INFINITY : sum / counted + tolerance;
  }

  private static double clamp(double s) {
    return s < 0 ? 0 : Math.min(s, 1);
  }

  // ------------------------------------------------------------------ quarantine

  /** The quarantine rule on its own (cheap; used by simulations). */
  public QuarantineStatus quarantineStatus(NodeTrustRecord r) {
    double failures = r.beta[INTEGRITY];
    boolean quarantined =
        r.quarantined
            ? failures > policy.releaseFailureLimit()
            : failures > policy.quarantineFailureLimit();
    double reputation = Math.max(0, 1 - (1 - policy.decay()) * failures);
    return new QuarantineStatus(
        quarantined,
        reputation,
        failures,
        policy.quarantineThreshold(),
        policy.quarantineReleaseThreshold());
  }

  // ------------------------------------------------------------------ full assessment

  /**
   * Assesses {@code r} at {@code now}, using (not changing) the hysteresis state it remembers from
   * its last committed assessment.
   */
  public TrustAssessment evaluate(NodeTrustRecord r, Instant now) {
    FactorBreakdown[] factors = new FactorBreakdown[N];
    double[] lcb = new double[N];
    double score = 0;
    for (int f = 0; f < N; f++) {
      double mean = BetaPosterior.mean(r.alpha[f], r.beta[f]);
      double bound = BetaPosterior.lowerBound(r.alpha[f], r.beta[f], z);
      lcb[f] = bound;
      double value = bound;
      Optional<FactorBreakdown.Contradiction> contradiction = Optional.empty();
      int[] cs = corroborators[f];
      if (cs.length > 0) {
        double cap = corroborationCap(r, cs);
        if (bound > cap) {
          value = cap;
          EnumSet<TrustFactor> by = EnumSet.noneOf(TrustFactor.class);
          for (int c : cs) {
            if (r.events[c] >= minEvidence && r.events[c] > 0) {
              by.add(FACTORS[c]);
            }
          }
          contradiction =
              Optional.of(
                  new FactorBreakdown.Contradiction(
                      Collections.unmodifiableSet(by), cap - tolerance, tolerance, cap));
        }
      }
      double w = weights[f];
      double contribution = w * value;
      if (w != 0) {
        score += contribution;
      }
      factors[f] =
          new FactorBreakdown(
              FACTORS[f],
              FACTORS[f].source(),
              mean,
              bound,
              value,
              r.events[f],
              r.alpha[f] + r.beta[f],
              r.latest[f],
              w,
              contribution,
              contradiction);
    }
    score = clamp(score);

    TierClassifier.Step step = TierClassifier.classify(policy, r.scoreTier, score);
    TrustTier tier = step.tier();
    List<TierLimit> limits = null;

    // Gates.
    List<TrustPolicy.Gate> gates = policy.compiledGates();
    GateResult[] gateResults = new GateResult[gates.size()];
    double h = policy.hysteresis();
    for (int gi = 0; gi < gateResults.length; gi++) {
      TrustPolicy.Gate g = gates.get(gi);
      int f = g.factor().ordinal();
      long bit = 1L << g.bit();
      double required = g.minimum();
      if ((r.gateKnown & bit) != 0) {
        required = (r.gatePassed & bit) != 0 ? g.minimum() - h : g.minimum() + h;
      }
      double latest = r.latest[f];
      boolean passed = lcb[f] >= required && (!g.factor().isReported() || latest >= g.minimum());
      gateResults[gi] = new GateResult(g, lcb[f], latest, required, passed);
      if (!passed) {
        TrustTier cap = TIERS[g.tier().ordinal() + 1];
        if (step.tier().isHigherThan(cap)) {
          limits =
              add(
                  limits,
                  new TierLimit(
                      g.field().equals(TrustPolicy.MIN_UPTIME_FIELD)
                          ? TierLimit.Kind.MIN_UPTIME
                          : TierLimit.Kind.GATE,
                      cap,
                      g.field()));
          tier = lower(tier, cap);
        }
      }
    }

    // Quarantine (evaluated before vetting: a release restarts vetting).
    QuarantineStatus quarantine = quarantineStatus(r);
    boolean released = r.quarantined && !quarantine.quarantined();

    // Vetting.
    TrustPolicy.Vetting v = policy.vetting();
    Instant since = released ? now : r.vettingSince();
    long passedAudits = released ? 0 : r.auditsPassedSinceVetting;
    Duration age = since == null ? Duration.ZERO : Duration.between(since, now);
    if (age.isNegative()) {
      age = Duration.ZERO;
    }
    boolean vetted =
        !quarantine.quarantined()
            && ((r.vetted && !released)
                || (passedAudits >= v.auditsRequired() && age.compareTo(v.minAge()) >= 0));
    VettingStatus vetting =
        new VettingStatus(
            vetted,
            quarantine.quarantined(),
            passedAudits,
            v.auditsRequired(),
            since,
            age,
            v.minAge());
    if (!vetted && !quarantine.quarantined() && step.tier().isHigherThan(TrustTier.STANDARD)) {
      limits = add(limits, new TierLimit(TierLimit.Kind.VETTING, TrustTier.STANDARD, "vetting"));
      tier = lower(tier, TrustTier.STANDARD);
    }
    if (quarantine.quarantined()) {
      limits =
          add(
              limits,
              new TierLimit(TierLimit.Kind.QUARANTINE, TrustTier.NONE, "quarantineThreshold"));
      tier = TrustTier.NONE;
    }

    TrustExplanation explanation =
        new TrustExplanation(
            List.of(factors),
            step,
            List.of(gateResults),
            vetting,
            quarantine,
            limits == null ? List.of() : limits);
    return new TrustAssessment(r.nodeId(), now, score, tier, explanation);
  }

  private static List<TierLimit> add(List<TierLimit> list, TierLimit l) {
    List<TierLimit> out = list == null ? new ArrayList<>(2) : list;
    out.add(l);
    return out;
  }

  private static TrustTier lower(TrustTier a, TrustTier b) {
    return a.isHigherThan(b) ? b : a;
  }
}
