package io.mycnet.storage.operator.model;

/**
 * When a write is acknowledged. {@code STRONG}: once every in-sync replica made it durable. {@code
 * EVENTUAL}: once the primary made it durable; followers catch up in order. STRONG is the stricter.
 */
public enum ConsistencyLevel {
  STRONG,
  EVENTUAL;

  public boolean isAtLeastAsStrictAs(ConsistencyLevel other) {
    return ordinal() <= other.ordinal();
  }
}
