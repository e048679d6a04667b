package io.mycnet.storage.operator.reconciler.servicenamespace;

import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.crds.v1alpha1.DeletionPolicy;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespaceStatus;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.AllocationEvents;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.ReconcileFailures;
import io.mycnet.storage.operator.reconciler.Statuses;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reconciles a {@code ServiceNamespace} into its etcd policy record. See the package documentation.
 */
public final class ServiceNamespaceReconciler
    implements Reconciler<ServiceNamespace>, Cleaner<ServiceNamespace> {

  private final TrustAwareStorageManager manager;
  private final PoolDirectory pools;
  private final AllocationEvents allocations;
  private final KubeEvents events;
  private final ReconcileFailures failures;
  private final ServiceNamespaceStatusFactory status;

  public ServiceNamespaceReconciler(
      TrustAwareStorageManager manager,
      PoolDirectory pools,
      AllocationEvents allocations,
      KubeEvents events,
      Conditions conditions) {
    this.manager = manager;
    this.pools = pools;
    this.allocations = allocations;
    this.events = events;
    this.failures = new ReconcileFailures(conditions, events);
    this.status = new ServiceNamespaceStatusFactory(conditions);
  }

  @Override
  public List<EventSource<?, ServiceNamespace>> prepareEventSources(
      EventSourceContext<ServiceNamespace> context) {
    SimpleInboundEventSource<ServiceNamespace> usage = new SimpleInboundEventSource<>("usage");
    allocations.addListener(
        (volumeId, ns) -> {
          int dot = ns == null ? -1 : ns.indexOf('.');
          if (dot > 0) {
            usage.propagateEvent(new ResourceID(ns.substring(dot + 1), ns.substring(0, dot)));
          }
        });
    return List.of(usage);
  }

  @Override
  public UpdateControl<ServiceNamespace> reconcile(
      ServiceNamespace sn, Context<ServiceNamespace> context) {
    ServiceNamespaceStatus next;
    try {
      NamespaceRecord wanted = ServiceNamespaceMapper.toRecord(sn);
      Optional<NamespaceRecord> stored = manager.getNamespace(wanted.getNamespace());
      if (stored.isEmpty()
          || !stored.get().toBuilder().clearSchemaVersion().build().equals(wanted)) {
        manager.putNamespace(wanted);
        events.normal(
            sn,
            stored.isEmpty()
                ? ServiceNamespaceReason.POLICY_CREATED
                : ServiceNamespaceReason.POLICY_UPDATED,
            "quota, allowed classifications, storage types, pools and "
                + wanted.getSharesCount()
                + " share grants are in force");
      }
      List<String> missing = new ArrayList<>();
      for (String p : wanted.getPoolsList()) {
        if (pools.get(p).isEmpty()) {
          missing.add(p);
        }
      }
      next = status.active(sn, manager.namespaceUsage(wanted.getNamespace()), missing);
    } catch (InvalidFieldException e) {
      failures.invalidSpec(sn, sn.getStatus() == null ? null : sn.getStatus().getConditions(), e);
      next = status.invalid(sn, e.getMessage());
    }
    if (Statuses.same(sn.getStatus(), next)) {
      return UpdateControl.noUpdate();
    }
    sn.setStatus(next);
    return UpdateControl.patchStatus(sn);
  }

  @Override
  public ErrorStatusUpdateControl<ServiceNamespace> updateErrorStatus(
      ServiceNamespace sn, Context<ServiceNamespace> context, Exception e) {
    return failures.reconcileFailed(
        sn,
        ServiceNamespaceStatusFactory.copyOf(sn),
        ServiceNamespaceStatus::getConditions,
        ServiceNamespaceStatus::setConditions,
        CommonReason.RECONCILE_ERROR,
        e);
  }

  /**
   * The namespace's policy record is removed first, so no claim can allocate in it any more; then
   * the deletion policy decides about its volumes: Delete releases each, Retain keeps them (a new
   * ServiceNamespace of the same name adopts them and their quota usage).
   */
  @Override
  public DeleteControl cleanup(ServiceNamespace sn, Context<ServiceNamespace> context) {
    String id = ServiceNamespaceMapper.storeId(sn);
    manager.deleteNamespace(id);
    List<Allocation> volumes =
        manager.list().stream().filter(a -> a.getNamespace().equals(id)).toList();
    DeletionPolicy policy =
        sn.getSpec() == null || sn.getSpec().getDeletionPolicy() == null
            ? DeletionPolicy.Retain
            : sn.getSpec().getDeletionPolicy();
    if (policy == DeletionPolicy.Delete) {
      for (Allocation a : volumes) {
        manager.release(a.getVolumeId());
      }
      events.normal(
          sn,
          ServiceNamespaceReason.VOLUMES_RELEASED,
          volumes.size() + " volumes released (deletionPolicy Delete)");
    } else {
      events.normal(
          sn,
          ServiceNamespaceReason.VOLUMES_RETAINED,
          volumes.size() + " volumes kept (deletionPolicy Retain)");
    }
    return DeleteControl.defaultDelete();
  }
}
