package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustTier;
import java.util.Locale;
import java.util.Map;

/**
 * Maps a score to a tier with hysteresis. The first assessment uses the plain thresholds: the
 * highest tier whose threshold the score reaches. After that, with h the policy's hysteresis and P
 * the previous tier:
 *
 * <ul>
 *   <li>the node moves <b>up</b> to the highest tier T above P with {@code score >= threshold(T) +
 *       h}, if there is one;
 *   <li>otherwise it lands on the highest tier T at or below P with {@code score >= threshold(T) -
 *       h}: P itself while the score stays above {@code threshold(P) - h} (a <b>stay</b>), a lower
 *       tier (a move <b>down</b>) only once it falls below that; NONE below {@code
 *       threshold(PUBLIC) - h}.
 * </ul>
 *
 * <p>Every boundary is therefore crossed upward only at {@code threshold + h} and downward only
 * below {@code threshold - h}. Because the policy keeps 2h below the smallest gap between
 * thresholds, scores that stay within any interval narrower than 2h cause at most one change of
 * tier.
 */
public final class TierClassifier {
  private TierClassifier() {}

  /** How the tier was reached from the previous one. */
  public enum Movement {
    /** No previous tier: plain thresholds. */
    FIRST,
    UP,
    DOWN,
    STAY
  }

  /**
   * One classification step, with the numbers needed to explain it.
   *
   * @param tier the tier the score puts the node in
   * @param previous the previous score tier, null on the first assessment
   * @param movement how {@code tier} relates to {@code previous}
   * @param score the score classified
   * @param thresholds the policy's thresholds
   * @param hysteresis the policy's hysteresis
   */
  public record Step(
      TrustTier tier,
      TrustTier previous,
      Movement movement,
      double score,
      Map<TrustTier, Double> thresholds,
      double hysteresis) {

    /** One line saying why the score gives this tier. */
    public String reason() {
      switch (movement) {
        case FIRST:
          return tier == TrustTier.NONE
              ? f("score %.3f < PUBLIC threshold %.2f", score, thr(TrustTier.PUBLIC))
              : f(
                  "score %.3f >= %s threshold %.2f (first assessment, plain thresholds)",
                  score, tier, thr(tier));
        case UP:
          return f(
              "score %.3f >= %s threshold %.2f + hysteresis %.2f: up from %s",
              score, tier, thr(tier), hysteresis, previous);
        case DOWN:
          return f(
                  "score %.3f < %s threshold %.2f - hysteresis %.2f: down to %s",
                  score, previous, thr(previous), hysteresis, tier)
              + (tier == TrustTier.NONE ? "" : f(" (>= %.2f - %.2f)", thr(tier), hysteresis));
        case STAY:
        default:
          if (tier == TrustTier.NONE) {
            return f(
                "score %.3f stays below PUBLIC: moving up needs >= %.2f + %.2f",
                score, thr(TrustTier.PUBLIC), hysteresis);
          }
          String up =
              tier == TrustTier.CRITICAL
                  ? ""
                  : f("up needs >= %.2f, ", thr(DATA_TIERS[tier.ordinal() - 1]) + hysteresis);
          return f(
              "score %.3f keeps %s within hysteresis %.2f (%sdown below %.2f)",
              score, tier, hysteresis, up, thr(tier) - hysteresis);
      }
    }

    private double thr(TrustTier t) {
      return thresholds.get(t);
    }
  }

  private static final TrustTier[] DATA_TIERS = {
    TrustTier.CRITICAL, TrustTier.SENSITIVE, TrustTier.STANDARD, TrustTier.PUBLIC
  };

  /** The tier a score reaches with the plain thresholds (no hysteresis). */
  public static TrustTier plain(TrustPolicy policy, double score) {
    for (TrustTier t : DATA_TIERS) {
      if (score >= policy.threshold(t)) {
        return t;
      }
    }
    return TrustTier.NONE;
  }

  /** The tier only, see {@link #classify}. */
  public static TrustTier next(TrustPolicy policy, TrustTier previous, double score) {
    return tierFor(policy, previous, score);
  }

  /**
   * Classifies {@code score} given the previous score tier ({@code null} for the first assessment).
   */
  public static Step classify(TrustPolicy policy, TrustTier previous, double score) {
    TrustTier tier = tierFor(policy, previous, score);
    Movement m;
    if (previous == null) {
      m = Movement.FIRST;
    } else if (tier.isHigherThan(previous)) {
      m = Movement.UP;
    } else if (previous.isHigherThan(tier)) {
      m = Movement.DOWN;
    } else {
      m = Movement.STAY;
    }
    return new Step(tier, previous, m, score, policy.thresholds(), policy.hysteresis());
  }

  static TrustTier tierFor(TrustPolicy policy, TrustTier previous, double score) {
    if (previous == null) {
      return plain(policy, score);
    }
    double h = policy.hysteresis();
    for (TrustTier t : DATA_TIERS) {
      if (!t.isHigherThan(previous)) {
        break;
      }
      if (score >= policy.threshold(t) + h) {
        return t;
      }
    }
    for (TrustTier t : DATA_TIERS) {
      if (t.isHigherThan(previous)) {
        continue;
      }
      if (score >= policy.threshold(t) - h) {
        return t;
      }
    }
    return TrustTier.NONE;
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
