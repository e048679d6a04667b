/**
 * The control plane's only door to etcd: {@link io.mycnet.storage.operator.store.EtcdStore} (typed
 * reads with their revisions, guarded and fenced transactions, prefix watches), the key layout
 * ({@link io.mycnet.storage.operator.store.EtcdKeys}), {@link
 * io.mycnet.storage.operator.store.Versioned} values and {@link
 * io.mycnet.storage.operator.store.StoreUnavailableException}. It depends on jetcd, the protobuf
 * messages of {@code grpc-api} and nothing else of the operator; every package above it reaches
 * etcd through it.
 */
package io.mycnet.storage.operator.store;
