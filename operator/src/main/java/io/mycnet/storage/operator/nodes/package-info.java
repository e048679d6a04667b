/**
 * The nodes as the control plane keeps them in etcd: the node registry ({@link
 * io.mycnet.storage.operator.nodes.NodeRegistry}: records, leases, liveness, placement slots) and
 * the per-node durable command queues ({@link io.mycnet.storage.operator.nodes.CommandQueue}). It
 * depends on {@code store} and {@code model}, never on allocation, replication or the node API.
 */
package io.mycnet.storage.operator.nodes;
