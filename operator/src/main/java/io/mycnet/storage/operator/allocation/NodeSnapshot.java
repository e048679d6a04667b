package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.model.TrustTier;

/**
 * What placement needs to know of one node at one moment: its record, the bytes reserved on it by
 * allocations, and its current trust tier and score.
 */
public record NodeSnapshot(
    NodeRecord record, long reservedBytes, int replicaCount, TrustTier tier, double trustScore) {
  public String nodeId() {
    return record.getNodeId();
  }
}
