package io.mycnet.storage.operator.placement;

/**
 * Why a node cannot take a replica of a given volume. A node is counted under the first rule it
 * fails, in declaration order, so the counts of a failed placement add up to the rejected nodes.
 */
public enum RejectionReason {
  /** The request excludes the node, or the node already holds a replica of the volume. */
  EXCLUDED("excluded or already holding a replica"),
  /** The node is not in the requested pool. */
  NOT_IN_POOL("not in the pool"),
  /** The node is down. */
  DOWN("down"),
  /** The node is draining (maintenance): it keeps its replicas but takes no new ones. */
  DRAINING("draining"),
  /** The node is quarantined by the trust engine. */
  QUARANTINED("quarantined"),
  /** The node's labels do not match the node selector. */
  SELECTOR_MISMATCH("not matching the node selector"),
  /** The node's trust tier (or score) is below what the classification requires. */
  TRUST_TOO_LOW("below the required trust"),
  /** The node has less free space than the volume needs (after overcommit). */
  INSUFFICIENT_FREE_SPACE("without enough free space");

  private final String description;

  RejectionReason(String description) {
    this.description = description;
  }

  /** A short human-readable phrase, e.g. "draining". */
  public String description() {
    return description;
  }
}
