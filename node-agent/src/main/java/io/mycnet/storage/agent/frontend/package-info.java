/**
 * The volume frontend (docs/block-export.md): the volumes attached to this node ({@link
 * io.mycnet.storage.agent.frontend.AttachedVolumes}, the NBD server's export directory) and, per
 * volume, a client of its replica set that sends every request to the current primary and follows
 * it across failovers ({@link io.mycnet.storage.agent.frontend.VolumeFrontend}). Above {@code data}
 * (the in-process VolumeIo of a local primary) and {@code nbd} (the interfaces it implements);
 * below {@code session}.
 */
package io.mycnet.storage.agent.frontend;
