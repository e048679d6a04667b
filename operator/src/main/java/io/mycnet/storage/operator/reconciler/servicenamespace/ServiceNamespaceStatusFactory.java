package io.mycnet.storage.operator.reconciler.servicenamespace;

import io.mycnet.storage.api.v1.NamespaceUsage;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespaceStatus;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.Quantities;
import java.util.List;

/** Builds a {@link ServiceNamespaceStatus}. */
final class ServiceNamespaceStatusFactory {
  static final String POOLS_AVAILABLE = "PoolsAvailable";

  private final Conditions conditions;

  ServiceNamespaceStatusFactory(Conditions conditions) {
    this.conditions = conditions;
  }

  /** The status kept from {@code sn}'s, with its store id and observed generation. */
  static ServiceNamespaceStatus copyOf(ServiceNamespace sn) {
    ServiceNamespaceStatus old = sn.getStatus();
    ServiceNamespaceStatus s = new ServiceNamespaceStatus();
    if (old != null) {
      s.setUsedBytes(old.getUsedBytes());
      s.setUsed(old.getUsed());
      s.setUsedVolumes(old.getUsedVolumes());
      s.setConditions(old.getConditions());
    }
    s.setStoreId(ServiceNamespaceMapper.storeId(sn));
    s.setObservedGeneration(sn.getMetadata().getGeneration());
    return s;
  }

  ServiceNamespaceStatus active(
      ServiceNamespace sn, NamespaceUsage usage, List<String> missingPools) {
    ServiceNamespaceStatus s = copyOf(sn);
    Long gen = sn.getMetadata().getGeneration();
    s.setUsedBytes(usage.getUsedBytes());
    s.setUsed(Quantities.format(usage.getUsedBytes()));
    s.setUsedVolumes(usage.getVolumeCount());
    s.setConditions(
        conditions.set(
            s.getConditions(),
            Conditions.READY,
            true,
            ServiceNamespaceReason.ACTIVE,
            "policy in force; "
                + usage.getVolumeCount()
                + " volumes, "
                + Quantities.format(usage.getUsedBytes())
                + " reserved",
            gen));
    s.setConditions(
        conditions.set(
            s.getConditions(),
            POOLS_AVAILABLE,
            missingPools.isEmpty(),
            missingPools.isEmpty()
                ? ServiceNamespaceReason.ALL_POOLS_EXIST
                : ServiceNamespaceReason.POOLS_MISSING,
            missingPools.isEmpty()
                ? "every referenced pool exists"
                : "no valid StoragePool named " + String.join(", ", missingPools),
            gen));
    return s;
  }

  ServiceNamespaceStatus invalid(ServiceNamespace sn, String message) {
    ServiceNamespaceStatus s = copyOf(sn);
    s.setConditions(
        conditions.set(
            s.getConditions(),
            Conditions.READY,
            false,
            CommonReason.INVALID_SPEC,
            message + "; claims keep the policy last in force until this is fixed",
            sn.getMetadata().getGeneration()));
    return s;
  }
}
