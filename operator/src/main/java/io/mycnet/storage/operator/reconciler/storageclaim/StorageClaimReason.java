package io.mycnet.storage.operator.reconciler.storageclaim;

import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.operator.allocation.AllocationException;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Reason;

/** The reasons a {@code StorageClaim}'s conditions and events give (besides the common ones). */
public enum StorageClaimReason implements Reason {
  /** Ready and Replicated, named after the claim's phase. */
  PENDING("Pending"),
  BOUND("Bound"),
  DEGRADED("Degraded"),
  REBUILDING("Rebuilding"),
  LOST("Lost"),
  /** Also the event when a deleted claim's volume was released. */
  RELEASED("Released"),
  /** Ready: the claim's ServiceNamespace does not exist (or is being deleted). */
  SERVICE_NAMESPACE_NOT_FOUND("ServiceNamespaceNotFound"),
  /** Ready: the spec conflicts with the allocated volume. */
  SPEC_CONFLICT("SpecConflict"),
  VOLUME_NOT_FOUND("VolumeNotFound"),
  /** Ready: the namespace's policy does not allow the request. */
  NOT_ALLOWED("NotAllowed"),
  QUOTA_EXCEEDED("QuotaExceeded"),
  /** Ready: no set of nodes satisfies the request now; it is retried. */
  NO_PLACEMENT("NoPlacement"),
  /** Ready: allocated; waiting for the agents to confirm every replica. */
  REPLICAS_CREATING("ReplicasCreating"),
  /** Replicated: the replication manager holds node DOWN decisions. */
  REPLICATION_PAUSED("ReplicationPaused"),
  /** Ready: the volume was released with its service namespace. */
  VOLUME_RELEASED("VolumeReleased"),
  /** Event: the volume grew. */
  RESIZED("Resized"),
  /** Event: an allocation without a claim was seen; it is released after the grace period. */
  ORPHAN_SUSPECTED("OrphanSuspected"),
  /** Event: an orphaned allocation was released. */
  ORPHAN_RELEASED("OrphanReleased");

  private final String text;

  StorageClaimReason(String text) {
    this.text = text;
  }

  @Override
  public String text() {
    return text;
  }

  /** The reason named after {@code phase}. */
  static StorageClaimReason of(ClaimPhase phase) {
    return switch (phase) {
      case Pending -> PENDING;
      case Bound -> BOUND;
      case Degraded -> DEGRADED;
      case Rebuilding -> REBUILDING;
      case Lost -> LOST;
      case Released -> RELEASED;
    };
  }

  /** Why an allocation was refused. */
  static Reason of(AllocationException e) {
    return switch (e.reason()) {
      case INVALID_REQUEST -> CommonReason.INVALID_SPEC;
      case CONFLICT -> SPEC_CONFLICT;
      case NOT_FOUND -> VOLUME_NOT_FOUND;
      case NOT_ALLOWED -> NOT_ALLOWED;
      case QUOTA_EXCEEDED -> QUOTA_EXCEEDED;
      case NO_PLACEMENT -> NO_PLACEMENT;
    };
  }
}
