package io.mycnet.storage.operator.security;

import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's two actions on a node's identity, each one etcd transaction:
 *
 * <ul>
 *   <li>{@link #remove}: the record goes to {@code NODE_STATE_REMOVED} (no new replicas, its
 *       replicas move off as from a DOWN node), the node id and every certificate issued to it are
 *       revoked ({@code revoked-nodes/<node>}, {@code revoked-serials/<serial>}), its single-use
 *       tokens too, and its liveness key is deleted.
 *   <li>{@link #readmit}: for a removed node only. Its old certificates are revoked again (any
 *       issued meanwhile included) and the id's revocation is deleted; the record stays REMOVED and
 *       keeps the old key's hash, so that exactly one new join, with a key other than the old one,
 *       re-binds the id and makes the node UP (see {@code JoinService}). The record (placement
 *       slot, history) and the trust the node earned are kept: re-admission is the operator's word
 *       that this is the same machine.
 * </ul>
 */
public final class NodeAdmission {
  private static final Logger LOG = LoggerFactory.getLogger(NodeAdmission.class);
  private static final int MAX_ATTEMPTS = 20;

  /** What an action did: {@code changed} false when it found the node already so. */
  public record Outcome(boolean changed, String message, List<String> revokedSerials) {}

  /** An action refused: unknown node, or a re-admission of a node that is not removed. */
  public static final class RefusedException extends RuntimeException {
    private final boolean unknownNode;

    RefusedException(boolean unknownNode, String message) {
      super(message);
      this.unknownNode = unknownNode;
    }

    /** True when the node is not registered (NOT_FOUND); false for a wrong state. */
    public boolean unknownNode() {
      return unknownNode;
    }
  }

  private final NodeRegistry registry;
  private final SecurityStore security;
  private final Clock clock;

  public NodeAdmission(NodeRegistry registry, SecurityStore security, Clock clock) {
    this.registry = registry;
    this.security = security;
    this.clock = clock;
  }

  /** Removes the node (idempotent: a removed node is left as it is). */
  public Outcome remove(String nodeId, String reason) {
    String why = reason == null || reason.isBlank() ? "removed by an operator" : reason.strip();
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<NodeRecord> cur = registry.getVersioned(nodeId);
      if (!cur.exists()) {
        throw unknown(nodeId);
      }
      NodeRecord r = cur.value();
      if (r.getState() == NodeState.NODE_STATE_REMOVED) {
        return new Outcome(
            false,
            "node "
                + nodeId
                + " was already removed at "
                + Instant.ofEpochMilli(r.getRemovedAtUnixMs())
                + " ("
                + r.getRemovedReason()
                + "); nothing changed",
            List.of());
      }
      long lease = registry.livenessLease(nodeId);
      EtcdStore.Txn txn = registry.txn().requireUnchanged(cur);
      List<String> serials = security.addNodeRevocation(txn, nodeId, why);
      txn.put(
              cur.key(),
              r.toBuilder()
                  .setState(NodeState.NODE_STATE_REMOVED)
                  .setRemovedAtUnixMs(clock.millis())
                  .setRemovedReason(why)
                  .build())
          .delete(registry.livenessKey(nodeId));
      if (txn.commit()) {
        registry.revokeLiveness(nodeId, lease);
        String msg =
            "node "
                + nodeId
                + " removed ("
                + why
                + "): its id and "
                + serials.size()
                + " certificate(s) revoked; its replicas move to other nodes";
        LOG.warn(msg);
        return new Outcome(true, msg, serials);
      }
    }
    throw new StoreUnavailableException("removal of node " + nodeId + " kept conflicting", null);
  }

  /** Re-admits a removed node: its next join, with a new key, binds the id again. */
  public Outcome readmit(String nodeId) {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<NodeRecord> cur = registry.getVersioned(nodeId);
      if (!cur.exists()) {
        throw unknown(nodeId);
      }
      NodeRecord r = cur.value();
      if (r.getState() != NodeState.NODE_STATE_REMOVED) {
        throw new RefusedException(
            false,
            "node "
                + nodeId
                + " is not removed (state "
                + r.getState().name().replace("NODE_STATE_", "")
                + "): only a removed node can be re-admitted; remove it first: mycnet node remove "
                + nodeId);
      }
      if (security.nodeRevocation(nodeId).isEmpty()) {
        return new Outcome(
            false,
            "node " + nodeId + " was already re-admitted and waits for its join; nothing changed",
            List.of());
      }
      EtcdStore.Txn txn = registry.txn().requireUnchanged(cur);
      List<String> serials =
          security.addCertificateRevocations(
              txn, nodeId, "old certificate of node " + nodeId + ", re-admitted");
      security.addNodeReadmission(txn, nodeId);
      txn.put(cur.key(), r.toBuilder().clearCertificateSerials().build());
      if (txn.commit()) {
        String msg =
            "node "
                + nodeId
                + " re-admitted: "
                + serials.size()
                + " old certificate(s) revoked; it may join once more, with a new key and a"
                + " bootstrap token";
        LOG.warn(msg);
        return new Outcome(true, msg, serials);
      }
    }
    throw new StoreUnavailableException(
        "re-admission of node " + nodeId + " kept conflicting", null);
  }

  private static RefusedException unknown(String nodeId) {
    return new RefusedException(
        true, "node " + nodeId + " is not registered with the control plane: no such node");
  }
}
