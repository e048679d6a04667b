package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import java.util.List;

/**
 * Which of an owner's shares apply to one of its volumes. Shares are per claim: a share of claim
 * {@code c} by the service namespace {@code <ns>.<name>} applies to the volume of the StorageClaim
 * {@code c} in Kubernetes namespace {@code ns}, whose id is {@code <ns>.<c>}, and only while that
 * volume belongs to the sharing namespace. No other volume of the owner gets it, so sharing one
 * claim never opens the owner's other claims. A share without a claim applies to nothing.
 */
public final class ShareGrants {
  private ShareGrants() {}

  /**
   * The grants to send with {@code volume}'s assignment; empty when {@code owner} is null (no
   * record) or is not the volume's owner.
   */
  public static List<AccessGrant> forVolume(NamespaceRecord owner, Allocation volume) {
    if (owner == null || !owner.getNamespace().equals(volume.getNamespace())) {
      return List.of();
    }
    int dot = owner.getNamespace().indexOf('.');
    if (dot <= 0) {
      return List.of();
    }
    String home = owner.getNamespace().substring(0, dot);
    return owner.getSharesList().stream()
        .filter(
            g -> !g.getClaim().isEmpty() && volume.getVolumeId().equals(home + "." + g.getClaim()))
        .toList();
  }
}
