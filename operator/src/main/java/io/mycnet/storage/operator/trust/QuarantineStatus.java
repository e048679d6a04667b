package io.mycnet.storage.operator.trust;

import java.util.Locale;

/**
 * The quarantine rule's state. {@code integrityReputation} is the DATA_INTEGRITY posterior mean
 * under a presumption-of-innocence prior (a full window of passed audits, decaying like real
 * evidence), which equals {@code 1 - (1 - λ) * failureWeight}: only failed audits lower it, so a
 * node is never quarantined for lack of evidence.
 *
 * @param quarantined whether the node is quarantined (tier NONE)
 * @param integrityReputation {@code 1 - (1 - λ) * failureWeight}
 * @param failureWeight decayed weight β of failed integrity audits
 * @param threshold quarantine when the reputation falls below this
 * @param releaseThreshold once quarantined, release when the reputation is back at this
 */
public record QuarantineStatus(
    boolean quarantined,
    double integrityReputation,
    double failureWeight,
    double threshold,
    double releaseThreshold) {

  public String describe() {
    if (threshold <= 0) {
      return "disabled (quarantineThreshold 0)";
    }
    return quarantined
        ? String.format(
            Locale.ROOT,
            "QUARANTINED: integrity reputation %.4f (decayed failed audits %.1f); released at"
                + " %.4f",
            integrityReputation,
            failureWeight,
            releaseThreshold)
        : String.format(
            Locale.ROOT,
            "clear: integrity reputation %.4f (decayed failed audits %.1f), quarantined below"
                + " %.4f",
            integrityReputation,
            failureWeight,
            threshold);
  }
}
