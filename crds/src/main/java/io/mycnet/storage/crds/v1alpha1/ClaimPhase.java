package io.mycnet.storage.crds.v1alpha1;

/** Where a {@link StorageClaim} is in its life. */
public enum ClaimPhase {
  /** No volume yet: invalid, not allowed, over quota or not placeable (see the Ready condition). */
  Pending,
  /** The volume exists with every requested replica healthy. */
  Bound,
  /** Fewer healthy replicas than requested and no rebuild under way (e.g. throttled). */
  Degraded,
  /** Fewer healthy replicas than requested; a rebuild is under way. */
  Rebuilding,
  /** No healthy replica is left. */
  Lost,
  /** The volume was released (its ServiceNamespace was deleted with deletionPolicy Delete). */
  Released
}
