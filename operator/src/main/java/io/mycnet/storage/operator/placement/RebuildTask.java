package io.mycnet.storage.operator.placement;

/**
 * One planned copy: a new replica of {@code volumeId} on {@code targetNode}, copied from {@code
 * sourceNode}, replacing the replica on {@code replacedNode}.
 *
 * @param volumeId the volume
 * @param pool its pool (null when none)
 * @param sizeBytes bytes to copy
 * @param replacedNode the node whose replica is replaced
 * @param targetNode where the new replica goes (same placement function as new volumes, keeping the
 *     remaining replicas and their domains)
 * @param sourceNode the healthy replica to copy from: the most trusted tier, then the nearest to
 *     the target in the hierarchy, then the highest score
 * @param priority how urgent it is
 * @param reason the event that caused it
 */
public record RebuildTask(
    String volumeId,
    String pool,
    long sizeBytes,
    String replacedNode,
    String targetNode,
    String sourceNode,
    RebuildPriority priority,
    String reason) {}
