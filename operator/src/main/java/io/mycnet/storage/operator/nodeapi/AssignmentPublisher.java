package io.mycnet.storage.operator.nodeapi;

import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.operator.allocation.CommandQueue;
import io.mycnet.storage.operator.allocation.EtcdKeys;
import io.mycnet.storage.operator.allocation.EtcdStore;
import io.mycnet.storage.operator.allocation.NodeRegistry;
import io.mycnet.storage.operator.allocation.Versioned;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells every replica's node the volume's current epoch, primary, replica set with each replica's
 * state (HEALTHY ones are in sync; agents refuse reads from any other) and data-port address, and
 * access (owner namespace, shares) with an {@code AssignReplica} command whenever any of that
 * changes: a new epoch, and also a replica marked STALE or made HEALTHY at the same epoch. Each
 * assignment carries the allocation's store revision, which orders assignments of one epoch.
 * Command ids are deterministic ({@code assign:<volume>:<incarnation>:<epoch>:<node>:<revision>}),
 * so a restart or a second control plane queues nothing twice that is still pending, and agents
 * apply a repeat once; a change back to an earlier content is a new revision, hence a new command.
 * LOST replicas get nothing.
 */
public final class AssignmentPublisher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AssignmentPublisher.class);
  private final EtcdStore store;
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
  private Watch.Watcher watcher;
  // Per volume: the revision and content (without revision) last published. Worker thread only.
  private final java.util.Map<String, Published> published = new java.util.HashMap<>();

  private record Published(long revision, AssignReplica content) {}

  public AssignmentPublisher(
      EtcdStore store, EtcdKeys keys, CommandQueue queue, NodeRegistry registry, Clock clock) {
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
              if (e.getEventType() == WatchEvent.EventType.PUT) {
                try {
                  Allocation a = Allocation.parseFrom(e.getKeyValue().getValue().getBytes());
                  long revision = e.getKeyValue().getModRevision();
                  worker.execute(() -> publish(a, revision));
                } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                  LOG.error("unreadable allocation", ex);
                }
              } else if (e.getEventType() == WatchEvent.EventType.DELETE) {
                String key = e.getKeyValue().getKey().toString(StandardCharsets.UTF_8);
                String volume = key.substring(Math.min(key.length(), keys.allocations().length()));
                worker.execute(() -> published.remove(volume));
              }
            });
    worker.execute(
        () -> {
          for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
            publish(v.value(), v.modRevision());
          }
        });
    return this;
  }

  /**
   * Queues the assignment of {@code a}, read at store revision {@code revision}, to each of its
   * replicas' nodes, unless an assignment of the same content or of a newer revision was published.
   */
  void publish(Allocation a, long revision) {
    try {
      AssignReplica.Builder b =
          AssignReplica.newBuilder()
              .setVolumeId(a.getVolumeId())
              .setEpoch(a.getEpoch())
              .setSizeBytes(a.getSizeBytes())
              .setConsistency(a.getConsistency())
              .setPrimaryNodeId(a.getPrimaryNodeId())
              .setNamespace(a.getNamespace());
      Versioned<NamespaceRecord> ns =
          store.get(keys.namespace(a.getNamespace()), NamespaceRecord.parser());
      if (ns.exists()) {
        b.addAllGrants(ns.value().getSharesList());
      }
      for (Replica r : a.getReplicasList()) {
        String address = registry.get(r.getNodeId()).map(NodeRecord::getAddress).orElse("");
        b.addPeers(
            ReplicaMember.newBuilder()
                .setNodeId(r.getNodeId())
                .setAddress(address)
                .setState(r.getState()));
      }
      AssignReplica content = b.build();
      Published last = published.get(a.getVolumeId());
      if (last != null && (last.revision() >= revision || last.content().equals(content))) {
        return;
      }
      AssignReplica assign = content.toBuilder().setRevision(revision).build();
      for (Replica r : a.getReplicasList()) {
        if (r.getState() == ReplicaState.REPLICA_STATE_LOST) {
          continue;
        }
        queue.enqueue(
            r.getNodeId(),
            NodeCommand.newBuilder()
                .setCommandId(
                    "assign:"
                        + a.getVolumeId()
                        + ":"
                        + a.getIncarnation()
                        + ":"
                        + a.getEpoch()
                        + ":"
                        + r.getNodeId()
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
    worker.shutdownNow();
  }
}
