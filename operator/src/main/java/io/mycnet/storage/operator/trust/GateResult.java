package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.Locale;

/**
 * The outcome of one gate at one assessment.
 *
 * @param gate the gate (its {@code field} is the policy field it comes from)
 * @param lowerBound the factor's lower confidence bound
 * @param latest the factor's latest value (NaN when none); checked for REPORTED factors only
 * @param requiredNow the minimum the bound had to reach this time: the gate's minimum, minus the
 *     hysteresis when the gate passed last time, plus it when it failed
 * @param passed whether the gate holds
 */
public record GateResult(
    TrustPolicy.Gate gate, double lowerBound, double latest, double requiredNow, boolean passed) {

  public TrustFactor factor() {
    return gate.factor();
  }

  /** The lowest tier the gate guards: it holds for this tier and every tier above. */
  public TrustTier tier() {
    return gate.tier();
  }

  /** True when the bound was high enough but the latest report was below the minimum. */
  public boolean failedOnLatestReport() {
    return !passed && lowerBound >= requiredNow;
  }

  /** One line: what was required, what the node had, and the outcome. */
  public String describe() {
    String scope =
        gate.tier() == TrustTier.PUBLIC
            ? "every tier"
            : gate.tier() == TrustTier.CRITICAL ? "CRITICAL" : gate.tier() + " and above";
    StringBuilder sb = new StringBuilder();
    sb.append(gate.field())
        .append(": ")
        .append(gate.factor())
        .append(
            String.format(
                Locale.ROOT, " >= %.2f for %s: bound %.3f", gate.minimum(), scope, lowerBound));
    if (requiredNow != gate.minimum()) {
      sb.append(String.format(Locale.ROOT, " (needs %.2f with hysteresis)", requiredNow));
    }
    if (gate.factor().isReported()) {
      sb.append(
          Double.isNaN(latest)
              ? ", no report yet"
              : String.format(Locale.ROOT, ", latest report %.2f", latest));
    }
    sb.append(
        passed ? ": passed" : failedOnLatestReport() ? ": FAILED (latest report)" : ": FAILED");
    return sb.toString();
  }
}
