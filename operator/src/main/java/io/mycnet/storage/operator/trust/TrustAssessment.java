package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustTier;
import java.time.Instant;
import java.util.Locale;

/**
 * A node's trust at one instant: the score, the tier it may hold data of, and why.
 *
 * @param nodeId the node
 * @param at when it was assessed (the engine's clock)
 * @param score weighted combination of the factor values, in [0, 1]
 * @param tier the highest classification tier the node may hold (NONE: no data at all)
 * @param explanation the structured reasons
 */
public record TrustAssessment(
    String nodeId, Instant at, double score, TrustTier tier, TrustExplanation explanation) {

  /** Human text for the CLI and a CR status message: a header line, then the explanation. */
  public String render() {
    TrustTier scoreTier = explanation.scoreTier();
    return String.format(
            Locale.ROOT,
            "node %s at %s: score %.3f, tier %s%s%n",
            nodeId,
            at,
            score,
            tier,
            scoreTier == tier ? "" : " (score alone: " + scoreTier + ")")
        + explanation.render();
  }
}
