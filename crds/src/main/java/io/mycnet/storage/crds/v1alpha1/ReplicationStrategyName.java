package io.mycnet.storage.crds.v1alpha1;

/** Replication strategies as they are spelled in custom resources. */
public enum ReplicationStrategyName {
  HIERARCHY_AWARE,
  GEOGRAPHIC_DISTRIBUTION,
  TRUST_DIVERSIFICATION,
  PERFORMANCE_OPTIMIZED
}
