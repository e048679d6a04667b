package io.mycnet.storage.operator.nodeapi;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.DeleteReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaInfo;
import io.mycnet.storage.api.v1.ReplicaInventory;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes replicas that no volume names. Every agent sends its full replica inventory after each
 * connect and each change ({@link #onInventory}); the latest one per connected node is kept. A pass
 * (on its own thread, only while {@code isLeader} holds) reads every allocation and, per node, the
 * commands pending in its queue. A replica in a node's inventory is <em>suspected</em> when its
 * volume has no allocation, or its allocation has no replica on that node, while no command for
 * that volume is pending in the node's queue and the volume is not being rebuilt. When a pass at
 * least {@code delay} after the suspicion still finds it so (same epoch), a {@code DeleteReplica}
 * at the replica's own epoch is queued for the node and logged at WARN. Anything else (named again,
 * a command pending, a rebuild, a new epoch, the node disconnected) ends the suspicion, so the
 * delay starts again. Suspicions live in memory only.
 */
public final class OrphanReplicaCollector implements NodeMeasurementListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OrphanReplicaCollector.class);

  /** A replica on {@code nodeId} that no allocation names, since {@code since}. */
  public record Suspect(String nodeId, String volumeId, long epoch, Instant since) {}

  /** A replica queued for deletion by a pass. */
  public record Removal(String nodeId, String volumeId, long epoch, String commandId) {}

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final CommandQueue queue;
  private final BooleanSupplier isLeader;
  private final Clock clock;
  private final Duration delay;
  private final Map<String, ReplicaInventory> inventories = new ConcurrentHashMap<>();
  private final Map<String, Suspect> suspects = new HashMap<>();
  private final AtomicLong removedTotal = new AtomicLong();
  private ScheduledExecutorService timer;

  public OrphanReplicaCollector(
      EtcdStore store,
      EtcdKeys keys,
      CommandQueue queue,
      BooleanSupplier isLeader,
      Clock clock,
      Duration delay) {
    if (delay.isNegative() || delay.isZero()) {
      throw new IllegalArgumentException("the orphan delay must be positive, was " + delay);
    }
    this.store = store;
    this.keys = keys;
    this.queue = queue;
    this.isLeader = isLeader;
    this.clock = clock;
    this.delay = delay;
  }

  /** Runs a pass every fifth of the delay (between 200 ms and 30 s). */
  public synchronized OrphanReplicaCollector start() {
    if (timer != null) {
      return this;
    }
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "orphan-replicas");
              t.setDaemon(true);
              return t;
            });
    long every = Math.max(200, Math.min(30_000, delay.toMillis() / 5));
    timer.scheduleWithFixedDelay(
        () -> {
          try {
            collect();
          } catch (RuntimeException e) {
            LOG.warn("orphan replica pass failed: {}", e.toString());
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
    return this;
  }

  @Override
  public void onInventory(String nodeId, ReplicaInventory inventory) {
    inventories.put(nodeId, inventory);
  }

  @Override
  public void onSessionClosed(String nodeId, Instant at, String reason) {
    inventories.remove(nodeId);
  }

  /** One pass (also run by the timer); returns the replicas it queued for deletion. */
  public synchronized List<Removal> collect() {
    if (!isLeader.getAsBoolean()) {
      suspects.clear();
      return List.of();
    }
    Map<String, ReplicaInventory> seen = Map.copyOf(inventories);
    Map<String, Allocation> allocations = new HashMap<>();
    for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
      allocations.put(v.value().getVolumeId(), v.value());
    }
    Instant now = clock.instant();
    List<Removal> removed = new ArrayList<>();
    Set<String> still = new HashSet<>();
    for (Map.Entry<String, ReplicaInventory> e : seen.entrySet()) {
      String nodeId = e.getKey();
      Set<String> pending = null;
      for (ReplicaInfo r : e.getValue().getReplicasList()) {
        Allocation a = allocations.get(r.getVolumeId());
        if (a != null && names(a, nodeId)) {
          continue;
        }
        if (a != null && rebuilding(a)) {
          continue;
        }
        if (pending == null) {
          pending = pendingVolumes(nodeId);
        }
        if (pending.contains(r.getVolumeId())) {
          continue;
        }
        String key = nodeId + "/" + r.getVolumeId();
        Suspect s = suspects.get(key);
        if (s == null || s.epoch() != r.getEpoch()) {
          suspects.put(key, new Suspect(nodeId, r.getVolumeId(), r.getEpoch(), now));
          still.add(key);
          LOG.info(
              "replica of {} on {} (epoch {}) is named by no volume: removed after {} unless it is"
                  + " claimed again",
              r.getVolumeId(),
              nodeId,
              r.getEpoch(),
              delay);
          continue;
        }
        if (Duration.between(s.since(), now).compareTo(delay) < 0) {
          still.add(key);
          continue;
        }
        String commandId =
            "gc-delete:"
                + r.getVolumeId()
                + ":"
                + r.getEpoch()
                + ":"
                + nodeId
                + ":"
                + now.toEpochMilli();
        queue.enqueue(
            nodeId,
            NodeCommand.newBuilder()
                .setCommandId(commandId)
                .setIssuedAtUnixMs(now.toEpochMilli())
                .setDeleteReplica(
                    DeleteReplica.newBuilder()
                        .setVolumeId(r.getVolumeId())
                        .setEpoch(r.getEpoch())
                        .setReason("orphan: no volume has named this replica since " + s.since()))
                .build());
        removedTotal.incrementAndGet();
        removed.add(new Removal(nodeId, r.getVolumeId(), r.getEpoch(), commandId));
        LOG.warn(
            "replica of {} on {} (epoch {}) named by no volume since {}: DeleteReplica queued",
            r.getVolumeId(),
            nodeId,
            r.getEpoch(),
            s.since());
      }
    }
    suspects.keySet().retainAll(still);
    return removed;
  }

  private static boolean names(Allocation a, String nodeId) {
    for (Replica r : a.getReplicasList()) {
      if (r.getNodeId().equals(nodeId)) {
        return true;
      }
    }
    return false;
  }

  private static boolean rebuilding(Allocation a) {
    if (a.getState() == VolumeState.VOLUME_STATE_REBUILDING) {
      return true;
    }
    for (Replica r : a.getReplicasList()) {
      if (r.getState() == ReplicaState.REPLICA_STATE_REBUILDING) {
        return true;
      }
    }
    return false;
  }

  /** The volumes named by a command pending in the node's queue, whatever its kind. */
  private Set<String> pendingVolumes(String nodeId) {
    Set<String> out = new HashSet<>();
    for (NodeCommand c : queue.pending(nodeId)) {
      for (Map.Entry<Descriptors.FieldDescriptor, Object> f : c.getAllFields().entrySet()) {
        if (f.getValue() instanceof Message m) {
          Descriptors.FieldDescriptor volume =
              m.getDescriptorForType().findFieldByName("volume_id");
          if (volume != null) {
            out.add((String) m.getField(volume));
          }
        }
      }
    }
    return out;
  }

  /** The replicas suspected now. */
  public synchronized List<Suspect> suspects() {
    return List.copyOf(suspects.values());
  }

  /** Replicas queued for deletion so far. */
  public long removedTotal() {
    return removedTotal.get();
  }

  public Duration delay() {
    return delay;
  }

  @Override
  public synchronized void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
