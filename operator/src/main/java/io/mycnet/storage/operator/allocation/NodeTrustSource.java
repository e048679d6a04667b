package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.operator.model.TrustTier;

/**
 * Where the control plane's trust decisions come from (the trust engine in a running control
 * plane). A node the source knows nothing about has tier {@link TrustTier#NONE}: it holds no data
 * until it has earned trust.
 *
 * <p>"Not known yet" is not "untrusted": {@link #known} tells them apart. A restarted control plane
 * knows no node's trust until it has restored what its predecessor persisted; until then (and for a
 * node with no restored or new evidence) {@code known} is false, and nothing that holds data may be
 * taken from a node because of its tier.
 */
public interface NodeTrustSource {
  /** A node's tier and score. */
  record NodeTrust(TrustTier tier, double score) {
    public static final NodeTrust UNKNOWN = new NodeTrust(TrustTier.NONE, 0.0);
  }

  NodeTrust trustOf(String nodeId);

  /**
   * Whether {@link #trustOf} is the node's real trust: false while the source has not been
   * restored, or has no evidence about the node at all. A source of fixed tiers always knows.
   */
  default boolean known(String nodeId) {
    return true;
  }

  /**
   * Why the node has its trust, for a refusal a person reads: the trust engine's explanation
   * (score, tier, the factor breakdown, gates, vetting, quarantine: what {@code mycnet node
   * explain} shows); a source without one says the score and the tier.
   */
  default String explain(String nodeId) {
    NodeTrust t = trustOf(nodeId);
    return String.format(
        java.util.Locale.ROOT, "node %s: score %.3f, tier %s%n", nodeId, t.score(), t.tier());
  }
}
