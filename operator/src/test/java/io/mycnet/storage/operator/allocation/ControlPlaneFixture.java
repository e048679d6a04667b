package io.mycnet.storage.operator.allocation;

import io.etcd.jetcd.Client;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One control plane's allocation stack over a real etcd, wired as the running control plane wires
 * it, with the trust tiers given as test input (the trust engine is tested on its own).
 */
public final class ControlPlaneFixture implements AutoCloseable {
  public static final long GIB = 1L << 30;

  public final Client client;
  public final EtcdStore store;
  public final EtcdKeys keys;
  public final NodeRegistry registry;
  public final CommandQueue queue;
  public final ClusterViewCache cluster;
  public final Map<String, NodeTrustSource.NodeTrust> trust = new ConcurrentHashMap<>();
  public final TrustAwareStorageManager manager;
  public final ReplicationManager replication;
  final ReplicaCreation creation;

  public ControlPlaneFixture(
      List<String> endpoints, String prefix, ReplicationManager.Settings settings) {
    this.client = Client.builder().endpoints(endpoints.toArray(String[]::new)).build();
    this.store = new EtcdStore(client, Duration.ofSeconds(5));
    this.keys = new EtcdKeys(prefix);
    this.registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(2));
    this.queue = new CommandQueue(store, keys);
    NodeTrustSource trustSource = id -> trust.getOrDefault(id, NodeTrustSource.NodeTrust.UNKNOWN);
    this.cluster = new ClusterViewCache(store, keys, trustSource);
    ReplicaPlacer placer = new PlannerPlacement(r -> java.util.Set.of("default"));
    this.manager =
        new TrustAwareStorageManager(
            store, keys, queue, cluster, placer, p -> 1.0, Clock.systemUTC());
    this.replication =
        new ReplicationManager(
            store,
            keys,
            registry,
            queue,
            cluster,
            placer,
            trustSource,
            p -> 1.0,
            settings,
            Clock.systemUTC());
    this.creation =
        new ReplicaCreation(
            store,
            keys,
            queue,
            cluster,
            placer,
            p -> 1.0,
            ReplicaCreation.DEFAULT_MAX_ATTEMPTS,
            Clock.systemUTC());
  }

  /**
   * Answers every queued CreateReplica as the node's agent does once the replica exists: its ok
   * result goes to {@link ReplicaCreation#onResult} and the command is acknowledged. These tests
   * run no agents (the data-path ITs do); returns how many were answered.
   */
  public int confirmCreates() {
    int n = 0;
    for (NodeRecord r : registry.list()) {
      for (NodeCommand c : queue.pending(r.getNodeId())) {
        if (c.hasCreateReplica()) {
          creation.onResult(
              r.getNodeId(),
              CommandResult.newBuilder()
                  .setCommandId(c.getCommandId())
                  .setOk(true)
                  .setMessage("created")
                  .build());
          queue.ack(r.getNodeId(), c.getCommandId());
          n++;
        }
      }
    }
    return n;
  }

  public ControlPlaneFixture(List<String> endpoints, String prefix) {
    this(endpoints, prefix, new ReplicationManager.Settings(Duration.ZERO, 2, 8));
  }

  /** Registers {@code regions × zones × racks × nodesPerRack} nodes of {@code capacityGib}. */
  public void registerNodes(
      int regions,
      int zones,
      int racks,
      int perRack,
      long capacityGib,
      TrustTier tier,
      double score) {
    for (int r = 0; r < regions; r++) {
      for (int z = 0; z < zones; z++) {
        for (int k = 0; k < racks; k++) {
          for (int n = 0; n < perRack; n++) {
            String id = "n" + r + z + k + n;
            registry.register(
                NodeRecord.newBuilder()
                    .setNodeId(id)
                    .setTopologyPath(
                        "region=r" + r + "/zone=z" + r + z + "/rack=k" + r + z + k + "/node=" + id)
                    .setOwner("owner" + (n % 3))
                    .setCapacityBytes(capacityGib * GIB)
                    .setAddress("127.0.0.1:0")
                    .build());
            trust.put(id, new NodeTrustSource.NodeTrust(tier, score));
          }
        }
      }
    }
    cluster.invalidate();
  }

  public void namespace(String ns, long quotaBytes, int quotaVolumes) {
    manager.putNamespace(
        NamespaceRecord.newBuilder()
            .setNamespace(ns)
            .setQuotaBytes(quotaBytes)
            .setQuotaVolumes(quotaVolumes)
            .build());
  }

  @Override
  public void close() {
    cluster.close();
    client.close();
  }
}
