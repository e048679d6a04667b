/**
 * The {@code StoragePool} reconciler. A pool's spec becomes a {@link
 * io.mycnet.storage.operator.pool.PoolDefinition} in the {@link
 * io.mycnet.storage.operator.pool.PoolDirectory}, which the allocation code reads through {@link
 * io.mycnet.storage.operator.pool.PoolScopedPlacer} (only the pool's nodes are offered to
 * placement, only its classifications are accepted) and through the overcommit function. A changed
 * pool triggers a replication pass so that existing volumes are re-checked; an invalid spec leaves
 * the last valid definition in force and says so in {@code Ready=False}. The status counts the
 * pool's nodes by state and trust tier, with capacity and reservations. Deleting a pool that still
 * holds volumes is refused (the finalizer stays, with a warning event) until they are gone.
 */
package io.mycnet.storage.operator.reconciler.storagepool;
