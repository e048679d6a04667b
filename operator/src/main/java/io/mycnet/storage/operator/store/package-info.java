/**
 * The control plane's only door to etcd. Everything above this package depends on {@link
 * io.mycnet.storage.operator.store.KeyValueStore} (typed reads with their revisions, guarded and
 * fenced {@link io.mycnet.storage.operator.store.Txn transactions}, leases, prefix watches with
 * {@link io.mycnet.storage.operator.store.StoreEvent}s), implemented on etcd by {@link
 * io.mycnet.storage.operator.store.EtcdStore} and in memory, with the same semantics, by {@link
 * io.mycnet.storage.operator.store.InMemoryStore} for unit tests; one contract suite runs against
 * both. Also here: the key layout ({@link io.mycnet.storage.operator.store.EtcdKeys}), {@link
 * io.mycnet.storage.operator.store.Versioned} values, the leadership {@link
 * io.mycnet.storage.operator.store.Fence} and {@link
 * io.mycnet.storage.operator.store.StoreUnavailableException}. Only {@code EtcdStore} imports
 * jetcd's key-value and watch API; it depends on the protobuf messages of {@code grpc-api} and
 * nothing else of the operator.
 */
package io.mycnet.storage.operator.store;
