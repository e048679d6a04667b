package io.mycnet.storage.operator.placement;

/** One replica of an allocation: the node holding it and its state. */
public record Replica(String nodeId, ReplicaState state) {
  public Replica {
    if (nodeId == null || nodeId.isBlank()) {
      throw new IllegalArgumentException("replica nodeId is empty");
    }
    if (state == null) {
      throw new IllegalArgumentException("replica on " + nodeId + ": state is required");
    }
  }

  public static Replica healthy(String nodeId) {
    return new Replica(nodeId, ReplicaState.HEALTHY);
  }
}
