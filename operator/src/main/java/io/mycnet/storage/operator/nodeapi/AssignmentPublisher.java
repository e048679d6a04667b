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
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells every replica's node the volume's current epoch, primary, replica set (with data-port
 * addresses) and access (owner namespace, shares) with an {@code AssignReplica} command whenever an
 * allocation's epoch changes. Command ids are deterministic ({@code
 * assign:<volume>:<incarnation>:<epoch>:<node>}), so a restart or a second control plane queues
 * nothing twice that is still pending, and agents apply a repeat once. LOST replicas get nothing. A
 * write at the same epoch publishes nothing: agents treat a CREATING peer as a member until a later
 * epoch says otherwise, so a replica confirmed at epoch 1 needs no new assignment.
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

  /**
   * The epoch last published per volume (with its incarnation): a write that leaves the epoch as it
   * is (a replica confirmed, a state persisted) publishes nothing, since the assignment of an epoch
   * has one command id and an acknowledged id queued again would never be delivered in the session
   * that acknowledged it. Worker thread only.
   */
  private final java.util.Map<String, String> published = new java.util.HashMap<>();

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
                  worker.execute(
                      () -> {
                        String at = a.getIncarnation() + ":" + a.getEpoch();
                        if (!at.equals(published.put(a.getVolumeId(), at))) {
                          publish(a);
                        }
                      });
                } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                  LOG.error("unreadable allocation", ex);
                }
              } else if (e.getEventType() == WatchEvent.EventType.DELETE) {
                String key =
                    e.getKeyValue().getKey().toString(java.nio.charset.StandardCharsets.UTF_8);
                String id = key.substring(keys.allocations().length());
                worker.execute(() -> published.remove(id));
              }
            });
    worker.execute(
        () -> {
          for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
            String at = v.value().getIncarnation() + ":" + v.value().getEpoch();
            if (!at.equals(published.put(v.value().getVolumeId(), at))) {
              publish(v.value());
            }
          }
        });
    return this;
  }

  /** Queues the assignment of {@code a} to each of its replicas' nodes. */
  public void publish(Allocation a) {
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
      AssignReplica assign = b.build();
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
                        + r.getNodeId())
                .setIssuedAtUnixMs(clock.millis())
                .setAssignReplica(assign)
                .build());
      }
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
