package io.mycnet.storage.operator.nodes;

import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Versioned;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;

/**
 * Node records and node liveness in etcd.
 *
 * <p>Liveness is one etcd lease per node: {@code liveness/<node>} is attached to it, and the
 * control plane renews it on each of the agent's heartbeats. When the agent stops heartbeating the
 * lease expires, etcd deletes the key, and a watch on {@code liveness/} tells the replication
 * manager, which marks the node DOWN once a grace period has passed without it coming back. A
 * control plane that restarts finds the lease of a live node through the key itself, so liveness
 * survives control-plane restarts and leader changes.
 */
public final class NodeRegistry {
  public static final int SCHEMA_VERSION = 1;
  private static final int MAX_ATTEMPTS = 50;

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final Clock clock;
  private final long leaseTtlSeconds;
  private final Map<String, Long> leases = new ConcurrentHashMap<>();

  public NodeRegistry(EtcdStore store, EtcdKeys keys, Clock clock, Duration leaseTtl) {
    if (leaseTtl.toSeconds() < 1) {
      throw new IllegalArgumentException("node lease TTL must be at least 1 s, was " + leaseTtl);
    }
    this.store = store;
    this.keys = keys;
    this.clock = clock;
    this.leaseTtlSeconds = leaseTtl.toSeconds();
  }

  /**
   * Creates or updates a node's record from what the node says about itself (topology, owner,
   * capacity, labels, address). The control plane's own fields — state, joined time, lease loss —
   * are kept from the stored record.
   */
  public NodeRecord register(NodeRecord reported) {
    String nodeId = EtcdKeys.id("node id", reported.getNodeId());
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<NodeRecord> current = store.get(keys.node(nodeId), NodeRecord.parser());
      if (current.exists()) {
        break;
      }
      // A new node: claim the lowest free placement slot together with the record.
      EtcdStore.Txn txn = store.txn();
      NodeRecord created = addCreation(txn, reported);
      if (txn.commit()) {
        return created;
      }
    }
    return update(
        nodeId,
        existing -> {
          NodeRecord.Builder b = reported.toBuilder().setSchemaVersion(SCHEMA_VERSION);
          if (existing == null) {
            b.setState(NodeState.NODE_STATE_UP)
                .setJoinedAtUnixMs(clock.millis())
                .setLeaseLostAtUnixMs(0);
          } else {
            b.setState(existing.getState())
                .setPlacementSlot(existing.getPlacementSlot())
                .setJoinedAtUnixMs(existing.getJoinedAtUnixMs())
                .setLeaseLostAtUnixMs(existing.getLeaseLostAtUnixMs())
                .clearCertificateSerials()
                .addAllCertificateSerials(existing.getCertificateSerialsList());
            for (String serial : reported.getCertificateSerialsList()) {
              if (!b.getCertificateSerialsList().contains(serial)) {
                b.addCertificateSerials(serial);
              }
            }
          }
          return b.setLastSeenUnixMs(clock.millis()).build();
        });
  }

  /**
   * Applies {@code change} to the node's record (null when there is none) in a compare-and-swap
   * loop. Returning null from {@code change} leaves the record as it is.
   */
  public NodeRecord update(String nodeId, UnaryOperator<NodeRecord> change) {
    String key = keys.node(nodeId);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<NodeRecord> current = store.get(key, NodeRecord.parser());
      NodeRecord next = change.apply(current.value());
      if (next == null) {
        return current.value();
      }
      if (store.txn().requireUnchanged(current).put(key, next).commit()) {
        return next;
      }
    }
    throw new StoreUnavailableException("update of node " + nodeId + " kept conflicting", null);
  }

  /** Sets the node's state (UP, DRAINING, DOWN, QUARANTINED). */
  public NodeRecord setState(String nodeId, NodeState state) {
    return update(
        nodeId,
        r -> r == null || r.getState() == state ? null : r.toBuilder().setState(state).build());
  }

  /**
   * Renews the node's liveness lease (creating lease and key when there is none, e.g. after the
   * lease expired or the node is new). A node that was marked as having lost its lease gets its
   * loss time cleared.
   */
  public void heartbeat(String nodeId) {
    EtcdKeys.id("node id", nodeId);
    Long lease = leases.get(nodeId);
    if (lease == null) {
      long fromKey = store.leaseOf(keys.liveness(nodeId));
      lease = fromKey == 0 ? null : fromKey;
    }
    if (lease != null && store.keepAliveOnce(lease)) {
      leases.put(nodeId, lease);
      return;
    }
    long fresh = store.grantLease(leaseTtlSeconds);
    store.putWithLease(keys.liveness(nodeId), Long.toString(clock.millis()), fresh);
    leases.put(nodeId, fresh);
    update(
        nodeId,
        r ->
            r == null || r.getLeaseLostAtUnixMs() == 0
                ? null
                : r.toBuilder().setLeaseLostAtUnixMs(0).setLastSeenUnixMs(clock.millis()).build());
  }

  /** True while the node's liveness key exists (its lease has not expired). */
  public boolean isLive(String nodeId) {
    return store.getVersionedString(keys.liveness(nodeId)).exists();
  }

  /** Ids of the nodes whose liveness key exists. */
  public List<String> liveNodeIds() {
    List<String> out = new ArrayList<>();
    String prefix = keys.livenessAll();
    for (String k : store.keys(prefix)) {
      out.add(k.substring(prefix.length()));
    }
    return out;
  }

  /**
   * Calls {@code onChange(nodeId, live)} when a node's liveness key appears ({@code true}) or
   * disappears ({@code false}, its lease expired or was revoked).
   */
  public Watch.Watcher watchLiveness(BiConsumer<String, Boolean> onChange) {
    String prefix = keys.livenessAll();
    return store.watchPrefix(
        prefix,
        e -> {
          String key = e.getKeyValue().getKey().toString(StandardCharsets.UTF_8);
          String nodeId = key.substring(prefix.length());
          onChange.accept(nodeId, e.getEventType() == WatchEvent.EventType.PUT);
        });
  }

  /** A guarded transaction on the registry's etcd. */
  public EtcdStore.Txn txn() {
    return store.txn();
  }

  /** The node's record as stored, with its revision, for a guarded transaction. */
  public Versioned<NodeRecord> getVersioned(String nodeId) {
    return store.get(keys.node(EtcdKeys.id("node id", nodeId)), NodeRecord.parser());
  }

  /** The etcd key of the node's record. */
  public String nodeKey(String nodeId) {
    return keys.node(EtcdKeys.id("node id", nodeId));
  }

  /** The etcd key of the node's liveness. */
  public String livenessKey(String nodeId) {
    return keys.liveness(EtcdKeys.id("node id", nodeId));
  }

  /**
   * Adds to {@code txn} the creation of a new node's record ({@code reported} with the control
   * plane's fields set: UP, joined now, the lowest free placement slot, guarded so that no other
   * node takes the slot or the id meanwhile). Returns the record the transaction writes.
   */
  public NodeRecord addCreation(EtcdStore.Txn txn, NodeRecord reported) {
    String nodeId = EtcdKeys.id("node id", reported.getNodeId());
    java.util.Set<Integer> used = new java.util.HashSet<>();
    for (String k : store.keys(keys.slots())) {
      used.add(Integer.parseInt(k.substring(keys.slots().length())));
    }
    int slot = 0;
    while (used.contains(slot)) {
      slot++;
    }
    NodeRecord created =
        reported.toBuilder()
            .setSchemaVersion(SCHEMA_VERSION)
            .setState(NodeState.NODE_STATE_UP)
            .setJoinedAtUnixMs(clock.millis())
            .setLastSeenUnixMs(clock.millis())
            .setLeaseLostAtUnixMs(0)
            .setPlacementSlot(slot)
            .build();
    txn.requireAbsent(keys.node(nodeId))
        .requireAbsent(keys.slot(slot))
        .putString(keys.slot(slot), nodeId)
        .put(keys.node(nodeId), created);
    return created;
  }

  /** The id of the lease the node's liveness key is attached to, 0 when there is none. */
  public long livenessLease(String nodeId) {
    return store.leaseOf(keys.liveness(EtcdKeys.id("node id", nodeId)));
  }

  /**
   * Revokes a liveness lease (best effort: one that cannot be revoked expires on its own) and
   * forgets it if this process renews it for the node.
   */
  public void revokeLiveness(String nodeId, long lease) {
    leases.remove(nodeId, lease);
    if (lease != 0) {
      try {
        store.revokeLease(lease);
      } catch (StoreUnavailableException e) {
        // expires on its own
      }
    }
  }

  public Optional<NodeRecord> get(String nodeId) {
    return Optional.ofNullable(store.get(keys.node(nodeId), NodeRecord.parser()).value());
  }

  public List<NodeRecord> list() {
    List<NodeRecord> out = new ArrayList<>();
    for (Versioned<NodeRecord> v : store.list(keys.nodes(), NodeRecord.parser())) {
      out.add(v.value());
    }
    return out;
  }

  /**
   * Removes a node: its record and its liveness lease. Its certificates stay revoked by whoever
   * keeps the revocation list (the record's serials are returned for that).
   */
  public Optional<NodeRecord> remove(String nodeId) {
    Optional<NodeRecord> existing = get(nodeId);
    Long lease = leases.remove(nodeId);
    long l = lease != null ? lease : store.leaseOf(keys.liveness(nodeId));
    if (l != 0) {
      store.revokeLease(l);
    }
    EtcdStore.Txn txn = store.txn().delete(keys.node(nodeId)).delete(keys.liveness(nodeId));
    existing.ifPresent(r -> txn.delete(keys.slot(r.getPlacementSlot())));
    txn.commit();
    return existing;
  }
}
