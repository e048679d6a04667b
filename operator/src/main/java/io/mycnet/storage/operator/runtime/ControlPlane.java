package io.mycnet.storage.operator.runtime;

import io.etcd.jetcd.Client;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.PlannerPlacement;
import io.mycnet.storage.operator.allocation.ReplicaCreation;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.pool.PoolDirectoryRules;
import io.mycnet.storage.operator.pool.PoolScopedPlacer;
import io.mycnet.storage.operator.reconciler.AllocationEvents;
import io.mycnet.storage.operator.reconciler.ReplicationTrigger;
import io.mycnet.storage.operator.reconciler.storagepool.StoragePoolMapper;
import io.mycnet.storage.operator.replication.ReplicationLoop;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.trust.TrustEngine;
import java.time.Clock;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The domain services of one control plane over etcd, wired once: store, node registry, command
 * queues, the trust engine as the node trust source (its evidence persisted in etcd and restored
 * before any decision, {@link TrustPersistence}), the pool directory scoping placement (the {@code
 * placement} package's planner through {@link PlannerPlacement}), the allocation manager, the
 * confirmation of created replicas ({@link ReplicaCreation}), and the replication manager with its
 * loop. The reconcilers are built on top ({@link OperatorRuntime}).
 */
public final class ControlPlane implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ControlPlane.class);

  public final EtcdStore store;
  public final EtcdKeys keys;
  public final NodeRegistry registry;
  public final CommandQueue queue;
  public final TrustEngine trustEngine;
  public final TrustPersistence trustPersistence;
  public final NodeTrustSource trust;
  public final PoolDirectory pools;
  public final ClusterViewCache cluster;
  public final TrustAwareStorageManager manager;
  public final ReplicationManager replication;

  /** Confirms created replicas from the agents' results, retries and re-places refused ones. */
  public final ReplicaCreation creation;

  public final ReplicationLoop replicationLoop;
  public final AllocationEvents allocationEvents;
  public final ReplicationTrigger replicationTrigger;

  /** Whether this control plane may act (leads); the garbage collectors check it too. */
  public final BooleanSupplier isLeader;

  /** How long a volume without a claim, or a replica no volume names, waits to be removed. */
  public final Duration orphanGcDelay;

  /**
   * @param isLeader whether this control plane may act (the replication loop checks it)
   */
  public ControlPlane(
      Client etcd,
      OperatorSettings settings,
      Clock clock,
      TrustEngine trustEngine,
      BooleanSupplier isLeader) {
    this.isLeader = isLeader;
    this.orphanGcDelay = settings.orphanGcDelay();
    this.store = new EtcdStore(etcd, Duration.ofSeconds(5));
    this.keys = new EtcdKeys(settings.etcdPrefix());
    this.registry = new NodeRegistry(store, keys, clock, settings.nodeLeaseTtl());
    this.queue = new CommandQueue(store, keys);
    this.trustEngine = trustEngine;
    this.trustPersistence =
        new TrustPersistence(
            store, keys, trustEngine, isLeader, TrustPersistence.Settings.defaults());
    this.trust = new EngineTrustSource(trustEngine, trustPersistence::restored);
    this.pools = new PoolDirectory();
    this.cluster = new ClusterViewCache(store, keys, trust);
    ReplicaPlacer scoped = new PoolScopedPlacer(pools, new PlannerPlacement(pools::poolsOf));
    this.manager =
        new TrustAwareStorageManager(store, keys, queue, cluster, scoped, pools::overcommit, clock);
    this.replication =
        new ReplicationManager(
            store,
            keys,
            registry,
            queue,
            cluster,
            scoped,
            trust,
            pools::overcommit,
            new ReplicationManager.Settings(
                settings.downGracePeriod(),
                StoragePoolMapper.DEFAULT_REBUILDS_PER_NODE,
                StoragePoolMapper.DEFAULT_REBUILDS_PER_POOL,
                reconnectWindow(settings),
                settings.massFailureShare(),
                true),
            new PoolDirectoryRules(pools),
            clock);
    this.creation =
        new ReplicaCreation(
            store,
            keys,
            queue,
            cluster,
            scoped,
            pools::overcommit,
            ReplicaCreation.DEFAULT_MAX_ATTEMPTS,
            clock);
    this.replicationLoop =
        new ReplicationLoop(replication, registry, isLeader, settings.replicationInterval());
    replicationLoop.alsoEachPass(creation::replaceRefused);
    this.allocationEvents = new AllocationEvents(manager);
    ReplicationLoop loop = replicationLoop;
    this.replicationTrigger =
        new ReplicationTrigger() {
          @Override
          public void poolChanged(String pool) {
            loop.trigger();
          }

          @Override
          public void tierChanged(String nodeId) {
            loop.tierChanged(nodeId);
          }
        };
  }

  /**
   * How long a control plane that starts acting gives agents to reconnect before a silent node's
   * grace period may start: one lease TTL (an agent notices a dead session within three heartbeat
   * intervals, which is less) plus 15 s (agents retry at least every 5 s).
   */
  public static Duration reconnectWindow(OperatorSettings settings) {
    return settings.nodeLeaseTtl().plusSeconds(15);
  }

  /**
   * Restores the persisted trust evidence (when leader; otherwise the first tick after election
   * does), then starts trust persistence, the etcd watches and the replication loop.
   */
  public void start() {
    if (isLeader.getAsBoolean()) {
      try {
        trustPersistence.restore();
      } catch (RuntimeException e) {
        LOG.warn("trust not restored yet, retrying: {}", e.getMessage());
      }
    }
    trustPersistence.start();
    allocationEvents.start();
    replicationLoop.start();
  }

  /**
   * For the readiness probe: null when this control plane may act on trust (it restored the
   * persisted evidence, or it is not the leader and acts on nothing), else why not.
   */
  public String trustReadiness() {
    return !isLeader.getAsBoolean() || trustPersistence.restored()
        ? null
        : "trust evidence not restored from etcd yet";
  }

  @Override
  public void close() {
    replicationLoop.close();
    trustPersistence.close();
    allocationEvents.close();
    cluster.close();
  }
}
