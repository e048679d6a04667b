package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustTier;

/**
 * A rule that holds a node below the tier its score alone would give.
 *
 * @param kind which rule
 * @param cap the highest tier the rule allows
 * @param field the policy field behind it ({@code minUptime}, {@code gates.SENSITIVE.X}, {@code
 *     vetting}, {@code quarantineThreshold})
 */
public record TierLimit(Kind kind, TrustTier cap, String field) {

  /** The rules that can cap a tier. */
  public enum Kind {
    MIN_UPTIME,
    GATE,
    VETTING,
    QUARANTINE
  }
}
