package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustTier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Why a node has its score and tier, as data and as text.
 *
 * @param factors every factor's part in the score, in {@code TrustFactor} order
 * @param scoreStep how the score alone maps to a tier (thresholds and hysteresis)
 * @param gates every gate checked (minUptime first), passed or not
 * @param vetting the vetting state
 * @param quarantine the quarantine state
 * @param limits the rules that hold the node below its score tier (empty when none)
 */
public record TrustExplanation(
    List<FactorBreakdown> factors,
    TierClassifier.Step scoreStep,
    List<GateResult> gates,
    VettingStatus vetting,
    QuarantineStatus quarantine,
    List<TierLimit> limits) {

  public TrustExplanation {
    factors = List.copyOf(factors);
    gates = List.copyOf(gates);
    limits = List.copyOf(limits);
  }

  /** The gates that failed. */
  public List<GateResult> gatesFailed() {
    List<GateResult> out = new ArrayList<>();
    for (GateResult g : gates) {
      if (!g.passed()) {
        out.add(g);
      }
    }
    return out;
  }

  /** The tier the score alone gives, before gates, vetting and quarantine. */
  public TrustTier scoreTier() {
    return scoreStep.tier();
  }

  /**
   * Why the tier is what it is, in one line: the score step, then every rule that holds the node
   * lower.
   */
  public String tierReason() {
    StringBuilder sb = new StringBuilder(scoreStep.reason());
    for (TierLimit l : limits) {
      sb.append("; ").append(describe(l));
    }
    return sb.toString();
  }

  /**
   * {@link #tierReason()}, followed by the rules that held the node lower at the previous
   * assessment ({@code before}) and no longer do: the reason of a transition.
   */
  public String reasonSince(List<TierLimit> before) {
    StringBuilder sb = new StringBuilder(tierReason());
    for (TierLimit old : before) {
      boolean still = false;
      for (TierLimit l : limits) {
        if (l.kind() == old.kind() && l.field().equals(old.field())) {
          still = true;
          break;
        }
      }
      if (still) {
        continue;
      }
      sb.append("; no longer held by ");
      switch (old.kind()) {
        case VETTING:
          sb.append("vetting: ").append(vetting.describe());
          break;
        case QUARANTINE:
          sb.append("quarantine: ").append(quarantine.describe());
          break;
        case MIN_UPTIME:
        case GATE:
        default:
          String text = old.field();
          for (GateResult g : gates) {
            if (g.gate().field().equals(old.field())) {
              text = g.describe();
            }
          }
          sb.append(text);
      }
    }
    return sb.toString();
  }

  private String describe(TierLimit l) {
    String at = l.cap() == TrustTier.NONE ? "no tier" : "at most " + l.cap();
    switch (l.kind()) {
      case QUARANTINE:
        return String.format(
            Locale.ROOT,
            "%s: quarantined, integrity reputation %.4f (below %.4f; released at %.4f)",
            at,
            quarantine.integrityReputation(),
            quarantine.threshold(),
            quarantine.releaseThreshold());
      case VETTING:
        return at + " while vetting (" + vetting.describe().replace("in progress: ", "") + ")";
      case MIN_UPTIME:
      case GATE:
      default:
        for (GateResult g : gates) {
          if (g.gate().field().equals(l.field())) {
            return at + " by " + g.describe();
          }
        }
        return at + " by " + l.field();
    }
  }

  /** Multi-line human text (no header line; {@link TrustAssessment#render()} adds one). */
  public String render() {
    StringBuilder sb = new StringBuilder();
    sb.append("why: ").append(tierReason()).append('\n');
    sb.append(
        String.format(
            Locale.ROOT,
            "  %-24s %-8s %6s %6s %6s %6s %7s %8s%n",
            "factor",
            "source",
            "mean",
            "bound",
            "value",
            "weight",
            "contrib",
            "events"));
    for (FactorBreakdown f : factors) {
      sb.append(
          String.format(
              Locale.ROOT,
              "  %-24s %-8s %6.3f %6.3f %6.3f %6.3f %7.3f %8d",
              f.factor(),
              f.source().name().toLowerCase(Locale.ROOT),
              f.mean(),
              f.lowerBound(),
              f.value(),
              f.weight(),
              f.contribution(),
              f.evidenceCount()));
      f.contradiction()
          .ifPresent(
              c ->
                  sb.append(
                      String.format(
                          Locale.ROOT,
                          "  contradicted: observed %s mean %.3f + tolerance %.2f caps it at"
                              + " %.3f",
                          c.observedBy(),
                          c.observedMean(),
                          c.tolerance(),
                          c.cap())));
      sb.append('\n');
    }
    if (gates.isEmpty()) {
      sb.append("gates: none\n");
    } else {
      sb.append("gates:\n");
      for (GateResult g : gates) {
        sb.append("  ").append(g.describe()).append('\n');
      }
    }
    sb.append("vetting: ").append(vetting.describe()).append('\n');
    sb.append("quarantine: ").append(quarantine.describe()).append('\n');
    return sb.toString();
  }

  /** {@code 3d4h}, {@code 5h12m}, {@code 42m}, {@code 17s}. */
  static String human(Duration d) {
    long s = Math.max(0, d.getSeconds());
    long days = s / 86_400;
    long hours = (s % 86_400) / 3_600;
    long minutes = (s % 3_600) / 60;
    if (days > 0) {
      return days + "d" + (hours > 0 ? hours + "h" : "");
    }
    if (hours > 0) {
      return hours + "h" + (minutes > 0 ? minutes + "m" : "");
    }
    if (minutes > 0) {
      return minutes + "m";
    }
    return s + "s";
  }
}
