/**
 * The CSI driver's controller and identity services (CSI spec v1.9.0, docs/csi.md): every CSI
 * volume is a {@code StorageClaim} created, read, grown and deleted through the Kubernetes API, and
 * ControllerPublish/Unpublish are the attachment service's attach and detach, with the consumer
 * failover (fence the silent writer, attach the new node). Only the leader acts; a standby answers
 * UNAVAILABLE. Layer: above {@code reconciler} (it reads the claim's status as the reconciler
 * writes it), below {@code runtime} (which serves it on a Unix socket).
 */
package io.mycnet.storage.operator.csi;
