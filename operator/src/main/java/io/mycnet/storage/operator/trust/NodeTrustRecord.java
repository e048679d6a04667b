package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Everything the engine keeps about one node: per factor the decayed Beta evidence (α, β), the
 * number of events and the latest success weight; the vetting counters; and the state the
 * hysteresis rules need (previous score tier, which gates passed, quarantine). It is a few hundred
 * bytes of primitive arrays, so 10,000 nodes evaluate from cache-friendly memory.
 *
 * <p>{@link TrustEngine} owns its records and hands out copies ({@link #copy()}). Simulations and
 * replays may build one directly with {@link #create(String)} and {@link #apply}, and evaluate it
 * with {@link TrustEvaluator}. Not thread-safe.
 */
public final class NodeTrustRecord {
  private static final int N = TrustFactor.values().length;
  private static final int INTEGRITY = TrustFactor.DATA_INTEGRITY.ordinal();

  private final String nodeId;
  final double[] alpha = new double[N];
  final double[] beta = new double[N];
  final long[] events = new long[N];
  final double[] latest = new double[N];

  Instant firstSeen;
  Instant lastEvidenceAt;

  /** Start of the current vetting: first evidence, or release from quarantine. */
  Instant releasedAt;

  long auditsPassedSinceVetting;
  boolean vetted;

  /** Previous score tier (before gates, vetting, quarantine); null before the first assessment. */
  TrustTier scoreTier;

  /** Tier at the last assessment; NONE before the first one. */
  TrustTier tier = TrustTier.NONE;

  /** Score at the last assessment; 0 before the first one. */
  double score;

  long gateKnown;
  long gatePassed;
  boolean quarantined;
  boolean assessed;

  /** The rules that held the node below its score tier at the last assessment. */
  List<TierLimit> limits = List.of();

  private NodeTrustRecord(String nodeId) {
    this.nodeId = nodeId;
    Arrays.fill(latest, Double.NaN);
  }

  /** An empty record: no evidence, never assessed. */
  public static NodeTrustRecord create(String nodeId) {
    if (nodeId == null || nodeId.isBlank()) {
      throw new IllegalArgumentException("nodeId must not be empty");
    }
    return new NodeTrustRecord(nodeId);
  }

  /**
   * Adds one piece of evidence: the factor's (α, β) become (λα + s, λβ + 1 - s) with s the
   * evidence's success weight under {@code policy}. Evidence that carries no information (a {@link
   * TrustEvidence.BytesServed} period with nothing requested) changes nothing but the node's
   * first-seen time.
   *
   * @throws IllegalArgumentException when the evidence is about another node
   */
  public void apply(TrustEvidence e, TrustPolicy policy) {
    if (!nodeId.equals(e.nodeId())) {
      throw new IllegalArgumentException(
          "evidence for node '" + e.nodeId() + "' applied to the record of '" + nodeId + "'");
    }
    if (firstSeen == null || e.at().isBefore(firstSeen)) {
      firstSeen = e.at();
    }
    if (lastEvidenceAt == null || e.at().isAfter(lastEvidenceAt)) {
      lastEvidenceAt = e.at();
    }
    double s = TrustEvaluator.successWeight(e, policy);
    if (Double.isNaN(s)) {
      return;
    }
    int f = e.factor().ordinal();
    double lambda = policy.decay();
    alpha[f] = lambda * alpha[f] + s;
    beta[f] = lambda * beta[f] + (1 - s);
    events[f]++;
    latest[f] = s;
    if (f == INTEGRITY && s == 1.0) {
      auditsPassedSinceVetting++;
    }
  }

  /** An independent copy. */
  public NodeTrustRecord copy() {
    NodeTrustRecord c = new NodeTrustRecord(nodeId);
    System.arraycopy(alpha, 0, c.alpha, 0, N);
    System.arraycopy(beta, 0, c.beta, 0, N);
    System.arraycopy(events, 0, c.events, 0, N);
    System.arraycopy(latest, 0, c.latest, 0, N);
    c.firstSeen = firstSeen;
    c.lastEvidenceAt = lastEvidenceAt;
    c.releasedAt = releasedAt;
    c.auditsPassedSinceVetting = auditsPassedSinceVetting;
    c.vetted = vetted;
    c.scoreTier = scoreTier;
    c.tier = tier;
    c.score = score;
    c.gateKnown = gateKnown;
    c.gatePassed = gatePassed;
    c.quarantined = quarantined;
    c.assessed = assessed;
    c.limits = limits;
    return c;
  }

  /**
   * Everything a record holds, as plain values, for storing it outside the engine (the control
   * plane persists it so that trust survives a restart). Per-factor arrays are indexed by {@link
   * TrustFactor#ordinal()}; instants are null where the record has none; {@code scoreTier} is null
   * before the first assessment. {@link #export()} and {@link #restore(State)} are exact inverses.
   */
  public record State(
      String nodeId,
      double[] alpha,
      double[] beta,
      long[] events,
      double[] latest,
      Instant firstSeen,
      Instant lastEvidenceAt,
      Instant releasedAt,
      long auditsPassedSinceVetting,
      boolean vetted,
      TrustTier scoreTier,
      TrustTier tier,
      double score,
      long gateKnown,
      long gatePassed,
      boolean quarantined,
      boolean assessed,
      List<TierLimit> limits) {

    public State {
      alpha = alpha.clone();
      beta = beta.clone();
      events = events.clone();
      latest = latest.clone();
      limits = List.copyOf(limits);
    }

    @Override
    public double[] alpha() {
      return alpha.clone();
    }

    @Override
    public double[] beta() {
      return beta.clone();
    }

    @Override
    public long[] events() {
      return events.clone();
    }

    @Override
    public double[] latest() {
      return latest.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof State s
          && nodeId.equals(s.nodeId)
          && Arrays.equals(alpha, s.alpha)
          && Arrays.equals(beta, s.beta)
          && Arrays.equals(events, s.events)
          && Arrays.equals(latest, s.latest)
          && Objects.equals(firstSeen, s.firstSeen)
          && Objects.equals(lastEvidenceAt, s.lastEvidenceAt)
          && Objects.equals(releasedAt, s.releasedAt)
          && auditsPassedSinceVetting == s.auditsPassedSinceVetting
          && vetted == s.vetted
          && scoreTier == s.scoreTier
          && tier == s.tier
          && Double.compare(score, s.score) == 0
          && gateKnown == s.gateKnown
          && gatePassed == s.gatePassed
          && quarantined == s.quarantined
          && assessed == s.assessed
          && limits.equals(s.limits);
    }

    @Override
    public int hashCode() {
      return Objects.hash(nodeId, Arrays.hashCode(alpha), Arrays.hashCode(beta), tier, score);
    }

    @Override
    public String toString() {
      return "NodeTrustRecord.State{" + nodeId + ", tier=" + tier + ", score=" + score + "}";
    }
  }

  /** The record's whole state as plain values (a copy: later evidence does not change it). */
  public State export() {
    return new State(
        nodeId,
        alpha,
        beta,
        events,
        latest,
        firstSeen,
        lastEvidenceAt,
        releasedAt,
        auditsPassedSinceVetting,
        vetted,
        scoreTier,
        tier,
        score,
        gateKnown,
        gatePassed,
        quarantined,
        assessed,
        limits);
  }

  /**
   * The record an {@link #export()} was taken from, exactly: evaluating it at any instant gives the
   * same assessment as evaluating the original.
   *
   * @throws IllegalArgumentException when the state is not one a record can have (wrong number of
   *     factors, negative or non-finite weights or counts, a latest weight outside [0, 1], no
   *     tier); the message names the field
   */
  public static NodeTrustRecord restore(State s) {
    NodeTrustRecord r = create(s.nodeId());
    double[] alpha = s.alpha;
    double[] beta = s.beta;
    long[] events = s.events;
    double[] latest = s.latest;
    if (alpha.length != N || beta.length != N || events.length != N || latest.length != N) {
      throw new IllegalArgumentException(
          "trust state of '" + s.nodeId() + "' must have " + N + " factors");
    }
    for (int f = 0; f < N; f++) {
      String name = TrustFactor.values()[f].name();
      if (!(alpha[f] >= 0) || !(beta[f] >= 0) || Double.isInfinite(alpha[f] + beta[f])) {
        throw new IllegalArgumentException(
            "trust state of '" + s.nodeId() + "': " + name + " has alpha/beta outside [0, inf)");
      }
      if (events[f] < 0) {
        throw new IllegalArgumentException(
            "trust state of '" + s.nodeId() + "': " + name + " has a negative event count");
      }
      if (!Double.isNaN(latest[f]) && !(latest[f] >= 0 && latest[f] <= 1)) {
        throw new IllegalArgumentException(
            "trust state of '" + s.nodeId() + "': " + name + " has a latest weight outside [0, 1]");
      }
    }
    if (s.tier() == null) {
      throw new IllegalArgumentException("trust state of '" + s.nodeId() + "' has no tier");
    }
    if (s.auditsPassedSinceVetting() < 0) {
      throw new IllegalArgumentException(
          "trust state of '" + s.nodeId() + "' has a negative audit count");
    }
    if (!(s.score() >= 0 && s.score() <= 1)) {
      throw new IllegalArgumentException(
          "trust state of '" + s.nodeId() + "' has a score outside [0, 1]");
    }
    System.arraycopy(alpha, 0, r.alpha, 0, N);
    System.arraycopy(beta, 0, r.beta, 0, N);
    System.arraycopy(events, 0, r.events, 0, N);
    System.arraycopy(latest, 0, r.latest, 0, N);
    r.firstSeen = s.firstSeen();
    r.lastEvidenceAt = s.lastEvidenceAt();
    r.releasedAt = s.releasedAt();
    r.auditsPassedSinceVetting = s.auditsPassedSinceVetting();
    r.vetted = s.vetted();
    r.scoreTier = s.scoreTier();
    r.tier = s.tier();
    r.score = s.score();
    r.gateKnown = s.gateKnown();
    r.gatePassed = s.gatePassed();
    r.quarantined = s.quarantined();
    r.assessed = s.assessed();
    r.limits = s.limits();
    return r;
  }

  /** Makes {@code a} (an assessment of this record at {@code now}) the record's current state. */
  void commit(TrustAssessment a, Instant now) {
    boolean wasQuarantined = quarantined;
    quarantined = a.explanation().quarantine().quarantined();
    if (quarantined) {
      vetted = false;
    } else if (wasQuarantined) {
      releasedAt = now;
      auditsPassedSinceVetting = 0;
      vetted = a.explanation().vetting().vetted();
    } else {
      vetted = a.explanation().vetting().vetted();
    }
    scoreTier = a.explanation().scoreTier();
    tier = a.tier();
    score = a.score();
    long known = 0;
    long passed = 0;
    for (GateResult g : a.explanation().gates()) {
      long bit = 1L << g.gate().bit();
      known |= bit;
      if (g.passed()) {
        passed |= bit;
      }
    }
    gateKnown = known;
    gatePassed = passed;
    limits = a.explanation().limits();
    assessed = true;
  }

  public String nodeId() {
    return nodeId;
  }

  /** Decayed success weight α of a factor. */
  public double alpha(TrustFactor f) {
    return alpha[f.ordinal()];
  }

  /** Decayed failure weight β of a factor. */
  public double beta(TrustFactor f) {
    return beta[f.ordinal()];
  }

  /** Number of events recorded for a factor. */
  public long events(TrustFactor f) {
    return events[f.ordinal()];
  }

  /** Success weight of the latest event of a factor, NaN when there is none. */
  public double latest(TrustFactor f) {
    return latest[f.ordinal()];
  }

  /** Time of the earliest evidence, null when there is none. */
  public Instant firstSeen() {
    return firstSeen;
  }

  /** Start of the current vetting period: first evidence or release from quarantine. */
  public Instant vettingSince() {
    return releasedAt != null ? releasedAt : firstSeen;
  }

  /** Integrity audits passed since the current vetting period started. */
  public long auditsPassedSinceVetting() {
    return auditsPassedSinceVetting;
  }

  public boolean vetted() {
    return vetted;
  }

  public boolean quarantined() {
    return quarantined;
  }

  /** The tier at the last assessment (NONE before the first). */
  public TrustTier tier() {
    return tier;
  }

  /** The score at the last assessment (0 before the first). */
  public double score() {
    return score;
  }

  /** The score tier at the last assessment (null before the first). */
  public TrustTier scoreTier() {
    return scoreTier;
  }

  @Override
  public String toString() {
    return "NodeTrustRecord{" + nodeId + ", tier=" + tier + "}";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NodeTrustRecord r
        && nodeId.equals(r.nodeId)
        && Arrays.equals(alpha, r.alpha)
        && Arrays.equals(beta, r.beta)
        && Arrays.equals(events, r.events)
        && Arrays.equals(latest, r.latest)
        && Objects.equals(firstSeen, r.firstSeen)
        && Objects.equals(lastEvidenceAt, r.lastEvidenceAt)
        && Objects.equals(releasedAt, r.releasedAt)
        && auditsPassedSinceVetting == r.auditsPassedSinceVetting
        && vetted == r.vetted
        && scoreTier == r.scoreTier
        && tier == r.tier
        && Double.compare(score, r.score) == 0
        && gateKnown == r.gateKnown
        && gatePassed == r.gatePassed
        && quarantined == r.quarantined
        && assessed == r.assessed;
  }

  @Override
  public int hashCode() {
    return Objects.hash(nodeId, Arrays.hashCode(alpha), Arrays.hashCode(beta), tier);
  }
}
