/**
 * The {@code ServiceNamespace} reconciler. A service namespace's quota, allowed classifications,
 * storage types and pools become its {@code NamespaceRecord} in etcd (id {@code
 * <namespace>.<name>}), which the allocation manager enforces in the same transaction as every
 * allocation. Access (service accounts, client identities) and sharing (per claim, read-only or
 * read-write, with which other service namespaces) are validated and recorded here; their
 * enforcement belongs to the data path. The status reports the namespace's usage from etcd. On
 * deletion (finalizer) the deletion policy decides: {@code Delete} releases every volume of the
 * namespace, {@code Retain} keeps them allocated; either way an event says how many.
 */
package io.mycnet.storage.operator.reconciler.servicenamespace;
