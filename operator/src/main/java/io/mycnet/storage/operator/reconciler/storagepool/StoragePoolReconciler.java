package io.mycnet.storage.operator.reconciler.storagepool;

import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StoragePoolStatus;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeSnapshot;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.ReconcileFailures;
import io.mycnet.storage.operator.reconciler.ReplicationTrigger;
import io.mycnet.storage.operator.reconciler.Statuses;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles a {@code StoragePool}: validates and registers its definition, triggers a replication
 * pass when an existing definition changed, and reports the pool's nodes. See the package
 * documentation.
 */
public final class StoragePoolReconciler implements Reconciler<StoragePool>, Cleaner<StoragePool> {
  private static final Logger LOG = LoggerFactory.getLogger(StoragePoolReconciler.class);
  static final long IN_USE_RECHECK_MILLIS = 30_000;

  private final PoolDirectory pools;
  private final ClusterViewCache cluster;
  private final TrustAwareStorageManager manager;
  private final ReplicationTrigger replication;
  private final KubeEvents events;
  private final StoragePoolStatusFactory status;
  private final ReconcileFailures failures;

  public StoragePoolReconciler(
      PoolDirectory pools,
      ClusterViewCache cluster,
      TrustAwareStorageManager manager,
      ReplicationTrigger replication,
      KubeEvents events,
      Conditions conditions) {
    this.pools = pools;
    this.cluster = cluster;
    this.manager = manager;
    this.replication = replication;
    this.events = events;
    this.failures = new ReconcileFailures(conditions, events);
    this.status = new StoragePoolStatusFactory(conditions);
  }

  @Override
  public UpdateControl<StoragePool> reconcile(StoragePool pool, Context<StoragePool> context) {
    String name = pool.getMetadata().getName();
    StoragePoolStatus next;
    PoolDefinition def;
    try {
      def = StoragePoolMapper.toDefinition(pool);
    } catch (InvalidFieldException e) {
      boolean previous = pools.get(name).isPresent();
      next = status.invalid(pool, e, previous);
      failures.invalidSpec(
          pool, pool.getStatus() == null ? null : pool.getStatus().getConditions(), e);
      return patch(pool, next);
    }
    Optional<PoolDefinition> before = pools.put(def);
    if (before.isPresent() && !before.get().equals(def)) {
      LOG.info("storage pool {} changed; re-checking existing volumes", name);
      events.normal(
          pool,
          StoragePoolReason.POOL_CHANGED,
          "definition changed; existing volumes are re-checked");
      replication.poolChanged(name);
    } else if (before.isEmpty()) {
      events.normal(pool, StoragePoolReason.POOL_REGISTERED, "pool is in use for placement");
    }
    List<NodeSnapshot> members =
        cluster.nodes().stream().filter(n -> def.contains(n.record())).toList();
    next = status.valid(pool, def, members);
    return patch(pool, next);
  }

  private static UpdateControl<StoragePool> patch(StoragePool pool, StoragePoolStatus next) {
    if (Statuses.same(pool.getStatus(), next)) {
      return UpdateControl.noUpdate();
    }
    pool.setStatus(next);
    return UpdateControl.patchStatus(pool);
  }

  @Override
  public ErrorStatusUpdateControl<StoragePool> updateErrorStatus(
      StoragePool pool, Context<StoragePool> context, Exception e) {
    return failures.reconcileFailed(
        pool,
        pool.getStatus() == null ? new StoragePoolStatus() : pool.getStatus(),
        StoragePoolStatus::getConditions,
        StoragePoolStatus::setConditions,
        CommonReason.RECONCILE_ERROR,
        e);
  }

  /**
   * A pool that still holds volumes is not deleted: its volumes would lose the nodes they may be
   * rebuilt on. The finalizer stays (with a warning event) until they are released.
   */
  @Override
  public DeleteControl cleanup(StoragePool pool, Context<StoragePool> context) {
    String name = pool.getMetadata().getName();
    long inUse = manager.list().stream().filter(a -> a.getPool().equals(name)).count();
    if (inUse > 0) {
      events.warning(
          pool,
          StoragePoolReason.POOL_IN_USE,
          inUse + " volumes are still placed in this pool; release them to delete it");
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(IN_USE_RECHECK_MILLIS);
    }
    pools.remove(name);
    return DeleteControl.defaultDelete();
  }
}
