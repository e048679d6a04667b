package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * How trust is computed: an immutable, validated value. The TrustPolicy custom resource maps onto
 * it field by field (the field names below are the CR's), and {@link #defaults()} is what a cluster
 * without a TrustPolicy uses. The model every field feeds is described in {@link
 * io.mycnet.storage.operator.trust the package documentation}.
 *
 * <h2>Fields, defaults and why</h2>
 *
 * <dl>
 *   <dt>{@code weights} (per factor, any non-negative numbers; normalised to sum 1)
 *   <dd>DATA_INTEGRITY 0.25: corrupting or losing data is the failure storage exists to prevent,
 *       and the control plane audits it directly, so it weighs most. UPTIME 0.20: a replica on an
 *       absent node is no replica. CONSENSUS_PARTICIPATION 0.15: late acknowledgements stall STRONG
 *       writes and show a node falling behind. RESPONSE_TIME 0.10: it matters, but part of it is
 *       the network's doing. NETWORK_CONTRIBUTION 0.05: it depends on demand the node does not
 *       control, so it must not move a score much. ENCRYPTION_COMPLIANCE 0.10 and ACCESS_CONTROL
 *       0.10: security posture matters for classified data but is only claimed; encryption is
 *       enforced by a gate rather than by weight. IO_PERFORMANCE 0.05: a claim, and one the
 *       observed factors already cover. Verified factors hold 0.75, reported ones 0.25.
 *   <dt>{@code reportedFactorCap} = 0.30
 *   <dd>After normalisation the REPORTED factors together hold at most this share (they are scaled
 *       down and the VERIFIED ones up when they exceed it). docs/architecture.md rule 3: trust is
 *       earned, not claimed. At 0.30 a node that claims perfection while the control plane has seen
 *       nothing scores at most 0.30 + 0.70 x 0.025 = 0.32, below STANDARD's 0.5.
 *   <dt>{@code thresholds} CRITICAL 0.9, SENSITIVE 0.7, STANDARD 0.5, PUBLIC 0.1
 *   <dd>The defaults of docs/architecture.md (Vocabulary); a node's score tier is the highest whose
 *       threshold it reaches. Must be strictly decreasing.
 *   <dt>{@code hysteresis} = 0.02
 *   <dd>Move up only at threshold + h, down only below threshold - h. Each event moves a factor's
 *       mean by about 1 - decay = 0.001, so shifting the score by 0.02 takes sustained behaviour
 *       (about 80 consecutive failed audits, or 100 missed heartbeats) rather than a noisy burst,
 *       while 0.02 is a tenth of the 0.2 gap between thresholds so a real change still moves the
 *       node. Must be less than half the smallest gap between thresholds, so the bands never
 *       overlap. Gates use the same band.
 *   <dt>{@code gates} (tier, factor, minimum) = ENCRYPTION_COMPLIANCE &gt;= 0.9 for CRITICAL and
 *       SENSITIVE
 *   <dd>Unencrypted disks must not hold data whose disclosure matters. A gate at a tier also holds
 *       at every tier above it (a CRITICAL node holds STANDARD data too). A gate is satisfied when
 *       the factor's lower confidence bound reaches the minimum and, for a REPORTED factor, the
 *       latest report does too: 0.9 as a bound takes about 30 consistent reports (a few minutes of
 *       status reports), so one claim is not enough, and a report of "off" fails the gate at once
 *       (a claim against the node's own interest is believed immediately).
 *   <dt>{@code minUptime} = 0.8
 *   <dd>A node whose uptime bound is below this holds no data at all (tier NONE): missing more than
 *       one heartbeat interval in five, its replicas would keep falling out of sync and be rebuilt,
 *       costing the cluster more than they add. A new node reaches it after 11 consecutive
 *       heartbeats.
 *   <dt>{@code vetting.auditsRequired} = 100, {@code vetting.minAge} = 24h
 *   <dd>A node is held at STANDARD at most until it has passed 100 integrity audits and is a day
 *       old. 100 clean audits lift DATA_INTEGRITY's bound to 0.973 at the default confidence (it is
 *       what Storj vets a node with); a day covers one full daily cycle of load, backup windows and
 *       maintenance, yet lets a new edge node take SENSITIVE data the day after it joins.
 *   <dt>{@code decay} (λ) = 0.999
 *   <dd>Forgetting per event: the evidence window is 1/(1 - λ) = 1000 events. Chosen together with
 *       {@code quarantineThreshold}: a node failing a fraction p of audits settles at a decayed
 *       failure weight of p/(1 - λ) with standard deviation sqrt(p(1-p)/(1-λ²)), i.e. 10 ± 2.2 for
 *       p = 1% and 50 ± 4.9 for p = 5%; the quarantine limit (1 - T)/(1 - λ) = 25 sits 6.7 standard
 *       deviations above the first and 5 below the second, so an honest 1% node is almost never
 *       excluded while a 5% node is excluded within about 700 audits. λ = 0.99 would put the limit
 *       at 2.5 failures, within reach of one unlucky burst; λ = 0.9999 would let a node failing
 *       everything go on for 253 audits.
 *   <dt>{@code quarantineThreshold} = 0.975
 *   <dd>See {@code decay}; a node failing every audit, veteran or new, is quarantined after ceil(ln
 *       0.975 / ln 0.999) = 26 audits. 0 disables quarantine (required with decay = 1, where
 *       nothing is ever forgotten and the statistic could never fall).
 *   <dt>{@code quarantineReleaseThreshold} = 0.9875
 *   <dd>A quarantined node is released once its integrity reputation is back at this value: the
 *       failure weight that caused the quarantine must have halved, which takes at least ln 2 / (1
 *       - λ) = 693 consecutive clean audits. It is then vetted again from scratch.
 *   <dt>{@code confidence} = 0.95 (z = 1.645)
 *   <dd>The one-sided level of the lower confidence bound: the value the node's true rate exceeds
 *       with 95% posterior probability, the conventional choice. With 10 clean audits the bound is
 *       0.79, with 100 it is 0.973, with a full window of 1000 it is 0.997.
 *   <dt>{@code responseTimeGood} = 100 ms, {@code responseTimeBad} = 1000 ms
 *   <dd>A round trip at or under 100 ms (a WAN round trip between edge sites of one region plus the
 *       command's work) is a full success, at or over 1 s (an overloaded node, or one a heartbeat
 *       deadline would give up on) a failure, linear in between.
 *   <dt>{@code networkTargetBytes} = 256 MiB
 *   <dd>The most a node is expected to serve in one accounting period; serving everything asked, or
 *       at least this much, is full credit. With one-minute periods it is a third of a 100 Mbit/s
 *       uplink, the slow end of edge links, so a node need not saturate its link.
 *   <dt>{@code corroboration} = IO_PERFORMANCE: RESPONSE_TIME, CONSENSUS_PARTICIPATION
 *   <dd>Which VERIFIED factors observe what a REPORTED factor claims. A fast disk shows in fast
 *       command round trips and in replication acknowledgements sent on time (an ack follows a
 *       durable write). Encryption and access settings have no observable counterpart yet.
 *   <dt>{@code contradictionTolerance} = 0.2, {@code contradictionMinEvidence} = 20
 *   <dd>A reported factor's value is capped at the corroborating factors' observed mean + 0.2; 0.2
 *       leaves room for honest disagreement (the probe times the disk alone, round trips add
 *       network and load). Only corroborating factors with at least 20 observations count, so a few
 *       slow samples just after a node joins do not discount its claims; at 20 observations a
 *       mean's standard error is at most about 0.1.
 * </dl>
 *
 * <p>Invalid values are rejected by {@link Builder#build()} with an {@link
 * InvalidTrustPolicyException} whose message begins with the field's name, e.g. {@code
 * weights.UPTIME must be >= 0, was -1.0} or {@code decay (λ) must be in (0,1], was 1.5}.
 */
public final class TrustPolicy {

  /** One gate: to hold {@code tier} (or any tier above it) the factor must reach the minimum. */
  public record Gate(TrustTier tier, TrustFactor factor, double minimum, String field) {
    /** Bit used to remember whether this gate passed at the last assessment (for hysteresis). */
    int bit() {
      return field.equals(MIN_UPTIME_FIELD)
          ? MIN_UPTIME_BIT
          : tier.ordinal() * 8 + factor.ordinal();
    }
  }

  /** The vetting requirements for new nodes. */
  public record Vetting(int auditsRequired, Duration minAge) {}

  static final String MIN_UPTIME_FIELD = "minUptime";
  static final int MIN_UPTIME_BIT = 40;

  private static final List<TrustTier> TIERS =
      List.of(TrustTier.CRITICAL, TrustTier.SENSITIVE, TrustTier.STANDARD, TrustTier.PUBLIC);
  private static final TrustFactor[] FACTORS = TrustFactor.values();

  private static final TrustPolicy DEFAULTS = new Builder().build();

  private final Map<TrustFactor, Double> weights;
  private final Map<TrustTier, Double> thresholds;
  private final double hysteresis;
  private final Map<TrustTier, Map<TrustFactor, Double>> gates;
  private final double minUptime;
  private final Vetting vetting;
  private final double decay;
  private final double reportedFactorCap;
  private final double quarantineThreshold;
  private final double quarantineReleaseThreshold;
  private final double confidence;
  private final Duration responseTimeGood;
  private final Duration responseTimeBad;
  private final long networkTargetBytes;
  private final Map<TrustFactor, Set<TrustFactor>> corroboration;
  private final double contradictionTolerance;
  private final int contradictionMinEvidence;

  // Derived once, read on every evaluation.
  private final double[] effectiveWeights;
  private final double[] thresholdByTier;
  private final double z;
  private final List<Gate> compiledGates;
  private final int[][] corroboratorsByFactor;

  private TrustPolicy(Builder b) {
    this.weights = Collections.unmodifiableMap(new EnumMap<>(b.weights));
    this.thresholds = Collections.unmodifiableMap(new EnumMap<>(b.thresholds));
    this.hysteresis = b.hysteresis;
    EnumMap<TrustTier, Map<TrustFactor, Double>> g = new EnumMap<>(TrustTier.class);
    b.gates.forEach(
        (tier, m) -> {
          if (!m.isEmpty()) {
            g.put(tier, Collections.unmodifiableMap(new EnumMap<>(m)));
          }
        });
    this.gates = Collections.unmodifiableMap(g);
    this.minUptime = b.minUptime;
    this.vetting = new Vetting(b.auditsRequired, b.minAge);
    this.decay = b.decay;
    this.reportedFactorCap = b.reportedFactorCap;
    this.quarantineThreshold = b.quarantineThreshold;
    this.quarantineReleaseThreshold = b.quarantineReleaseThreshold;
    this.confidence = b.confidence;
    this.responseTimeGood = b.responseTimeGood;
    this.responseTimeBad = b.responseTimeBad;
    this.networkTargetBytes = b.networkTargetBytes;
    EnumMap<TrustFactor, Set<TrustFactor>> c = new EnumMap<>(TrustFactor.class);
    b.corroboration.forEach(
        (f, s) -> {
          if (!s.isEmpty()) {
            c.put(f, Collections.unmodifiableSet(EnumSet.copyOf(s)));
          }
        });
    this.corroboration = Collections.unmodifiableMap(c);
    this.contradictionTolerance = b.contradictionTolerance;
    this.contradictionMinEvidence = b.contradictionMinEvidence;

    validate();

    this.effectiveWeights = computeEffectiveWeights();
    this.thresholdByTier = new double[TIERS.size()];
    for (TrustTier t : TIERS) {
      thresholdByTier[t.ordinal()] = thresholds.get(t);
    }
    this.z = BetaPosterior.zForConfidence(confidence);
    List<Gate> cg = new ArrayList<>();
    if (minUptime > 0) {
      cg.add(new Gate(TrustTier.PUBLIC, TrustFactor.UPTIME, minUptime, MIN_UPTIME_FIELD));
    }
    for (TrustTier t : TIERS) {
      Map<TrustFactor, Double> m = gates.get(t);
      if (m != null) {
        m.forEach((f, min) -> cg.add(new Gate(t, f, min, "gates." + t.name() + "." + f.name())));
      }
    }
    this.compiledGates = List.copyOf(cg);
    this.corroboratorsByFactor = new int[FACTORS.length][];
    for (TrustFactor f : FACTORS) {
      Set<TrustFactor> s = corroboration.get(f);
      corroboratorsByFactor[f.ordinal()] =
          s == null ? new int[0] : s.stream().mapToInt(Enum::ordinal).toArray();
    }
  }

  /** The default policy; see the class documentation for each value and its reason. */
  public static TrustPolicy defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from this policy's values. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  // ---------------------------------------------------------------- fields

  /** The raw weights as configured (not normalised); factors not listed weigh 0. */
  public Map<TrustFactor, Double> weights() {
    return weights;
  }

  /** Score thresholds of the four tiers that hold data. */
  public Map<TrustTier, Double> thresholds() {
    return thresholds;
  }

  public double threshold(TrustTier tier) {
    return thresholdByTier[tier.ordinal()];
  }

  public double hysteresis() {
    return hysteresis;
  }

  /** Required factors per tier with their minimum value (as configured, without minUptime). */
  public Map<TrustTier, Map<TrustFactor, Double>> gates() {
    return gates;
  }

  public double minUptime() {
    return minUptime;
  }

  public Vetting vetting() {
    return vetting;
  }

  /** λ, the per-event forgetting factor of every factor's Beta evidence. */
  public double decay() {
    return decay;
  }

  public double reportedFactorCap() {
    return reportedFactorCap;
  }

  public double quarantineThreshold() {
    return quarantineThreshold;
  }

  public double quarantineReleaseThreshold() {
    return quarantineReleaseThreshold;
  }

  /** One-sided confidence level of the lower confidence bound. */
  public double confidence() {
    return confidence;
  }

  public Duration responseTimeGood() {
    return responseTimeGood;
  }

  public Duration responseTimeBad() {
    return responseTimeBad;
  }

  public long networkTargetBytes() {
    return networkTargetBytes;
  }

  /** REPORTED factor → the VERIFIED factors that observe the same property. */
  public Map<TrustFactor, Set<TrustFactor>> corroboration() {
    return corroboration;
  }

  public double contradictionTolerance() {
    return contradictionTolerance;
  }

  public int contradictionMinEvidence() {
    return contradictionMinEvidence;
  }

  // ---------------------------------------------------------------- derived

  /**
   * The weight a factor actually has in the score: normalised to sum 1, then with the REPORTED
   * factors scaled down to {@link #reportedFactorCap()} together if they exceed it (and the
   * VERIFIED ones scaled up by the same amount of weight).
   */
  public double effectiveWeight(TrustFactor f) {
    return effectiveWeights[f.ordinal()];
  }

  /** The z quantile of {@link #confidence()}: LCB = mean - z * sd. */
  public double z() {
    return z;
  }

  /** Every gate, minUptime first (as a PUBLIC gate on UPTIME), then by tier from CRITICAL. */
  public List<Gate> compiledGates() {
    return compiledGates;
  }

  /**
   * The decayed weight of failed integrity audits at which a node is quarantined: (1 - T) / (1 -
   * λ); infinite when λ = 1.
   */
  public double quarantineFailureLimit() {
    return decay >= 1.0 ? Double.POSITIVE_INFINITY : (1 - quarantineThreshold) / (1 - decay);
  }

  /** The decayed failure weight at or below which a quarantined node is released. */
  public double releaseFailureLimit() {
    return decay >= 1.0 ? Double.POSITIVE_INFINITY : (1 - quarantineReleaseThreshold) / (1 - decay);
  }

  double[] effectiveWeightArray() {
    return effectiveWeights;
  }

  int[] corroborators(int factorOrdinal) {
    return corroboratorsByFactor[factorOrdinal];
  }

  private double[] computeEffectiveWeights() {
    double sum = 0;
    double reported = 0;
    for (TrustFactor f : FACTORS) {
      double w = weights.getOrDefault(f, 0.0);
      sum += w;
      if (f.isReported()) {
        reported += w;
      }
    }
    double[] out = new double[FACTORS.length];
    double reportedShare = reported / sum;
    double reportedScale = 1.0;
    double verifiedScale = 1.0;
    if (reportedShare > reportedFactorCap) {
      reportedScale = reportedFactorCap / reportedShare;
      verifiedScale = (1 - reportedFactorCap) / (1 - reportedShare);
    }
    for (TrustFactor f : FACTORS) {
      double w = weights.getOrDefault(f, 0.0) / sum;
      out[f.ordinal()] = w * (f.isReported() ? reportedScale : verifiedScale);
    }
    return out;
  }

  // ---------------------------------------------------------------- validation

  private void validate() {
    double sum = 0;
    double verified = 0;
    for (TrustFactor f : FACTORS) {
      Double w = weights.get(f);
      if (w == null) {
        continue;
      }
      String field = "weights." + f.name();
      if (!Double.isFinite(w)) {
        throw invalid(field, field + " must be a finite number >= 0, was " + w);
      }
      if (w < 0) {
        throw invalid(field, field + " must be >= 0, was " + w);
      }
      sum += w;
      if (!f.isReported()) {
        verified += w;
      }
    }
    requireRange("reportedFactorCap", reportedFactorCap, 0, true, 1, true);
    if (sum <= 0) {
      throw invalid("weights", "weights must not all be 0: at least one factor needs a weight > 0");
    }
    if (verified <= 0 && reportedFactorCap < 1) {
      throw invalid(
          "weights",
          "weights: every VERIFIED factor has weight 0, so REPORTED factors would carry all the"
              + " weight, above reportedFactorCap "
              + reportedFactorCap);
    }

    for (TrustTier t : TIERS) {
      Double v = thresholds.get(t);
      String field = "thresholds." + t.name();
      if (v == null) {
        throw invalid(field, field + " is missing: every tier CRITICAL..PUBLIC needs a threshold");
      }
      requireRange(field, v, 0, true, 1, true);
    }
    if (thresholds.containsKey(TrustTier.NONE)) {
      throw invalid("thresholds.NONE", "thresholds.NONE: NONE is not a tier with a threshold");
    }
    double smallestGap = Double.POSITIVE_INFINITY;
    for (int i = 0; i + 1 < TIERS.size(); i++) {
      double upper = thresholds.get(TIERS.get(i));
      double lower = thresholds.get(TIERS.get(i + 1));
      if (!(upper > lower)) {
        throw invalid(
            "thresholds",
            "thresholds must be in decreasing order CRITICAL > SENSITIVE > STANDARD > PUBLIC, was "
                + describeThresholds());
      }
      smallestGap = Math.min(smallestGap, upper - lower);
    }
    if (!(hysteresis >= 0 && hysteresis < smallestGap / 2)) {
      throw invalid(
          "hysteresis",
          String.format(
              Locale.ROOT,
              "hysteresis must be >= 0 and less than half the smallest gap between thresholds"
                  + " (%s), was %s",
              smallestGap / 2,
              hysteresis));
    }
    double critical = thresholds.get(TrustTier.CRITICAL);
    if (critical + hysteresis > 1) {
      throw invalid(
          "thresholds.CRITICAL",
          "thresholds.CRITICAL + hysteresis must be <= 1 so that a node can move up into"
              + " CRITICAL, was "
              + critical
              + " + "
              + hysteresis);
    }

    if (gates.containsKey(TrustTier.NONE)) {
      throw invalid("gates.NONE", "gates.NONE: NONE holds no data and can have no gates");
    }
    for (Map.Entry<TrustTier, Map<TrustFactor, Double>> e : gates.entrySet()) {
      for (Map.Entry<TrustFactor, Double> g : e.getValue().entrySet()) {
        String field = "gates." + e.getKey().name() + "." + g.getKey().name();
        requireRange(field, g.getValue(), 0, true, 1, true);
      }
    }
    requireRange(MIN_UPTIME_FIELD, minUptime, 0, true, 1, true);

    if (vetting.auditsRequired() < 0) {
      throw invalid(
          "vetting.auditsRequired",
          "vetting.auditsRequired must be >= 0, was " + vetting.auditsRequired());
    }
    if (vetting.minAge() == null || vetting.minAge().isNegative()) {
      throw invalid(
          "vetting.minAge", "vetting.minAge must be a duration >= 0, was " + vetting.minAge());
    }

    if (!(decay > 0 && decay <= 1)) {
      throw invalid("decay", "decay (λ) must be in (0,1], was " + decay);
    }
    requireRange("quarantineThreshold", quarantineThreshold, 0, true, 1, false);
    if (!(quarantineReleaseThreshold > quarantineThreshold && quarantineReleaseThreshold <= 1)) {
      throw invalid(
          "quarantineReleaseThreshold",
          "quarantineReleaseThreshold must be in (quarantineThreshold "
              + quarantineThreshold
              + ", 1], was "
              + quarantineReleaseThreshold);
    }
    if (decay == 1 && quarantineThreshold > 0) {
      throw invalid(
          "decay",
          "decay (λ) = 1 keeps every audit forever, so failures could never outweigh a node's"
              + " history and quarantine could never fire; use decay < 1, or set"
              + " quarantineThreshold to 0 to disable quarantine explicitly");
    }
    if (!(confidence >= 0.5 && confidence < 1)) {
      throw invalid("confidence", "confidence must be in [0.5,1), was " + confidence);
    }

    if (responseTimeGood == null || responseTimeGood.isNegative()) {
      throw invalid(
          "responseTimeGood", "responseTimeGood must be a duration >= 0, was " + responseTimeGood);
    }
    if (responseTimeBad == null || responseTimeBad.compareTo(responseTimeGood) <= 0) {
      throw invalid(
          "responseTimeBad",
          "responseTimeBad must be longer than responseTimeGood ("
              + responseTimeGood
              + "), was "
              + responseTimeBad);
    }
    if (networkTargetBytes <= 0) {
      throw invalid(
          "networkTargetBytes", "networkTargetBytes must be > 0, was " + networkTargetBytes);
    }

    for (Map.Entry<TrustFactor, Set<TrustFactor>> e : corroboration.entrySet()) {
      String field = "corroboration." + e.getKey().name();
      if (!e.getKey().isReported()) {
        throw invalid(
            field,
            field + ": " + e.getKey() + " is VERIFIED; only REPORTED factors are corroborated");
      }
      for (TrustFactor v : e.getValue()) {
        if (v.isReported()) {
          throw invalid(
              field,
              field + ": " + v + " is REPORTED; a claim can only be checked by VERIFIED factors");
        }
      }
    }
    requireRange("contradictionTolerance", contradictionTolerance, 0, true, 1, true);
    if (contradictionMinEvidence < 0) {
      throw invalid(
          "contradictionMinEvidence",
          "contradictionMinEvidence must be >= 0, was " + contradictionMinEvidence);
    }
  }

  private String describeThresholds() {
    StringBuilder sb = new StringBuilder();
    for (TrustTier t : TIERS) {
      if (sb.length() > 0) {
        sb.append(", ");
      }
      sb.append(t).append('=').append(thresholds.get(t));
    }
    return sb.toString();
  }

  private static void requireRange(
      String field, double v, double lo, boolean loIncl, double hi, boolean hiIncl) {
    boolean ok = (loIncl ? v >= lo : v > lo) && (hiIncl ? v <= hi : v < hi);
    if (!ok) {
      throw invalid(
          field,
          field
              + " must be in "
              + (loIncl ? "[" : "(")
              + fmt(lo)
              + ","
              + fmt(hi)
              + (hiIncl ? "]" : ")")
              + ", was "
              + v);
    }
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  private static InvalidTrustPolicyException invalid(String field, String message) {
    return new InvalidTrustPolicyException(field, message);
  }

  // ---------------------------------------------------------------- value semantics

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof TrustPolicy p)) {
      return false;
    }
    return weights.equals(p.weights)
        && thresholds.equals(p.thresholds)
        && hysteresis == p.hysteresis
        && gates.equals(p.gates)
        && minUptime == p.minUptime
        && vetting.equals(p.vetting)
        && decay == p.decay
        && reportedFactorCap == p.reportedFactorCap
        && quarantineThreshold == p.quarantineThreshold
        && quarantineReleaseThreshold == p.quarantineReleaseThreshold
        && confidence == p.confidence
        && responseTimeGood.equals(p.responseTimeGood)
        && responseTimeBad.equals(p.responseTimeBad)
        && networkTargetBytes == p.networkTargetBytes
        && corroboration.equals(p.corroboration)
        && contradictionTolerance == p.contradictionTolerance
        && contradictionMinEvidence == p.contradictionMinEvidence;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        weights,
        thresholds,
        hysteresis,
        gates,
        minUptime,
        vetting,
        decay,
        reportedFactorCap,
        quarantineThreshold,
        quarantineReleaseThreshold,
        confidence,
        responseTimeGood,
        responseTimeBad,
        networkTargetBytes,
        corroboration,
        contradictionTolerance,
        contradictionMinEvidence);
  }

  @Override
  public String toString() {
    return "TrustPolicy{weights="
        + weights
        + ", thresholds="
        + thresholds
        + ", hysteresis="
        + hysteresis
        + ", gates="
        + gates
        + ", minUptime="
        + minUptime
        + ", vetting="
        + vetting
        + ", decay="
        + decay
        + ", reportedFactorCap="
        + reportedFactorCap
        + ", quarantineThreshold="
        + quarantineThreshold
        + ", quarantineReleaseThreshold="
        + quarantineReleaseThreshold
        + ", confidence="
        + confidence
        + ", responseTimeGood="
        + responseTimeGood
        + ", responseTimeBad="
        + responseTimeBad
        + ", networkTargetBytes="
        + networkTargetBytes
        + ", corroboration="
        + corroboration
        + ", contradictionTolerance="
        + contradictionTolerance
        + ", contradictionMinEvidence="
        + contradictionMinEvidence
        + "}";
  }

  // ---------------------------------------------------------------- builder

  /** Mutable builder; starts from the defaults. {@link #build()} validates. */
  public static final class Builder {
    private final EnumMap<TrustFactor, Double> weights = new EnumMap<>(TrustFactor.class);
    private final EnumMap<TrustTier, Double> thresholds = new EnumMap<>(TrustTier.class);
    private double hysteresis = 0.02;
    private final EnumMap<TrustTier, EnumMap<TrustFactor, Double>> gates =
        new EnumMap<>(TrustTier.class);
    private double minUptime = 0.8;
    private int auditsRequired = 100;
    private Duration minAge = Duration.ofHours(24);
    private double decay = 0.999;
    private double reportedFactorCap = 0.30;
    private double quarantineThreshold = 0.975;
    private double quarantineReleaseThreshold = 0.9875;
    private double confidence = 0.95;
    private Duration responseTimeGood = Duration.ofMillis(100);
    private Duration responseTimeBad = Duration.ofMillis(1000);
    private long networkTargetBytes = 256L * 1024 * 1024;
    private final EnumMap<TrustFactor, Set<TrustFactor>> corroboration =
        new EnumMap<>(TrustFactor.class);
    private double contradictionTolerance = 0.2;
    private int contradictionMinEvidence = 20;

    private Builder() {
      weights.put(TrustFactor.UPTIME, 0.20);
      weights.put(TrustFactor.DATA_INTEGRITY, 0.25);
      weights.put(TrustFactor.IO_PERFORMANCE, 0.05);
      weights.put(TrustFactor.RESPONSE_TIME, 0.10);
      weights.put(TrustFactor.ENCRYPTION_COMPLIANCE, 0.10);
      weights.put(TrustFactor.ACCESS_CONTROL, 0.10);
      weights.put(TrustFactor.CONSENSUS_PARTICIPATION, 0.15);
      weights.put(TrustFactor.NETWORK_CONTRIBUTION, 0.05);
      thresholds.put(TrustTier.CRITICAL, 0.9);
      thresholds.put(TrustTier.SENSITIVE, 0.7);
      thresholds.put(TrustTier.STANDARD, 0.5);
      thresholds.put(TrustTier.PUBLIC, 0.1);
      gate(TrustTier.CRITICAL, TrustFactor.ENCRYPTION_COMPLIANCE, 0.9);
      gate(TrustTier.SENSITIVE, TrustFactor.ENCRYPTION_COMPLIANCE, 0.9);
      corroboration.put(
          TrustFactor.IO_PERFORMANCE,
          EnumSet.of(TrustFactor.RESPONSE_TIME, TrustFactor.CONSENSUS_PARTICIPATION));
    }

    private Builder(TrustPolicy p) {
      weights.putAll(p.weights);
      thresholds.putAll(p.thresholds);
      hysteresis = p.hysteresis;
      p.gates.forEach((t, m) -> gates.put(t, new EnumMap<>(m)));
      minUptime = p.minUptime;
      auditsRequired = p.vetting.auditsRequired();
      minAge = p.vetting.minAge();
      decay = p.decay;
      reportedFactorCap = p.reportedFactorCap;
      quarantineThreshold = p.quarantineThreshold;
      quarantineReleaseThreshold = p.quarantineReleaseThreshold;
      confidence = p.confidence;
      responseTimeGood = p.responseTimeGood;
      responseTimeBad = p.responseTimeBad;
      networkTargetBytes = p.networkTargetBytes;
      p.corroboration.forEach((f, s) -> corroboration.put(f, EnumSet.copyOf(s)));
      contradictionTolerance = p.contradictionTolerance;
      contradictionMinEvidence = p.contradictionMinEvidence;
    }

    /** Sets one factor's raw weight. */
    public Builder weight(TrustFactor factor, double weight) {
      weights.put(Objects.requireNonNull(factor, "factor"), weight);
      return this;
    }

    /** Replaces all weights; factors not in the map weigh 0. */
    public Builder weights(Map<TrustFactor, Double> all) {
      weights.clear();
      all.forEach(this::weight);
      return this;
    }

    public Builder threshold(TrustTier tier, double threshold) {
      thresholds.put(Objects.requireNonNull(tier, "tier"), threshold);
      return this;
    }

    /** Replaces all thresholds. */
    public Builder thresholds(Map<TrustTier, Double> all) {
      thresholds.clear();
      all.forEach(this::threshold);
      return this;
    }

    public Builder hysteresis(double h) {
      this.hysteresis = h;
      return this;
    }

    /** Requires {@code factor} to reach {@code minimum} to hold {@code tier} or any tier above. */
    public Builder gate(TrustTier tier, TrustFactor factor, double minimum) {
      gates
          .computeIfAbsent(
              Objects.requireNonNull(tier, "tier"), t -> new EnumMap<>(TrustFactor.class))
          .put(Objects.requireNonNull(factor, "factor"), minimum);
      return this;
    }

    /** Removes every gate (minUptime stays; set it to 0 to disable it). */
    public Builder clearGates() {
      gates.clear();
      return this;
    }

    public Builder minUptime(double minUptime) {
      this.minUptime = minUptime;
      return this;
    }

    public Builder vetting(int auditsRequired, Duration minAge) {
      this.auditsRequired = auditsRequired;
      this.minAge = minAge;
      return this;
    }

    public Builder decay(double lambda) {
      this.decay = lambda;
      return this;
    }

    public Builder reportedFactorCap(double cap) {
      this.reportedFactorCap = cap;
      return this;
    }

    public Builder quarantineThreshold(double threshold) {
      this.quarantineThreshold = threshold;
      return this;
    }

    public Builder quarantineReleaseThreshold(double threshold) {
      this.quarantineReleaseThreshold = threshold;
      return this;
    }

    public Builder confidence(double confidence) {
      this.confidence = confidence;
      return this;
    }

    public Builder responseTime(Duration good, Duration bad) {
      this.responseTimeGood = good;
      this.responseTimeBad = bad;
      return this;
    }

    public Builder networkTargetBytes(long bytes) {
      this.networkTargetBytes = bytes;
      return this;
    }

    /** Sets the VERIFIED factors that corroborate a REPORTED one; an empty set removes it. */
    public Builder corroboration(TrustFactor reported, Set<TrustFactor> verified) {
      Objects.requireNonNull(reported, "reported");
      if (verified.isEmpty()) {
        corroboration.remove(reported);
      } else {
        corroboration.put(reported, EnumSet.copyOf(verified));
      }
      return this;
    }

    public Builder contradictionTolerance(double tolerance) {
      this.contradictionTolerance = tolerance;
      return this;
    }

    public Builder contradictionMinEvidence(int events) {
      this.contradictionMinEvidence = events;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @throws InvalidTrustPolicyException naming the first invalid field
     */
    public TrustPolicy build() {
      return new TrustPolicy(this);
    }
  }
}
