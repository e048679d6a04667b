package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What re-replication needs to know of one volume's durable allocation record.
 *
 * @param volumeId the volume
 * @param classification its data classification
 * @param sizeBytes its size
 * @param strategy its replication strategy
 * @param pool its storage pool, or null
 * @param desiredReplicas how many replicas it should have
 * @param replicas the replicas it has, with their states
 */
public record Allocation(
    String volumeId,
    Classification classification,
    long sizeBytes,
    ReplicationStrategy strategy,
    String pool,
    int desiredReplicas,
    List<Replica> replicas) {

  public Allocation {
    if (volumeId == null || volumeId.isBlank()) {
      throw new IllegalArgumentException("allocation volumeId is empty");
    }
    if (classification == null || strategy == null) {
      throw new IllegalArgumentException(
          "allocation " + volumeId + ": classification and strategy are required");
    }
    if (sizeBytes <= 0) {
      throw new IllegalArgumentException(
          "allocation " + volumeId + ": sizeBytes must be > 0, got " + sizeBytes);
    }
    if (desiredReplicas < PlacementRequest.MIN_REPLICAS
        || desiredReplicas > PlacementRequest.MAX_REPLICAS) {
      throw new IllegalArgumentException(
          "allocation "
              + volumeId
              + ": desiredReplicas must be between 1 and 7, got "
              + desiredReplicas);
    }
    replicas = List.copyOf(replicas);
    Set<String> seen = new HashSet<>();
    for (Replica r : replicas) {
      if (!seen.add(r.nodeId())) {
        throw new IllegalArgumentException(
            "allocation " + volumeId + ": two replicas on node " + r.nodeId());
      }
    }
    if (pool != null && pool.isBlank()) {
      pool = null;
    }
  }

  /** An allocation whose replicas are all healthy, as placed on {@code nodes}. */
  public static Allocation of(
      String volumeId,
      Classification c,
      long sizeBytes,
      ReplicationStrategy strategy,
      String pool,
      List<String> nodes) {
    return new Allocation(
        volumeId,
        c,
        sizeBytes,
        strategy,
        pool,
        nodes.size(),
        nodes.stream().map(Replica::healthy).toList());
  }

  /** The replica on {@code nodeId}, or null. */
  public Replica replicaOn(String nodeId) {
    for (Replica r : replicas) {
      if (r.nodeId().equals(nodeId)) {
        return r;
      }
    }
    return null;
  }
}
