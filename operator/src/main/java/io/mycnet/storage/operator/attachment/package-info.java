/**
 * Attachments: which nodes' block frontends may open a volume (docs/block-export.md,
 * "Attachments"). {@link io.mycnet.storage.operator.attachment.AttachmentService} attaches,
 * detaches and fences, each change of a volume one guarded, fenced store transaction that updates
 * the allocation's attachments and queues the {@code AttachVolume} or {@code DetachVolume} command
 * on the consumer node's queue; the replication pass calls it to fence the attachments of nodes
 * that are DOWN or whose trust no longer admits the volume. Above {@code allocation} (it reads the
 * allocation, the node registry and trust as placement does), below {@code replication}.
 */
package io.mycnet.storage.operator.attachment;
