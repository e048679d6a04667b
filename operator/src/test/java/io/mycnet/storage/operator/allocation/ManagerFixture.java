package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.KeyValueStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The allocation and replication stack of one control plane wired as the running control plane
 * wires it (registry, command queues, cluster view, the real placement planner), on a store chosen
 * by the test, with a clock the test moves and trust tiers the test sets. Nothing of ours is
 * replaced: only the trust engine's output is given as input (the trust engine is tested on its
 * own).
 */
public final class ManagerFixture implements AutoCloseable {
  public static final long GIB = 1L << 30;

  /**
   * Node leases outlive every clock move of a test: a node is silenced by revoking its lease (as a
   * node that stops heartbeating ends up), not by the lease timing out behind the test's back.
   */
  public static final Duration LEASE_TTL = Duration.ofDays(1);

  public final ManualClock clock = new ManualClock();
  public final KeyValueStore store;
  public final EtcdKeys keys;
  public final Trust trust = new Trust();
  public final Map<String, Double> overcommit = new ConcurrentHashMap<>();
  public final NodeRegistry registry;
  public final CommandQueue queue;
  public final ClusterViewCache cluster;
  public final TrustAwareStorageManager manager;
  public final ReplicationManager replication;
  public final ReplicaCreation creation;

  public ManagerFixture(
      Function<Clock, ? extends KeyValueStore> storeOf,
      String prefix,
      ReplicationManager.Settings settings) {
    this.store = storeOf.apply(clock);
    this.keys = new EtcdKeys(prefix);
    this.registry = new NodeRegistry(store, keys, clock, LEASE_TTL);
    this.queue = new CommandQueue(store, keys);
    this.cluster = new ClusterViewCache(store, keys, trust);
    ReplicaPlacer placer = new PlannerPlacement(r -> Set.of("default"));
    this.manager =
        new TrustAwareStorageManager(
            store, keys, queue, cluster, placer, this::overcommitOf, clock);
    this.replication =
        new ReplicationManager(
            store,
            keys,
            registry,
            queue,
            cluster,
            placer,
            trust,
            this::overcommitOf,
            settings,
            clock);
    this.creation =
        new ReplicaCreation(
            store,
            keys,
            queue,
            cluster,
            placer,
            this::overcommitOf,
            ReplicaCreation.DEFAULT_MAX_ATTEMPTS,
            clock);
  }

  private double overcommitOf(String pool) {
    return overcommit.getOrDefault(pool, 1.0);
  }

  /** A trust source of tiers the test sets; a node may be marked not known (not restored yet). */
  public static final class Trust implements NodeTrustSource {
    private final Map<String, NodeTrust> tiers = new ConcurrentHashMap<>();
    private final Set<String> unknown = ConcurrentHashMap.newKeySet();

    public void set(String nodeId, TrustTier tier, double score) {
      tiers.put(nodeId, new NodeTrust(tier, score));
      unknown.remove(nodeId);
    }

    public void forget(String nodeId) {
      unknown.add(nodeId);
    }

    @Override
    public NodeTrust trustOf(String nodeId) {
      return tiers.getOrDefault(nodeId, NodeTrust.UNKNOWN);
    }

    @Override
    public boolean known(String nodeId) {
      return tiers.containsKey(nodeId) && !unknown.contains(nodeId);
    }
  }

  /**
   * Registers {@code regions × zones × nodesPerZone} nodes of {@code capacityGib} each, all live,
   * with ids {@code n<region><zone><node>} and topology {@code region=r<r>/zone=z<r><z>/...}.
   */
  public List<String> nodes(
      int regions, int zones, int perZone, long capacityGib, TrustTier tier, double score) {
    List<String> ids = new ArrayList<>();
    for (int r = 0; r < regions; r++) {
      for (int z = 0; z < zones; z++) {
        for (int n = 0; n < perZone; n++) {
          String id = "n" + r + z + n;
          registry.register(
              NodeRecord.newBuilder()
                  .setNodeId(id)
                  .setTopologyPath(
                      "region=r" + r + "/zone=z" + r + z + "/rack=k" + r + z + "/node=" + id)
                  .setOwner("owner" + n)
                  .setCapacityBytes(capacityGib * GIB)
                  .setAddress("127.0.0.1:" + (7000 + ids.size()))
                  .build());
          trust.set(id, tier, score);
          registry.heartbeat(id);
          ids.add(id);
        }
      }
    }
    cluster.invalidate();
    return ids;
  }

  public void namespace(String ns, long quotaBytes, int quotaVolumes) {
    manager.putNamespace(
        NamespaceRecord.newBuilder()
            .setNamespace(ns)
            .setQuotaBytes(quotaBytes)
            .setQuotaVolumes(quotaVolumes)
            .build());
  }

  /** The node stops heartbeating and its lease is gone, as etcd ends it after the TTL. */
  public void silence(String nodeId) {
    registry.revokeLiveness(nodeId, registry.livenessLease(nodeId));
  }

  /** The node's agent heartbeats again. */
  public void revive(String nodeId) {
    registry.heartbeat(nodeId);
  }

  /**
   * Answers every pending create as the node's agent does once the replica exists, and acknowledges
   * it; returns how many.
   */
  public int confirmCreates() {
    return confirmCreates(node -> true);
  }

  /** As {@link #confirmCreates()}, for the creates on the nodes {@code onNode} accepts. */
  public int confirmCreates(java.util.function.Predicate<String> onNode) {
    int n = 0;
    for (NodeRecord r : registry.list()) {
      if (!onNode.test(r.getNodeId())) {
        continue;
      }
      for (NodeCommand c : queue.pending(r.getNodeId())) {
        if (c.hasCreateReplica()) {
          creation.onResult(r.getNodeId(), ok(c));
          queue.ack(r.getNodeId(), c.getCommandId());
          n++;
        }
      }
    }
    return n;
  }

  /** Reports every pending rebuild verified, as the target agents do; returns how many counted. */
  public int completeRebuilds() {
    int n = 0;
    for (NodeRecord node : registry.list()) {
      for (NodeCommand c : queue.pending(node.getNodeId())) {
        if (c.hasRebuildReplica()) {
          if (replication.completeRebuild(
              c.getRebuildReplica().getVolumeId(),
              node.getNodeId(),
              c.getRebuildReplica().getEpoch())) {
            n++;
          }
          queue.ack(node.getNodeId(), c.getCommandId());
        }
      }
    }
    return n;
  }

  public static CommandResult ok(NodeCommand c) {
    return CommandResult.newBuilder()
        .setCommandId(c.getCommandId())
        .setOk(true)
        .setMessage("created")
        .build();
  }

  public static CommandResult refused(NodeCommand c, String why) {
    return CommandResult.newBuilder()
        .setCommandId(c.getCommandId())
        .setOk(false)
        .setMessage(why)
        .build();
  }

  public Allocation volume(String volumeId) {
    return manager.get(volumeId).orElseThrow();
  }

  public Replica replicaOn(String volumeId, String nodeId) {
    return volume(volumeId).getReplicasList().stream()
        .filter(r -> r.getNodeId().equals(nodeId))
        .findFirst()
        .orElse(null);
  }

  /** Bytes reserved on the node by allocations. */
  public long reserved(String nodeId) {
    NodeUsage u = store.get(keys.nodeUsage(nodeId), NodeUsage.parser()).value();
    return u == null ? 0 : u.getReservedBytes();
  }

  /** The node's pending commands of one kind, in queue order. */
  public List<NodeCommand> pending(String nodeId, Function<NodeCommand, Boolean> kind) {
    return queue.pending(nodeId).stream().filter(kind::apply).toList();
  }

  /** The latest create queued to {@code nodeId} for {@code volumeId}. */
  public NodeCommand lastCreate(String nodeId, String volumeId) {
    return queue.pending(nodeId).stream()
        .filter(c -> c.hasCreateReplica() && c.getCreateReplica().getVolumeId().equals(volumeId))
        .reduce((x, y) -> y)
        .orElseThrow();
  }

  /** The fixture's store and bookkeeping agree (reservations, quota, commands). */
  public List<String> audit() {
    return AllocationAudit.check(store, keys);
  }

  @Override
  public void close() {
    cluster.close();
    if (store instanceof AutoCloseable c) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing the store failed", e);
      }
    }
  }

  /** A clock that moves only when the test moves it. */
  public static final class ManualClock extends Clock {
    private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

    public void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
