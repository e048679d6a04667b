package io.mycnet.storage.operator.trust;

import java.time.Duration;
import java.time.Instant;

/**
 * Where a node is in vetting. Until {@code vetted}, the node is held at STANDARD at most. Vetting
 * completes once the node has passed {@code auditsRequired} integrity audits and is {@code minAge}
 * old (counted from {@code since}: its first evidence, or its release from quarantine), and then
 * stays complete until the node is quarantined. While it is quarantined vetting is {@code
 * suspended}; on release it starts again from scratch.
 */
public record VettingStatus(
    boolean vetted,
    boolean suspended,
    long auditsPassed,
    int auditsRequired,
    Instant since,
    Duration age,
    Duration minAge) {

  public String describe() {
    String numbers =
        auditsPassed
            + " of "
            + auditsRequired
            + " integrity audits passed, age "
            + TrustExplanation.human(age)
            + " of "
            + TrustExplanation.human(minAge);
    if (suspended) {
      return "suspended while quarantined; starts again from scratch on release";
    }
    return vetted
        ? "vetted (" + numbers + ")"
        : "in progress: " + numbers + "; held at STANDARD at most until both are reached";
  }
}
