package io.mycnet.storage.operator.reconciler.storageclaim;

import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.util.Optional;

/**
 * A claim's volume id is {@code <namespace>.<name>}: deterministic, unique (Kubernetes namespace
 * names contain no dot), and made only of characters etcd keys allow. The same claim always names
 * the same volume, which makes allocation idempotent across reconciles and operator restarts.
 */
public final class VolumeIds {
  private VolumeIds() {}

  public static String of(String namespace, String name) {
    return namespace + "." + name;
  }

  public static String of(StorageClaim claim) {
    return of(claim.getMetadata().getNamespace(), claim.getMetadata().getName());
  }

  /** The claim a volume id belongs to, when it has the claim shape. */
  public static Optional<ResourceID> claimOf(String volumeId) {
    int dot = volumeId.indexOf('.');
    if (dot <= 0 || dot == volumeId.length() - 1) {
      return Optional.empty();
    }
    return Optional.of(new ResourceID(volumeId.substring(dot + 1), volumeId.substring(0, dot)));
  }
}
