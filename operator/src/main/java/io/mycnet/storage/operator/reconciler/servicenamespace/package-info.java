/**
 * The {@code ServiceNamespace} reconciler. A service namespace's quota, allowed classifications,
 * storage types and pools become its {@code NamespaceRecord} in etcd (id {@code
 * <namespace>.<name>}), which the allocation manager enforces in the same transaction as every
 * allocation. Sharing (per claim, read-only or read-write, with which other service namespaces)
 * becomes the record's shares, one grant per claim and grantee; the assignment publisher sends each
 * volume's replicas the grants of that volume's claim only, and the agents enforce them. Access
 * (service accounts, client identities) is validated and recorded here; its enforcement belongs to
 * the data path. The status reports the namespace's usage from etcd. On deletion (finalizer) the
 * deletion policy decides: {@code Delete} releases every volume of the namespace, {@code Retain}
 * keeps them allocated; either way an event says how many.
 */
package io.mycnet.storage.operator.reconciler.servicenamespace;
