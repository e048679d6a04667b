/**
 * The bytes of a volume on this node: {@link io.mycnet.storage.agent.replica.VolumeReplica} (the
 * entry point and lock) over {@link io.mycnet.storage.agent.replica.BlockFile}, {@link
 * io.mycnet.storage.agent.replica.BlockChecksums} and the sealed format ({@link
 * io.mycnet.storage.agent.replica.SealedBlocks}, {@link io.mycnet.storage.agent.replica.BlockSeal},
 * {@link io.mycnet.storage.agent.replica.NamespaceKeys}); what leaves a replica ({@link
 * io.mycnet.storage.agent.replica.ReplicaReaders}, {@link
 * io.mycnet.storage.agent.replica.Scrubber}); and the {@link
 * io.mycnet.storage.agent.replica.ReplicaStore} of all replicas the node holds. It depends on
 * {@code support} and {@code identity}; today the store and the scrubber also use the {@code
 * replication.ReplicatedVolume}s (listed in the agent's {@code ArchitectureTest}).
 */
package io.mycnet.storage.agent.replica;
