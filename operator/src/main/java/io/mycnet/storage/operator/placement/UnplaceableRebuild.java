package io.mycnet.storage.operator.placement;

/**
 * A replica that cannot be rebuilt now: no healthy source left, or no node can take it.
 *
 * @param volumeId the volume
 * @param replacedNode the node whose replica needed replacing
 * @param priority how urgent it would be
 * @param reason human-readable cause
 * @param failure the placement failure when no node could take it, else null
 */
public record UnplaceableRebuild(
    String volumeId,
    String replacedNode,
    RebuildPriority priority,
    String reason,
    PlacementFailure failure) {}
