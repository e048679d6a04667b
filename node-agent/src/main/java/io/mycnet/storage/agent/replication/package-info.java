/**
 * A volume as one member of its replica set: {@link
 * io.mycnet.storage.agent.replication.ReplicatedVolume} (epochs, the primary's write path to its
 * followers, read index), the {@link io.mycnet.storage.agent.replication.Rebuilder} that copies a
 * replica from a healthy peer, and the mutual-TLS {@link
 * io.mycnet.storage.agent.replication.PeerChannels} to the other nodes. It depends on {@code
 * replica}, {@code identity} and {@code support}; the peer channels still read two limits from
 * {@code data.DataServer} and {@code NodeAgent} (listed in the agent's {@code ArchitectureTest}).
 */
package io.mycnet.storage.agent.replication;
