/**
 * A volume as one member of its replica set: {@link
 * io.mycnet.storage.agent.replication.ReplicatedVolume} (epochs, the primary's write path to its
 * followers, read index), the {@link io.mycnet.storage.agent.replication.Rebuilder} that copies a
 * replica from a healthy peer, and the mutual-TLS {@link
 * io.mycnet.storage.agent.replication.PeerChannels} to the other nodes. It depends on {@code
 * replica}, {@code identity} and {@code support}.
 */
package io.mycnet.storage.agent.replication;
