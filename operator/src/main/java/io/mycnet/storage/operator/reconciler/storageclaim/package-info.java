/**
 * The {@code StorageClaim} reconciler: the claim's spec becomes a {@link
 * io.mycnet.storage.operator.allocation.StorageRequest} for volume {@code <namespace>.<name>} and
 * the allocation manager decides (namespace policy, quota and placement in one etcd transaction). A
 * refusal leaves the claim {@code Pending} with {@code Ready=False} and the reason ({@code
 * InvalidSpec}, {@code NotAllowed}, {@code QuotaExceeded}, {@code NoPlacement} with the placement
 * explanation, ...); it is retried on a timer and whenever its ServiceNamespace changes. A bound
 * claim reports its volume's phase and replicas (node, topology path, trust score, state) from etcd
 * and follows it through an etcd watch. Growing {@code spec.size} resizes the volume. Deleting the
 * claim releases the volume (finalizer).
 */
package io.mycnet.storage.operator.reconciler.storageclaim;
