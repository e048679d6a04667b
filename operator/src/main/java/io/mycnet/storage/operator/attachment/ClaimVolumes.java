package io.mycnet.storage.operator.attachment;

import java.util.Optional;

/**
 * How a StorageClaim names its volume (the claim reconciler's rule, given by the wiring): the
 * attachment code is below the reconcilers and never computes a volume id itself.
 */
public interface ClaimVolumes {
  /** The volume id of claim {@code claim} in Kubernetes namespace {@code namespace}. */
  String volumeOf(String namespace, String claim);

  /** {@code "<kubernetes namespace>/<claim>"} of a volume id of the claim shape, if it has one. */
  Optional<String> claimOf(String volumeId);
}
