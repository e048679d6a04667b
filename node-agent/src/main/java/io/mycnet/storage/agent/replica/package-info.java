/**
 * The bytes of a volume on this node: the replica files and their at-rest encryption ({@link
 * io.mycnet.storage.agent.replica.VolumeReplica}, {@link
 * io.mycnet.storage.agent.replica.BlockSeal}, {@link
 * io.mycnet.storage.agent.replica.NamespaceKeys}) and the {@link
 * io.mycnet.storage.agent.replica.ReplicaStore} of all replicas the node holds. It depends on
 * {@code support}; today the store also opens the {@code replication.ReplicatedVolume}s and the key
 * file reports the agent's {@code ConfigException} (both listed in the agent's {@code
 * ArchitectureTest}).
 */
package io.mycnet.storage.agent.replica;
