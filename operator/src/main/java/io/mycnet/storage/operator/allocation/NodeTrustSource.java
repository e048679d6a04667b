package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.operator.model.TrustTier;

/**
 * Where the control plane's trust decisions come from (the trust engine in a running control
 * plane). A node the source knows nothing about has tier {@link TrustTier#NONE}: it holds no data
 * until it has earned trust.
 */
public interface NodeTrustSource {
  /** A node's tier and score. */
  record NodeTrust(TrustTier tier, double score) {
    public static final NodeTrust UNKNOWN = new NodeTrust(TrustTier.NONE, 0.0);
  }

  NodeTrust trustOf(String nodeId);

  /**
   * False while the source cannot tell the node's trust yet (not restored after a restart, never
   * assessed): "not yet known" is never a reason to move data.
   */
  default boolean known(String nodeId) {
    return true;
  }
}
