/**
 * Storage-pool rules as domain logic: a pool's {@link
 * io.mycnet.storage.operator.pool.PoolDefinition} (node selector, accepted classifications,
 * limits), the {@link io.mycnet.storage.operator.pool.PoolDirectory} of the definitions in force,
 * the {@link io.mycnet.storage.operator.pool.PoolScopedPlacer} that offers placement only a pool's
 * nodes, {@link io.mycnet.storage.operator.pool.LabelSelectors} and the {@link
 * io.mycnet.storage.operator.pool.PoolDirectoryRules} the replication manager consults. It depends
 * on {@code allocation}, {@code replication} and the CRD types; the {@code StoragePool} reconciler
 * fills it. Two names still come from the reconcilers ({@code InvalidFieldException} and the
 * default rebuild limits of {@code StoragePoolMapper}), listed in the operator's {@code
 * ArchitectureTest}.
 */
package io.mycnet.storage.operator.pool;
