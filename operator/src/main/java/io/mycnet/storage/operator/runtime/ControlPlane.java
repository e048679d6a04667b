package io.mycnet.storage.operator.runtime;

import io.etcd.jetcd.Client;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.PlannerPlacement;
import io.mycnet.storage.operator.allocation.ReplicaCreation;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.attachment.AttachmentService;
import io.mycnet.storage.operator.attachment.ClaimVolumes;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.pool.PoolDirectoryRules;
import io.mycnet.storage.operator.pool.PoolScopedPlacer;
import io.mycnet.storage.operator.reconciler.AllocationEvents;
import io.mycnet.storage.operator.reconciler.ReplicationTrigger;
import io.mycnet.storage.operator.reconciler.storageclaim.VolumeIds;
import io.mycnet.storage.operator.reconciler.storagepool.StoragePoolMapper;
import io.mycnet.storage.operator.replication.ReplicationLoop;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.trust.TrustEngine;
import java.time.Clock;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
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

  private final KeyValueStore store;
  private final EtcdKeys keys;
  private final NodeRegistry registry;
  private final CommandQueue queue;
  private final TrustEngine trustEngine;
  private final TrustPersistence trustPersistence;
  private final NodeTrustSource trust;
  private final PoolDirectory pools;
  private final ClusterViewCache cluster;
  private final TrustAwareStorageManager manager;
  private final ReplicationManager replication;
  private final ReplicaCreation creation;
  private final AttachmentService attachments;
  private final ReplicationLoop replicationLoop;
  private final AllocationEvents allocationEvents;
  private final ReplicationTrigger replicationTrigger;
  private final BooleanSupplier isLeader;
  private final Duration orphanGcDelay;

  /**
   * A control plane over {@code etcd} with {@code settings}; the builder's defaults are the
   * production ones (system clock, the default trust policy, always leader).
   */
  public static Builder builder(Client etcd, OperatorSettings settings) {
    return new Builder(etcd, settings);
  }

  /** The parts of a control plane a caller (a test, local mode) may choose. */
  public static final class Builder {
    private final Client etcd;
    private final OperatorSettings settings;
    private Clock clock = Clock.systemUTC();
    private TrustEngine trustEngine;
    private Function<ControlPlane, NodeTrustSource> trustSource;
    private BooleanSupplier isLeader = () -> true;

    private Builder(Client etcd, OperatorSettings settings) {
      this.etcd = etcd;
      this.settings = settings;
    }

    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** The trust engine (default: a new one under the default policy on the builder's clock). */
    public Builder trustEngine(TrustEngine trustEngine) {
      this.trustEngine = trustEngine;
      return this;
    }

    /**
     * What placement and replication read a node's trust from (default: the trust engine once its
     * persisted evidence is restored, {@link EngineTrustSource}).
     */
    public Builder trustSource(NodeTrustSource trustSource) {
      this.trustSource = cp -> trustSource;
      return this;
    }

    /** Whether this control plane may act (default: always; the replication loop checks it). */
    public Builder isLeader(BooleanSupplier isLeader) {
      this.isLeader = isLeader;
      return this;
    }

    public ControlPlane build() {
      TrustEngine engine =
          trustEngine != null
              ? trustEngine
              : new TrustEngine(io.mycnet.storage.operator.trust.TrustPolicy.defaults(), clock);
      return new ControlPlane(this, engine);
    }
  }

  private ControlPlane(Builder b, TrustEngine trustEngine) {
    OperatorSettings settings = b.settings;
    Clock clock = b.clock;
    this.isLeader = b.isLeader;
    this.orphanGcDelay = settings.orphanGcDelay();
    this.store = new EtcdStore(b.etcd, Duration.ofSeconds(5));
    this.keys = new EtcdKeys(settings.etcdPrefix());
    this.registry = new NodeRegistry(store, keys, clock, settings.nodeLeaseTtl());
    this.queue = new CommandQueue(store, keys);
    this.trustEngine = trustEngine;
    this.trustPersistence =
        new TrustPersistence(
            store, keys, trustEngine, isLeader, TrustPersistence.Settings.defaults());
    this.trust =
        b.trustSource != null
            ? b.trustSource.apply(this)
            : new EngineTrustSource(trustEngine, trustPersistence::restored);
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
                true,
                settings.nodeLeaseTtl()),
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
    this.attachments =
        new AttachmentService(store, keys, registry, queue, trust, CLAIM_VOLUMES, clock);
    replication.fenceAttachmentsWith(attachments);
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

  /** The etcd store every part of this control plane writes through. */
  public KeyValueStore store() {
    return store;
  }

  /** The etcd key layout under the configured prefix. */
  public EtcdKeys keys() {
    return keys;
  }

  /** The nodes: records and liveness leases. */
  public NodeRegistry registry() {
    return registry;
  }

  /** The per-node command queues. */
  public CommandQueue queue() {
    return queue;
  }

  /** The trust engine the node API feeds. */
  public TrustEngine trustEngine() {
    return trustEngine;
  }

  /** The trust evidence persisted in etcd and restored before any decision. */
  public TrustPersistence trustPersistence() {
    return trustPersistence;
  }

  /** What placement and replication read a node's trust from. */
  public NodeTrustSource trust() {
    return trust;
  }

  /** The StoragePools as reconciled. */
  public PoolDirectory pools() {
    return pools;
  }

  /** The cached view of nodes and their trust that placement reads. */
  public ClusterViewCache cluster() {
    return cluster;
  }

  /** Allocation and accounting of volumes. */
  public TrustAwareStorageManager manager() {
    return manager;
  }

  /** Keeps every volume's redundancy. */
  public ReplicationManager replication() {
    return replication;
  }

  /** Confirms created replicas from the agents' results, retries and re-places refused ones. */
  public ReplicaCreation creation() {
    return creation;
  }

  /** Attaches, detaches and fences volumes on nodes' block frontends. */
  public AttachmentService attachments() {
    return attachments;
  }

  /** A claim's volume is named by the claim reconciler's rule ({@link VolumeIds}). */
  static final ClaimVolumes CLAIM_VOLUMES =
      new ClaimVolumes() {
        @Override
        public String volumeOf(String namespace, String claim) {
          return VolumeIds.of(namespace, claim);
        }

        @Override
        public java.util.Optional<String> claimOf(String volumeId) {
          return VolumeIds.claimOf(volumeId)
              .map(r -> r.getNamespace().orElse("") + "/" + r.getName());
        }
      };

  /** Runs the replication manager's passes. */
  public ReplicationLoop replicationLoop() {
    return replicationLoop;
  }

  /** Allocation changes for the reconcilers. */
  public AllocationEvents allocationEvents() {
    return allocationEvents;
  }

  /** Pool and tier changes to the replication loop. */
  public ReplicationTrigger replicationTrigger() {
    return replicationTrigger;
  }

  /** Whether this control plane may act (leads); the garbage collectors check it too. */
  public BooleanSupplier isLeader() {
    return isLeader;
  }

  /** How long a volume without a claim, or a replica no volume names, waits to be removed. */
  public Duration orphanGcDelay() {
    return orphanGcDelay;
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
