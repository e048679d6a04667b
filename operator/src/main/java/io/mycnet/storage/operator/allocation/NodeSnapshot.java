package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.model.TrustTier;

/**
 * What placement needs to know of one node at one moment: its record, the bytes reserved on it by
 * allocations (with the modification revision of that counter, 0 when it does not exist yet), and
 * its current trust tier and score.
 */
public record NodeSnapshot(
    NodeRecord record,
    long reservedBytes,
    int replicaCount,
    long usageModRevision,
    TrustTier tier,
    double trustScore) {
  public String nodeId() {
    return record.getNodeId();
  }
}
