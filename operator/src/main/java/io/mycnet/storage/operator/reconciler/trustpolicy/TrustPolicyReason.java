package io.mycnet.storage.operator.reconciler.trustpolicy;

import io.mycnet.storage.operator.reconciler.Reason;

/** The reasons a {@code TrustPolicy}'s conditions and events give (besides the common ones). */
public enum TrustPolicyReason implements Reason {
  /** Ready: the trust engine applies this policy. */
  APPLIED("Applied"),
  /** Active: this is the default policy. */
  DEFAULT("Default"),
  /** Ready and Active: an older policy is also marked default and is the one in force. */
  CONFLICTING_DEFAULT("ConflictingDefault"),
  /** Ready and Active: valid, but not marked default. */
  NOT_DEFAULT("NotDefault"),
  /** Event: applying the policy moved nodes to other tiers. */
  TIER_CHANGES("TierChanges");

  private final String text;

  TrustPolicyReason(String text) {
    this.text = text;
  }

  @Override
  public String text() {
    return text;
  }
}
