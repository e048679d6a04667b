/**
 * The bytes of a volume on this node: the replica files and their at-rest encryption ({@link
 * io.mycnet.storage.agent.replica.VolumeReplica}, {@link
 * io.mycnet.storage.agent.replica.BlockSeal}, {@link
 * io.mycnet.storage.agent.replica.NamespaceKeys}) and the {@link
 * io.mycnet.storage.agent.replica.ReplicaStore} of all replicas the node holds. It depends on
 * {@code support}.
 */
package io.mycnet.storage.agent.replica;
