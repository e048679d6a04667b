package io.mycnet.storage.operator.placement;

/** How strictly a volume's replicas must sit in distinct failure domains. */
public enum AntiAffinity {
  /**
   * Replicas must be in distinct domains at the requested level (or a higher one); placement fails,
   * with an explanation, when not enough such domains have eligible nodes.
   */
  HARD,
  /**
   * Replicas go to distinct domains at the highest level that has enough eligible domains; when
   * that is below the requested level the placement still succeeds and says that it fell back.
   */
  SOFT
}
