package io.mycnet.storage.operator.model;

/** How replicas of a volume are spread; the placement package defines each one precisely. */
public enum ReplicationStrategy {
  HIERARCHY_AWARE,
  GEOGRAPHIC_DISTRIBUTION,
  TRUST_DIVERSIFICATION,
  PERFORMANCE_OPTIMIZED
}
