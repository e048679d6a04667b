package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.TrustTier;
import java.time.Instant;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * A node changed tier. Placement reacts to it: {@code evacuate} lists exactly the classifications
 * the node could hold before and may no longer hold, so a drop from CRITICAL to SENSITIVE evacuates
 * CRITICAL only and a rise evacuates nothing.
 *
 * @param nodeId the node
 * @param from the tier before
 * @param to the tier after
 * @param reason why, in one line (the assessment's tier reason, prefixed when a policy change or
 *     node removal caused it)
 * @param at when (the engine's clock)
 * @param evacuate classifications allowed by {@code from} and not by {@code to}
 */
public record TierTransition(
    String nodeId,
    TrustTier from,
    TrustTier to,
    String reason,
    Instant at,
    Set<Classification> evacuate) {

  public TierTransition {
    evacuate =
        evacuate.isEmpty()
            ? Collections.unmodifiableSet(EnumSet.noneOf(Classification.class))
            : Collections.unmodifiableSet(EnumSet.copyOf(evacuate));
  }

  /** A transition with {@code evacuate} computed from the two tiers. */
  public static TierTransition between(
      String nodeId, TrustTier from, TrustTier to, String reason, Instant at) {
    return new TierTransition(nodeId, from, to, reason, at, evacuated(from, to));
  }

  /** Classifications {@code from} allows and {@code to} does not. */
  public static Set<Classification> evacuated(TrustTier from, TrustTier to) {
    EnumSet<Classification> out = EnumSet.noneOf(Classification.class);
    for (Classification c : Classification.values()) {
      if (from.allows(c) && !to.allows(c)) {
        out.add(c);
      }
    }
    return out;
  }

  /** True when the node lost tier. */
  public boolean isDemotion() {
    return from.isHigherThan(to);
  }
}
