package io.mycnet.storage.operator.model;

/**
 * The highest data classification a node is currently trusted to hold. {@link #NONE} means the node
 * may hold no data at all (below the PUBLIC threshold, quarantined or disqualified). Declared
 * highest first.
 */
public enum TrustTier {
  CRITICAL(Classification.CRITICAL),
  SENSITIVE(Classification.SENSITIVE),
  STANDARD(Classification.STANDARD),
  PUBLIC(Classification.PUBLIC),
  NONE(null);

  private final Classification highest;

  TrustTier(Classification highest) {
    this.highest = highest;
  }

  /** The tier whose highest allowed classification is {@code c}. */
  public static TrustTier of(Classification c) {
    return values()[c.ordinal()];
  }

  /** True when a node of this tier may hold data of classification {@code c}. */
  public boolean allows(Classification c) {
    return highest != null && highest.ordinal() <= c.ordinal();
  }

  /** True when this tier is strictly higher (more trusted) than {@code other}. */
  public boolean isHigherThan(TrustTier other) {
    return ordinal() < other.ordinal();
  }
}
