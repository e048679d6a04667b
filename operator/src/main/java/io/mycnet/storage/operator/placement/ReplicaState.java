package io.mycnet.storage.operator.placement;

/** The state of one replica as the allocation records it. */
public enum ReplicaState {
  /** In sync and verified: may serve as a copy source. */
  HEALTHY,
  /** Being copied to its node; not yet a source. */
  REBUILDING,
  /** Behind the other replicas (missed writes); not a source. */
  STALE,
  /** Known bad (failed an audit or lost); not a source. */
  FAILED
}
