package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.TrustTier;

/** Something that makes replicas need a new home. */
public sealed interface ReplicationEvent
    permits ReplicationEvent.NodeLost,
        ReplicationEvent.NodeQuarantined,
        ReplicationEvent.TierDropped,
        ReplicationEvent.AuditFailed {

  /** The node whose replicas are affected. */
  String nodeId();

  /** One line for logs and status. */
  String describe();

  /** A node stayed down past its grace period: every replica on it is lost. */
  record NodeLost(String nodeId) implements ReplicationEvent {
    public NodeLost {
      requireNode(nodeId);
    }

    @Override
    public String describe() {
      return "node " + nodeId + " lost";
    }
  }

  /** A node was quarantined: none of its replicas may be used any more, not even as a source. */
  record NodeQuarantined(String nodeId) implements ReplicationEvent {
    public NodeQuarantined {
      requireNode(nodeId);
    }

    @Override
    public String describe() {
      return "node " + nodeId + " quarantined";
    }
  }

  /**
   * A node's trust tier dropped from {@code from} to {@code to}. Graded evacuation: only replicas
   * whose classification {@code from} allowed and {@code to} no longer allows move (below CRITICAL:
   * CRITICAL replicas; below SENSITIVE: also SENSITIVE ones; and so on). The node stays a
   * (last-resort) copy source.
   */
  record TierDropped(String nodeId, TrustTier from, TrustTier to) implements ReplicationEvent {
    public TierDropped {
      requireNode(nodeId);
      if (from == null || to == null || !from.isHigherThan(to)) {
        throw new IllegalArgumentException(
            "tier drop of node "
                + nodeId
                + ": 'to' must be lower than 'from', got "
                + from
                + " -> "
                + to);
      }
    }

    @Override
    public String describe() {
      return "node " + nodeId + " dropped from tier " + from + " to " + to;
    }
  }

  /** The replica of {@code volumeId} on {@code nodeId} failed an integrity audit. */
  record AuditFailed(String volumeId, String nodeId) implements ReplicationEvent {
    public AuditFailed {
      requireNode(nodeId);
      if (volumeId == null || volumeId.isBlank()) {
        throw new IllegalArgumentException("audit failure: volumeId is empty");
      }
    }

    @Override
    public String describe() {
      return "replica of " + volumeId + " on node " + nodeId + " failed an audit";
    }
  }

  private static void requireNode(String nodeId) {
    if (nodeId == null || nodeId.isBlank()) {
      throw new IllegalArgumentException("replication event: nodeId is empty");
    }
  }
}
