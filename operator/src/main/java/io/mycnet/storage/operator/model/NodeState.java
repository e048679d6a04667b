package io.mycnet.storage.operator.model;

/** A node's operational state as the control plane sees it. Only {@code UP} nodes take replicas. */
public enum NodeState {
  UP,
  DRAINING,
  DOWN,
  QUARANTINED
}
