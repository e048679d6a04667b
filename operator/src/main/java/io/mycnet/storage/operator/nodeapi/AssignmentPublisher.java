package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.allocation.Assignments;
import io.mycnet.storage.operator.allocation.ShareGrants;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.StoreWatch;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells every replica's node the volume's current epoch, primary, replica set with each replica's
 * state (HEALTHY ones are in sync; agents refuse reads from any other) and data-port address, and
 * access (owner namespace, and the shares of the volume's claim only: {@link ShareGrants}, and the
 * attached nodes) with an {@code AssignReplica} command ({@link Assignments}) whenever any of that
 * changes: a new epoch, a replica marked STALE or made HEALTHY at the same epoch, an attach, detach
 * or fence, and a change of the owner's shares (the owner's namespace record is watched too; a
 * share added, removed or narrowed reaches every volume of the owner whose grants it changes, at
 * the same epoch). Each assignment carries the newest store revision of its inputs (allocation,
 * namespace record), which orders assignments of one epoch. Command ids are deterministic ({@code
 * assign:<volume>:<incarnation>:<epoch>:<node>:<revision>}), so a restart or a second control plane
 * queues nothing twice that is still pending, and agents apply a repeat once; a change back to an
 * earlier content is a new revision, hence a new command. Every attached node gets the assignment
 * too, so that its block frontend follows the primary. LOST replicas get nothing, and neither does
 * a node whose attachment ended.
 */
public final class AssignmentPublisher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AssignmentPublisher.class);
  private final KeyValueStore store;
  private final EtcdKeys keys;
  private final CommandQueue queue;
  private final NodeRegistry registry;
  private final Clock clock;
  private final ExecutorService worker =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "assignments");
            t.setDaemon(true);
            return t;
          });
  private StoreWatch watcher;
  private StoreWatch namespaceWatcher;
  // Per namespace: the store revision its record was removed at (while it stays removed).
  private final Map<String, Long> removedAt = new HashMap<>();
  // Per volume: the revision and content (without revision) last published. Worker thread only.
  private final Map<String, Published> published = new HashMap<>();

  private record Published(long revision, AssignReplica content) {}

  public AssignmentPublisher(
      KeyValueStore store, EtcdKeys keys, CommandQueue queue, NodeRegistry registry, Clock clock) {
    this.store = store;
    this.keys = keys;
    this.queue = queue;
    this.registry = registry;
    this.clock = clock;
  }

  public AssignmentPublisher start() {
    watcher =
        store.watchPrefix(
            keys.allocations(),
            e -> {
              String key = e.key();
              String volume = key.substring(Math.min(key.length(), keys.allocations().length()));
              if (e.isPut()) {
                try {
                  Allocation a = Allocation.parseFrom(e.value());
                  worker.execute(() -> publishVolume(volume, a.getNamespace()));
                } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                  LOG.error("unreadable allocation", ex);
                }
              } else if (e.isDelete()) {
                worker.execute(() -> published.remove(volume));
              }
            });
    namespaceWatcher =
        store.watchPrefix(
            keys.namespaces(),
            e -> {
              String key = e.key();
              String ns = key.substring(Math.min(key.length(), keys.namespaces().length()));
              long removed = e.isDelete() ? e.revision() : 0;
              worker.execute(() -> publishNamespace(ns, removed));
            });
    worker.execute(this::publishAll);
    return this;
  }

  /** Publishes every volume from one consistent read of the allocations and namespace records. */
  private void publishAll() {
    try {
      List<List<Versioned<byte[]>>> snap =
          store.listAllRaw(List.of(keys.allocations(), keys.namespaces()));
      Map<String, Versioned<NamespaceRecord>> owners = new HashMap<>();
      for (Versioned<byte[]> raw : snap.get(1)) {
        Versioned<NamespaceRecord> n = KeyValueStore.parse(raw, NamespaceRecord.parser());
        owners.put(n.value().getNamespace(), n);
      }
      for (Versioned<byte[]> raw : snap.get(0)) {
        Versioned<Allocation> a = KeyValueStore.parse(raw, Allocation.parser());
        publish(a, owners.get(a.value().getNamespace()), a.value().getNamespace());
      }
    } catch (RuntimeException e) {
      LOG.warn("cannot publish the assignments: {}", e.toString());
    }
  }

  /** Publishes one volume from one consistent read of its allocation and its owner's record. */
  private void publishVolume(String volumeId, String namespace) {
    try {
      List<Versioned<byte[]>> raw =
          store.getAllRaw(List.of(keys.allocation(volumeId), keys.namespace(namespace)));
      Versioned<Allocation> a = KeyValueStore.parse(raw.get(0), Allocation.parser());
      if (!a.exists()) {
        return;
      }
      if (!a.value().getNamespace().equals(namespace)) {
        publishVolume(volumeId, a.value().getNamespace());
        return;
      }
      Versioned<NamespaceRecord> n = KeyValueStore.parse(raw.get(1), NamespaceRecord.parser());
      publish(a, n.exists() ? n : null, namespace);
    } catch (RuntimeException e) {
      LOG.warn("cannot publish the assignment of {}: {}", volumeId, e.toString());
    }
  }

  /**
   * A namespace record changed (its shares, say) or was removed at store revision {@code removed}:
   * every volume it owns gets a new assignment, from one consistent read.
   */
  private void publishNamespace(String namespace, long removed) {
    if (removed > 0) {
      removedAt.merge(namespace, removed, Math::max);
    } else {
      removedAt.remove(namespace);
    }
    try {
      String key = keys.namespace(namespace);
      List<List<Versioned<byte[]>>> snap = store.listAllRaw(List.of(keys.allocations(), key));
      Versioned<NamespaceRecord> owner =
          snap.get(1).stream()
              .filter(v -> v.key().equals(key))
              .findFirst()
              .map(v -> KeyValueStore.parse(v, NamespaceRecord.parser()))
              .orElse(null);
      for (Versioned<byte[]> raw : snap.get(0)) {
        Versioned<Allocation> a = KeyValueStore.parse(raw, Allocation.parser());
        if (a.value().getNamespace().equals(namespace)) {
          publish(a, owner, namespace);
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("cannot publish the assignments of namespace {}: {}", namespace, e.toString());
    }
  }

  /**
   * Queues the assignment of allocation {@code av} with the grants of its owner's record {@code
   * owner} (null: none), both read at one store revision, to each of its replicas' nodes and each
   * attached node, unless an assignment of the same content or of a newer revision was published.
   * The assignment's revision is the newest of the allocation's and the owner record's (or its
   * removal's) store revisions: a change of either makes a newer one, and the same inputs always
   * the same one.
   */
  void publish(Versioned<Allocation> av, Versioned<NamespaceRecord> owner, String namespace) {
    Allocation a = av.value();
    long revision =
        Math.max(
            av.modRevision(),
            owner != null ? owner.modRevision() : removedAt.getOrDefault(namespace, 0L));
    try {
      AssignReplica content =
          Assignments.content(
              a,
              owner == null ? null : owner.value(),
              id -> registry.get(id).map(NodeRecord::getAddress).orElse(""));
      Published last = published.get(a.getVolumeId());
      if (last != null && (last.revision() >= revision || last.content().equals(content))) {
        return;
      }
      AssignReplica assign = content.toBuilder().setRevision(revision).build();
      for (String node : Assignments.recipients(a)) {
        queue.enqueue(
            node,
            NodeCommand.newBuilder()
                .setCommandId(
                    "assign:"
                        + a.getVolumeId()
                        + ":"
                        + a.getIncarnation()
                        + ":"
                        + a.getEpoch()
                        + ":"
                        + node
                        + ":"
                        + revision)
                .setIssuedAtUnixMs(clock.millis())
                .setAssignReplica(assign)
                .build());
      }
      published.put(a.getVolumeId(), new Published(revision, content));
    } catch (RuntimeException e) {
      LOG.warn("cannot publish the assignment of {}: {}", a.getVolumeId(), e.toString());
    }
  }

  @Override
  public void close() {
    if (watcher != null) {
      watcher.close();
    }
    if (namespaceWatcher != null) {
      namespaceWatcher.close();
    }
    worker.shutdownNow();
  }
}
