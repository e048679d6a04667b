package io.mycnet.storage.operator.model;

/**
 * How sensitive a volume's data is. Each classification may only live on nodes whose trust tier
 * allows it. Declared strictest first, so {@link #ordinal()} grows as the requirement loosens.
 */
public enum Classification {
  CRITICAL,
  SENSITIVE,
  STANDARD,
  PUBLIC;

  /** True when this classification is at least as strict as {@code other}. */
  public boolean isAtLeastAsStrictAs(Classification other) {
    return ordinal() <= other.ordinal();
  }
}
