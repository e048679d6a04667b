package io.mycnet.storage.operator.reconciler.storageclaim;

import io.fabric8.kubernetes.api.model.Condition;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
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
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StorageClaimStatus;
import io.mycnet.storage.operator.allocation.AllocationException;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.AllocationEvents;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.Quantities;
import io.mycnet.storage.operator.reconciler.Reason;
import io.mycnet.storage.operator.reconciler.ReconcileFailures;
import io.mycnet.storage.operator.reconciler.Statuses;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/** Reconciles a {@code StorageClaim} into an allocation. See the package documentation. */
public final class StorageClaimReconciler
    implements Reconciler<StorageClaim>, Cleaner<StorageClaim> {

  private final TrustAwareStorageManager manager;
  private final PoolDirectory pools;
  private final AllocationEvents allocations;
  private final KubeEvents events;
  private final ReconcileFailures failures;
  private final StorageClaimStatusFactory status;
  private final Duration pendingRecheck;

  /**
   * @param pendingRecheck how often a Pending claim is tried again (quota freed, nodes joined, a
   *     pool appeared)
   */
  public StorageClaimReconciler(
      TrustAwareStorageManager manager,
      PoolDirectory pools,
      NodeTrustSource trust,
      AllocationEvents allocations,
      KubeEvents events,
      Conditions conditions,
      Duration pendingRecheck) {
    this.manager = manager;
    this.pools = pools;
    this.allocations = allocations;
    this.events = events;
    this.failures = new ReconcileFailures(conditions, events);
    this.status = new StorageClaimStatusFactory(conditions, trust);
    this.pendingRecheck = pendingRecheck;
  }

  @Override
  public List<EventSource<?, StorageClaim>> prepareEventSources(
      EventSourceContext<StorageClaim> context) {
    var sn =
        InformerEventSourceConfiguration.from(ServiceNamespace.class, StorageClaim.class)
            .withNamespacesInheritedFromController()
            .withPrimaryToSecondaryMapper(
                (StorageClaim c) ->
                    c.getSpec() == null || c.getSpec().getServiceNamespace() == null
                        ? Set.of()
                        : Set.of(
                            new ResourceID(
                                c.getSpec().getServiceNamespace(), c.getMetadata().getNamespace())))
            .withSecondaryToPrimaryMapper(
                s ->
                    context
                        .getPrimaryCache()
                        .list(
                            s.getMetadata().getNamespace(),
                            c ->
                                c.getSpec() != null
                                    && s.getMetadata()
                                        .getName()
                                        .equals(c.getSpec().getServiceNamespace()))
                        .map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
            .build();
    SimpleInboundEventSource<StorageClaim> volumes = new SimpleInboundEventSource<>("volumes");
    allocations.addListener(
        (volumeId, ns) -> VolumeIds.claimOf(volumeId).ifPresent(volumes::propagateEvent));
    return List.of(new InformerEventSource<>(sn, context), volumes);
  }

  @Override
  public UpdateControl<StorageClaim> reconcile(StorageClaim claim, Context<StorageClaim> context) {
    String volumeId = VolumeIds.of(claim);
    Optional<ServiceNamespace> sn =
        context
            .getSecondaryResource(ServiceNamespace.class)
            .filter(s -> s.getMetadata().getDeletionTimestamp() == null);
    Optional<Allocation> existing = manager.get(volumeId);
    StorageClaimStatus next;
    boolean retry = false;
    if (sn.isEmpty()) {
      String missing =
          "ServiceNamespace "
              + (claim.getSpec() == null ? null : claim.getSpec().getServiceNamespace())
              + " does not exist in namespace "
              + claim.getMetadata().getNamespace()
              + " (or is being deleted)";
      if (existing.isPresent()) {
        next =
            status.bound(
                claim,
                existing.get(),
                new StorageClaimStatusFactory.Problem(
                    StorageClaimReason.SERVICE_NAMESPACE_NOT_FOUND, missing));
      } else if (claim.getStatus() != null && claim.getStatus().getVolumeId() != null) {
        next =
            status.released(
                claim, "the volume was released with its service namespace; " + missing);
      } else {
        next = status.pending(claim, StorageClaimReason.SERVICE_NAMESPACE_NOT_FOUND, missing);
        retry = true;
      }
    } else {
      try {
        StorageRequest request = StorageClaimMapper.toRequest(claim, sn.get(), pools, existing);
        Allocation a;
        if (existing.isPresent() && request.sizeBytes() < existing.get().getSizeBytes()) {
          throw new InvalidFieldException(
              "spec.size",
              "volumes grow, never shrink: "
                  + Quantities.format(request.sizeBytes())
                  + " is smaller than the allocated "
                  + Quantities.format(existing.get().getSizeBytes()));
        }
        if (existing.isPresent() && request.sizeBytes() > existing.get().getSizeBytes()) {
          manager.resize(volumeId, request.sizeBytes());
          events.normal(
              claim,
              StorageClaimReason.RESIZED,
              "volume grown to " + Quantities.format(request.sizeBytes()));
        }
        a = manager.allocate(request);
        next = status.bound(claim, a, null);
      } catch (InvalidFieldException e) {
        next =
            existing.isPresent()
                ? status.bound(
                    claim,
                    existing.get(),
                    new StorageClaimStatusFactory.Problem(
                        CommonReason.INVALID_SPEC, e.getMessage()))
                : status.pending(claim, CommonReason.INVALID_SPEC, e.getMessage());
      } catch (AllocationException e) {
        Reason reason = StorageClaimReason.of(e);
        next =
            existing.isPresent()
                ? status.bound(
                    claim,
                    existing.get(),
                    new StorageClaimStatusFactory.Problem(reason, e.getMessage()))
                : status.pending(claim, reason, e.getMessage());
        retry = existing.isEmpty() && e.reason() != AllocationException.Reason.INVALID_REQUEST;
      }
    }
    recordTransition(claim, next);
    UpdateControl<StorageClaim> control;
    if (Statuses.same(claim.getStatus(), next)) {
      control = UpdateControl.noUpdate();
    } else {
      claim.setStatus(next);
      control = UpdateControl.patchStatus(claim);
    }
    return retry ? control.rescheduleAfter(pendingRecheck) : control;
  }

  /** One event per change of phase or of the Ready reason. */
  private void recordTransition(StorageClaim claim, StorageClaimStatus next) {
    StorageClaimStatus old = claim.getStatus();
    ClaimPhase before = old == null ? null : old.getPhase();
    String reasonBefore =
        old == null
            ? null
            : Conditions.find(old.getConditions(), Conditions.READY)
                .map(Condition::getReason)
                .orElse(null);
    Condition ready = Conditions.find(next.getConditions(), Conditions.READY).orElseThrow();
    if (before == next.getPhase() && ready.getReason().equals(reasonBefore)) {
      return;
    }
    boolean good = Conditions.TRUE.equals(ready.getStatus()) && next.getPhase() == ClaimPhase.Bound;
    String message = next.getPhase() + ": " + ready.getMessage();
    if (good) {
      events.normal(claim, ready.getReason(), message);
    } else {
      events.warning(claim, ready.getReason(), message);
    }
  }

  @Override
  public ErrorStatusUpdateControl<StorageClaim> updateErrorStatus(
      StorageClaim claim, Context<StorageClaim> context, Exception e) {
    StorageClaimStatus s = claim.getStatus() == null ? new StorageClaimStatus() : claim.getStatus();
    if (s.getPhase() == null) {
      s.setPhase(ClaimPhase.Pending);
    }
    return failures.reconcileFailed(
        claim,
        s,
        StorageClaimStatus::getConditions,
        StorageClaimStatus::setConditions,
        ReconcileFailures.reasonOf(e),
        e);
  }

  /** Releases the claim's volume; releasing one that is already gone is a no-op. */
  @Override
  public DeleteControl cleanup(StorageClaim claim, Context<StorageClaim> context) {
    manager
        .release(VolumeIds.of(claim))
        .ifPresent(
            a ->
                events.normal(
                    claim, StorageClaimReason.RELEASED, "volume " + a.getVolumeId() + " released"));
    return DeleteControl.defaultDelete();
  }
}
