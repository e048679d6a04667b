package io.mycnet.storage.bench.datapath;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.bench.support.BenchMain;
import io.mycnet.storage.bench.support.ProductionControlPlane;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.common.settings.ByteSize;
import io.mycnet.storage.local.EtcdCluster;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.PlannerPlacement;
import io.mycnet.storage.operator.allocation.ReplicaPlacer;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.KeyValueStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Data path throughput, every figure next to a baseline measured in the same run.
 *
 * <ol>
 *   <li>A real etcd, the production control plane process ({@code OperatorMain}, {@link
 *       ProductionControlPlane}) and four agent processes ({@code NodeAgentMain}, four zones) on
 *       loopback, run with the JVM options of the agent DaemonSet ({@link #AGENT_JVM}); every node
 *       brings a vetted history (CRITICAL); the benchmark drives allocation and the replication
 *       manager against the same etcd as the operator would, and talks to the agents' data ports as
 *       a {@code client:<namespace>} over mutual TLS.
 *   <li>I/O: a 1-replica volume (written straight into etcd: no storage type allows fewer than 2
 *       replicas), a 3-replica STRONG and a 3-replica EVENTUAL volume, one synchronous client
 *       (queue depth 1) on the primary: 1 MiB sequential writes, 4 KiB random writes, 4 KiB random
 *       reads, 1 MiB sequential reads, each bounded in count and time. Replicated figures are
 *       printed as ratios of the 1-replica ones. A fifth agent runs with {@code
 *       encryption-at-rest=true} in a pool of its own (so no other volume lands there) and holds a
 *       1-replica volume too: its figures are printed as ratios of the plain 1-replica ones.
 *   <li>(a) Dense rebuild: a 2-replica volume filled with {@code --rebuild-size} (256 MiB; {@code
 *       --rebuild-size=1GiB} for 1 GiB) of data, its follower SIGKILLed, the replication manager
 *       starts a rebuild onto a spare node; timed from the rebuild decision to the agent's "rebuild
 *       complete". Baseline: {@link FileCopyMain}, a file of the same size read from this disk and
 *       copied over a plain TCP socket into a file on this disk by another JVM, fdatasync'd every
 *       64 MiB or each second and at the end (the durability of a rebuild target; median of three).
 *       Informational: {@link SocketCopyMain}, the same bytes from memory to memory (median of
 *       three). The killed agent is started again afterwards (as is every agent a later phase
 *       kills), so each phase has the four nodes.
 *   <li>(d) Sparse rebuild: a 2-replica volume of {@code --sparse-size} (default 8 GiB, to keep the
 *       run short; the figure of the issue is for 50 GiB) holding 64 MiB of non-overlapping writes
 *       of 4 KiB to 1 MiB at random places, rebuilt the same way; baseline: the rebuild of a dense
 *       64 MiB volume of the same run.
 *   <li>(e) Restarted follower: a 3-replica STRONG volume, one follower's agent SIGKILLed, 10 s of
 *       random 4 KiB writes on the primary, the agent started again on its data directory; the
 *       control plane takes its replica back and it catches up. Figure: the bytes its catch-up
 *       copied (its log line {@code rebuild of VOL complete (N bytes, M of them copied, ...)})
 *       against the bytes written while it was down.
 * </ol>
 *
 * Every process started is stopped by PID at the end, also on failure; a watchdog ends the run
 * after {@code --limit-s} (default 480 s).
 */
public final class DataPathBenchmark {
  static final String TOKEN = "bench0.0123456789abcdef";
  static final String OWNER = "app";
  static final String PREFIX = "/mycnet";
  static final List<String> NODES = List.of("b1", "b2", "b3", "b4");
  static final String ENCRYPTED_NODE = "b5";
  static final String ENCRYPTED_POOL = "encrypted";
  static final long IO_VOLUME = 128L << 20;

  /**
   * The agent DaemonSet (config/agent/daemonset.yaml) runs {@code java -XX:MaxRAMPercentage=75}
   * under a memory limit of 512Mi. Outside a container the JVM would take 75 % of this machine's
   * memory, so the limit is given as {@code -XX:MaxRAM}: a 384 MiB heap, as in the pod. In the pod
   * the JVM sees 512 MiB of physical memory, below the 1792 MiB of a "server class machine", and
   * picks the serial collector: so do the agents here.
   */
  static final List<String> AGENT_JVM =
      List.of("-XX:MaxRAM=512m", "-XX:MaxRAMPercentage=75", "-XX:+UseSerialGC");

  /** What the sparse volume holds, and the size of the dense volume it is compared with. */
  static final long SPARSE_DATA = 64L << 20;

  /** How long the restarted follower's volume is written while its agent is down. */
  static final double RESTART_WRITE_SECONDS = 10;

  /** The agents' log line at the end of a rebuild (Rebuilder). */
  static final Pattern REBUILD_DONE =
      Pattern.compile("rebuild of (\\S+) complete \\((\\d+) bytes, (\\d+) of them copied");

  private final List<ChildProcess> processes = new CopyOnWriteArrayList<>();
  private final Map<String, ChildProcess> agents = new ConcurrentHashMap<>();

  /** Each agent's current log (an agent started again logs to a new file). */
  private final Map<String, Path> agentLogs = new ConcurrentHashMap<>();

  private final Map<String, Integer> starts = new ConcurrentHashMap<>();
  private volatile ProductionControlPlane controlPlane;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Random random = new Random(42);
  private Path work;
  private volatile EtcdCluster etcdCluster;
  private String agentCp;
  private String capacity;
  private Path encryptionKey;
  private int sessionPort;
  private int joinPort;
  private KeyValueStore store;
  private final EtcdKeys keys = new EtcdKeys(PREFIX);
  private NodeRegistry registry;
  private CommandQueue queue;
  private CertificateAuthority ca;
  private TrustAwareStorageManager manager;
  private ReplicationManager replication;
  private io.grpc.netty.shaded.io.netty.handler.ssl.SslContext clientTls;

  public static void main(String[] args) throws Exception {
    Map<String, String> a =
        BenchMain.flags(
            args,
            "usage: DataPathBenchmark --agent-classpath=CP [--rebuild-size=256MiB]"
                + " [--sparse-size=8GiB] [--io-seconds=6] [--limit-s=480]");
    DataPathBenchmark b = new DataPathBenchmark();
    long rebuild = ByteSize.parse(a.getOrDefault("rebuild-size", "256MiB"));
    long sparse = ByteSize.parse(a.getOrDefault("sparse-size", "8GiB"));
    if (rebuild < (16L << 20) || rebuild % (1 << 20) != 0) {
      throw new IllegalArgumentException("--rebuild-size must be whole MiB, at least 16MiB");
    }
    if (sparse < 4 * SPARSE_DATA || sparse % (1 << 20) != 0) {
      throw new IllegalArgumentException(
          "--sparse-size must be whole MiB, at least " + ByteSize.format(4 * SPARSE_DATA));
    }
    BenchMain.bounded(
        Long.parseLong(a.getOrDefault("limit-s", "480")),
        b::stopAll,
        () ->
            b.run(
                a.get("agent-classpath"),
                rebuild,
                sparse,
                Double.parseDouble(a.getOrDefault("io-seconds", "6"))));
  }

  // ---- the run ----

  void run(String agentClasspath, long rebuildBytes, long sparseBytes, double ioSeconds)
      throws Exception {
    if (agentClasspath == null) {
      throw new IllegalArgumentException("--agent-classpath is required");
    }
    long t0 = System.nanoTime();
    agentCp = agentClasspath;
    // Room for the sparse volume's replica next to the others on every node (sparse files: the
    // reservation, not the disk, is what counts).
    long sparseGib = (sparseBytes + (1L << 30) - 1) >> 30;
    capacity = Math.max(16, sparseGib + 8) + "GiB";
    work = Files.createTempDirectory("mycnet-datapath");
    Files.writeString(work.resolve("tokens"), TOKEN + " reusable\n");
    System.out.printf(
        "data path benchmark: 4 agents + 1 encrypting at rest (JVM %s, as the agent DaemonSet's"
            + " -XX:MaxRAMPercentage=75 under its 512Mi limit), rebuild of %d MiB, sparse volume of"
            + " %s (--sparse-size; the issue's figure is for 50 GiB, the default of 8 GiB keeps the"
            + " run short), I/O phases <= %.0f s each, work dir %s%n",
        String.join(" ", AGENT_JVM),
        rebuildBytes >> 20,
        ByteSize.format(sparseBytes),
        ioSeconds,
        work);
    List<String> failed = new ArrayList<>();
    boolean completed = false;
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      etcdCluster = etcd;
      setUp(etcd);
      printIo(ioPhase(ioSeconds));
      printRebuild(rebuildPhase(rebuildBytes), rebuildBytes);
      try {
        printSparse(sparsePhase(sparseBytes), sparseBytes);
      } catch (Exception e) {
        failed.add("(d) sparse rebuild: " + e);
        System.out.println("(d) sparse rebuild FAILED: " + e);
        e.printStackTrace(System.out);
      }
      try {
        printRestart(restartPhase(rebuildBytes), rebuildBytes);
      } catch (Exception e) {
        failed.add("(e) restarted follower: " + e);
        System.out.println("(e) restarted follower FAILED: " + e);
        e.printStackTrace(System.out);
      }
      try {
        printUnderLoad(underLoadPhase(rebuildBytes, ioSeconds));
      } catch (Exception e) {
        failed.add("(f) rebuild under a client's writes: " + e);
        System.out.println("(f) rebuild under a client's writes FAILED: " + e);
        e.printStackTrace(System.out);
      }
      channels.values().forEach(ManagedChannel::shutdownNow);
      completed = failed.isEmpty();
    } finally {
      stopAll();
      if (completed && System.getenv("KEEP_LOGS") == null) {
        deleteQuietly(work);
      } else {
        // The processes' logs stay for a look at what failed (or, with KEEP_LOGS set, at what the
        // agents did); the replicas' data goes.
        deleteQuietly(work.resolve("agents"));
        System.out.println("logs kept in " + work.resolve("logs"));
      }
    }
    System.out.printf("%nwhole run: %.0f s%n", (System.nanoTime() - t0) / 1e9);
    if (!failed.isEmpty()) {
      throw new IllegalStateException("phases failed: " + failed);
    }
  }

  void setUp(EtcdCluster etcd) throws Exception {
    List<String> all = new ArrayList<>(NODES);
    all.add(ENCRYPTED_NODE);
    ProductionControlPlane.persistVettedHistory(etcd.client(), PREFIX, all, Duration.ofSeconds(10));
    Files.createDirectories(work.resolve("logs"));
    controlPlane =
        new ProductionControlPlane(
            etcd.endpoints(),
            PREFIX,
            work.resolve("ca"),
            work.resolve("tokens"),
            Map.of(
                "MYCNET_HEARTBEAT_INTERVAL", "500ms",
                "MYCNET_NODE_LEASE_TTL", "2s",
                "MYCNET_PING_INTERVAL", "500ms",
                "MYCNET_SERVER_NAMES", "127.0.0.1,localhost"),
            "512m",
            log("cp"));
    sessionPort = controlPlane.sessionPort();
    joinPort = controlPlane.joinPort();
    encryptionKey = work.resolve("master.key");
    byte[] master = new byte[32];
    new java.security.SecureRandom().nextBytes(master);
    Files.writeString(encryptionKey, java.util.Base64.getEncoder().encodeToString(master) + "\n");
    Files.setPosixFilePermissions(
        encryptionKey, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    for (String id : all) {
      Files.writeString(work.resolve("token-" + id), TOKEN + "\n");
      startAgent(id);
    }
    for (String id : all) {
      agents.get(id).awaitReady(Duration.ofSeconds(60));
    }
    store = new EtcdStore(etcd.client(), Duration.ofSeconds(10));
    registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(2));
    queue = new CommandQueue(store, keys);
    await(
        "every agent registered and live",
        30,
        () -> NODES.stream().allMatch(registry::isLive) && registry.isLive(ENCRYPTED_NODE));
    ca =
        CertificateAuthority.openOrCreate(
            work.resolve("ca"), Clock.systemUTC(), Duration.ofHours(1));
    clientTls = ca.volumeClientTls(OWNER);
    NodeTrustSource trust = id -> new NodeTrustSource.NodeTrust(TrustTier.CRITICAL, 0.9);
    ClusterViewCache cluster = new ClusterViewCache(store, keys, trust);
    // The encrypted agent is in a pool of its own: the replicated and rebuild volumes never use it.
    ReplicaPlacer placer =
        new PlannerPlacement(
            r -> r.getNodeId().equals(ENCRYPTED_NODE) ? Set.of(ENCRYPTED_POOL) : Set.of("default"));
    manager =
        new TrustAwareStorageManager(
            store, keys, queue, cluster, placer, p -> 1.0, Clock.systemUTC());
    replication =
        new ReplicationManager(
            store,
            keys,
            registry,
            queue,
            cluster,
            placer,
            trust,
            p -> 1.0,
            new ReplicationManager.Settings(Duration.ZERO, 2, 8),
            Clock.systemUTC());
    manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
    System.out.println("control plane and 5 agents up (" + ENCRYPTED_NODE + " encrypts at rest)");
  }

  /**
   * Starts (or starts again, on the same data directory) the agent of {@code id}, logging to a file
   * of its own per start; does not wait for it.
   */
  ChildProcess startAgent(String id) {
    int n = starts.merge(id, 1, Integer::sum);
    String name = "agent-" + id + (n == 1 ? "" : "-start" + n);
    boolean encrypting = id.equals(ENCRYPTED_NODE);
    int zone = encrypting ? 5 : NODES.indexOf(id) + 1;
    List<String> args = new ArrayList<>();
    args.add("--node-id=" + id);
    args.add("--topology=region=eu/zone=z" + zone + "/rack=r1/node=" + id);
    args.add("--owner=bench");
    args.add("--data-dir=" + work.resolve("agents").resolve(id));
    args.add("--capacity=" + capacity);
    args.add("--control-plane=127.0.0.1:" + sessionPort);
    args.add("--join-address=127.0.0.1:" + joinPort);
    args.add("--token-file=" + work.resolve("token-" + id));
    args.add("--ca-file=" + work.resolve("ca").resolve("ca.crt"));
    args.add("--listen=127.0.0.1:0");
    args.add("--probe-bytes=256KiB");
    args.add("--rebuild-bandwidth=64GiB");
    if (encrypting) {
      args.add("--encryption-at-rest=true");
      args.add("--encryption-key-file=" + encryptionKey);
    }
    ChildProcess p =
        start(
            name,
            agentCp,
            "io.mycnet.storage.agent.NodeAgentMain",
            AGENT_JVM,
            args.toArray(String[]::new));
    agents.put(id, p);
    agentLogs.put(id, log(name));
    return p;
  }

  /**
   * Starts the agent of {@code id} again after a SIGKILL and waits until its node is live and UP (a
   * pass of the replication manager brings a DOWN node back).
   */
  void restartAgent(String id) throws Exception {
    ManagedChannel old = channels.remove(id); // it listens on a new port now
    if (old != null) {
      old.shutdownNow();
    }
    Map<String, String> ready = startAgent(id).awaitReady(Duration.ofSeconds(60));
    Set<String> ports = new HashSet<>();
    for (String k : List.of("health", "data")) {
      String addr = ready.getOrDefault(k, "");
      ports.add(addr.substring(addr.lastIndexOf(':') + 1));
    }
    await(
        "node " + id + " live again at its new address",
        30,
        () ->
            registry.isLive(id)
                && registry
                    .get(id)
                    .map(
                        r ->
                            ports.contains(
                                r.getAddress().substring(r.getAddress().lastIndexOf(':') + 1)))
                    .orElse(false));
    await(
        "node " + id + " UP again",
        30,
        () -> {
          replication.reconcile();
          return registry.get(id).map(r -> r.getState() == NodeState.NODE_STATE_UP).orElse(false);
        });
  }

  // ---- (b) replicated I/O against one replica ----

  Map<String, Map<String, Result>> ioPhase(double ioSeconds) throws Exception {
    Allocation strong =
        manager.allocate(
            StorageRequest.of("vol-strong", OWNER, "default", IO_VOLUME, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    Allocation eventual =
        manager.allocate(
            StorageRequest.of("vol-eventual", OWNER, "default", IO_VOLUME, StorageType.SERVICE)
                .withReplicas(3)
                .withConsistency(ConsistencyLevel.EVENTUAL));
    Allocation single = singleReplica("vol-single", strong);
    Allocation encrypted = singleReplicaOn("vol-encrypted", strong, ENCRYPTED_NODE);
    Map<String, Allocation> volumes = new LinkedHashMap<>();
    volumes.put("1 replica", single);
    volumes.put("1 encrypted", encrypted);
    volumes.put("STRONG x3", strong);
    volumes.put("EVENTUAL x3", eventual);
    for (Allocation a : volumes.values()) {
      awaitAssigned(a);
    }
    // A short unmeasured round on every volume first: the agents' JIT and connections are warm
    // for whichever volume is measured first.
    for (Allocation a : volumes.values()) {
      measureVolume(a, Math.min(1.5, ioSeconds / 4), null);
    }
    // Workload by workload, the three volumes back to back: drift in the machine's state hits
    // every volume of a row alike.
    Map<String, Map<String, Result>> out = new LinkedHashMap<>();
    for (String w : WORKLOADS) {
      for (Map.Entry<String, Allocation> e : volumes.entrySet()) {
        out.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>())
            .putAll(measureVolume(e.getValue(), ioSeconds, w));
      }
    }
    for (Map.Entry<String, Map<String, Result>> e : out.entrySet()) {
      System.out.println("  measured " + e.getKey() + ": " + e.getValue().values());
    }
    manager.release("vol-strong");
    manager.release("vol-eventual");
    return out;
  }

  /**
   * A 1-replica volume on the primary of {@code template}: the allocation written straight into
   * etcd (the assignment publisher then assigns it) and the create command queued, as the storage
   * manager would for a storage type that allowed one replica.
   */
  Allocation singleReplica(String volumeId, Allocation template) throws Exception {
    return singleReplicaOn(volumeId, template, template.getPrimaryNodeId());
  }

  /** As {@link #singleReplica}, on {@code node}. */
  Allocation singleReplicaOn(String volumeId, Allocation template, String node) throws Exception {
    Replica primary =
        template.getReplicasList().stream()
            .filter(x -> x.getNodeId().equals(template.getPrimaryNodeId()))
            .findFirst()
            .orElseThrow();
    Replica r =
        primary.toBuilder()
            .setNodeId(node)
            .setTopologyPath(registry.get(node).map(NodeRecord::getTopologyPath).orElseThrow())
            .build();
    Allocation a =
        template.toBuilder()
            .setVolumeId(volumeId)
            .setPool(node.equals(ENCRYPTED_NODE) ? ENCRYPTED_POOL : template.getPool())
            .setPrimaryNodeId(node)
            .setReplicaCount(1)
            .clearReplicas()
            .addReplicas(r)
            .setIncarnation(UUID.randomUUID().toString().substring(0, 8))
            .build();
    if (!store
        .txn()
        .requireAbsent(keys.allocation(volumeId))
        .put(keys.allocation(volumeId), a)
        .commit()) {
      throw new IllegalStateException(volumeId + " exists already");
    }
    queue.enqueue(
        node,
        NodeCommand.newBuilder()
            .setCommandId(
                "create:" + volumeId + ":" + a.getIncarnation() + ":" + r.getEpoch() + ":" + node)
            .setIssuedAtUnixMs(System.currentTimeMillis())
            .setCreateReplica(
                CreateReplica.newBuilder()
                    .setVolumeId(volumeId)
                    .setEpoch(a.getEpoch())
                    .setSizeBytes(a.getSizeBytes())
                    .setClassification(a.getClassification())
                    .setConsistency(a.getConsistency())
                    .setPrimaryNodeId(node)
                    .addReplicaNodeIds(node))
            .build());
    return a;
  }

  void awaitAssigned(Allocation a) throws Exception {
    await(
        a.getVolumeId() + " assigned on every replica",
        30,
        () -> {
          for (Replica r : a.getReplicasList()) {
            try {
              VolumeStat s = stat(r.getNodeId(), a.getVolumeId());
              if (s.getEpoch() != a.getEpoch()
                  || !s.getPrimaryNodeId().equals(a.getPrimaryNodeId())) {
                return false;
              }
            } catch (RuntimeException e) {
              return false;
            }
          }
          return true;
        });
  }

  static final List<String> WORKLOADS =
      List.of("write 1 MiB seq", "write 4 KiB rand", "read 4 KiB rand", "read 1 MiB seq");

  /** The workloads in order (only {@code only} if not null), each bounded by count and time. */
  Map<String, Result> measureVolume(Allocation a, double ioSeconds, String only) {
    String node = a.getPrimaryNodeId();
    String vol = a.getVolumeId();
    long epoch = a.getEpoch();
    long blocks = a.getSizeBytes() / 4096;
    byte[] mib = new byte[1 << 20];
    random.nextBytes(mib);
    byte[] block = new byte[4096];
    random.nextBytes(block);
    // Warm-up: connection, JIT on both sides.
    for (int i = 0; i < 50; i++) {
      write(node, vol, epoch, (random.nextLong(blocks)) * 4096, block);
    }
    Map<String, Result> m = new LinkedHashMap<>();
    long seqCount = a.getSizeBytes() >> 20;
    if (only == null || only.equals("write 1 MiB seq")) {
      m.put(
          "write 1 MiB seq",
          timed(
              seqCount,
              ioSeconds,
              1 << 20,
              i -> {
                mib[0] = (byte) i;
                write(node, vol, epoch, i << 20, mib);
              }));
    }
    if (only == null || only.equals("write 4 KiB rand")) {
      m.put(
          "write 4 KiB rand",
          timed(
              20_000,
              ioSeconds,
              4096,
              i -> {
                block[0] = (byte) i;
                write(node, vol, epoch, random.nextLong(blocks) * 4096, block);
              }));
    }
    if (only == null || only.equals("read 4 KiB rand")) {
      m.put(
          "read 4 KiB rand",
          timed(
              50_000,
              ioSeconds,
              4096,
              i -> read(node, vol, epoch, random.nextLong(blocks) * 4096, 4096)));
    }
    if (only == null || only.equals("read 1 MiB seq")) {
      m.put(
          "read 1 MiB seq",
          timed(
              seqCount,
              ioSeconds,
              1 << 20,
              i -> read(node, vol, epoch, (i % seqCount) << 20, 1 << 20)));
    }
    return m;
  }

  interface Op {
    void run(long i);
  }

  record Result(long ops, long bytes, double seconds) {
    double mibPerS() {
      return bytes / seconds / (1 << 20);
    }

    double opsPerS() {
      return ops / seconds;
    }

    @Override
    public String toString() {
      return String.format("%d ops %.1f MiB/s %.0f op/s", ops, mibPerS(), opsPerS());
    }
  }

  static Result timed(long maxOps, double maxSeconds, int opBytes, Op op) {
    long t0 = System.nanoTime();
    long limit = t0 + (long) (maxSeconds * 1e9);
    long n = 0;
    while (n < maxOps && System.nanoTime() < limit) {
      op.run(n);
      n++;
    }
    double s = (System.nanoTime() - t0) / 1e9;
    return new Result(n, n * opBytes, s);
  }

  // ---- (a) dense rebuild, (d) sparse rebuild, (e) restarted follower ----

  /** One rebuild of the replica of a SIGKILLed follower ({@code victim}) onto a spare node. */
  record Rebuilt(
      String volume,
      String source,
      String target,
      String victim,
      double seconds,
      long totalBytes,
      long copiedBytes) {}

  record RebuildResult(
      Rebuilt rebuild,
      double fillMibPerS,
      List<Double> fileSeconds,
      List<Double> socketSeconds,
      boolean sampleMatches) {}

  RebuildResult rebuildPhase(long bytes) throws Exception {
    Allocation a = allocateTwoReplicas("vol-rebuild", bytes);
    String primary = a.getPrimaryNodeId();
    byte[] mib = new byte[1 << 20];
    random.nextBytes(mib);
    long t0 = System.nanoTime();
    for (long off = 0; off < bytes; off += 1 << 20) {
      mib[0] = (byte) (off >> 20);
      mib[4096] = (byte) (off >> 28);
      write(primary, "vol-rebuild", a.getEpoch(), off, mib);
    }
    double fill = (bytes >> 20) / ((System.nanoTime() - t0) / 1e9);
    System.out.printf("  filled vol-rebuild (%d MiB) at %.1f MiB/s%n", bytes >> 20, fill);

    Path source = work.resolve("filecopy-source");
    writeSourceFile(source, bytes);
    List<Double> file = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      file.add(fileCopy(source, bytes, i));
    }
    Files.deleteIfExists(source);
    System.out.println("  file-to-file copies: " + file + " s");
    List<Double> socket = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      socket.add(socketCopy(bytes, i));
    }
    System.out.println("  memory-to-memory socket copies: " + socket + " s");

    Rebuilt rb = killFollowerAndRebuild("vol-rebuild");
    // Sanity: a few chunks read back identical from the rebuilt replica and the primary.
    Allocation done = manager.get("vol-rebuild").orElseThrow();
    boolean same = true;
    for (int i = 0; i < 8; i++) {
      long off = (random.nextLong(bytes >> 20)) << 20;
      same &=
          Arrays.equals(
              read(rb.target(), "vol-rebuild", done.getEpoch(), off, 1 << 20),
              read(rb.source(), "vol-rebuild", done.getEpoch(), off, 1 << 20));
    }
    retire(rb);
    return new RebuildResult(rb, fill, file, socket, same);
  }

  Allocation allocateTwoReplicas(String volumeId, long bytes) throws Exception {
    Allocation a =
        manager.allocate(
            StorageRequest.of(volumeId, OWNER, "default", bytes, StorageType.SERVICE)
                .withConsistency(ConsistencyLevel.STRONG));
    awaitAssigned(a);
    return a;
  }

  /**
   * SIGKILLs the agent of the volume's follower and runs this benchmark's replication manager until
   * it starts a rebuild of the volume onto a spare node; times it from that decision to the target
   * agent's "rebuild of VOL complete" line, then waits until the replica is HEALTHY.
   */
  Rebuilt killFollowerAndRebuild(String vol) throws Exception {
    return killFollowerAndRebuild(vol, null);
  }

  /** What runs while a rebuild copies: started once its target is known, stopped at its end. */
  interface RebuildLoad {
    void start(String target);

    void stop() throws Exception;
  }

  Rebuilt killFollowerAndRebuild(String vol, RebuildLoad load) throws Exception {
    Allocation a = manager.get(vol).orElseThrow();
    String primary = a.getPrimaryNodeId();
    String follower =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .findFirst()
            .orElseThrow();
    agents.remove(follower).kill(); // SIGKILL, by PID
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (replication.reconcile().rebuildsStarted().stream()
        .noneMatch(s -> s.startsWith(vol + ":"))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "no rebuild of " + vol + " started within 30 s of killing " + follower);
      }
      Thread.sleep(100);
    }
    long started = System.nanoTime();
    Allocation rebuilding = manager.get(vol).orElseThrow();
    String target =
        rebuilding.getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .map(Replica::getNodeId)
            .findFirst()
            .orElseThrow();
    if (load != null) {
      load.start(target);
    }
    String line;
    try {
      line = awaitLine(agentLogs.get(target), "rebuild of " + vol + " complete", 240);
    } finally {
      if (load != null) {
        load.stop();
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    long[] counts = rebuildCounts(line);
    System.out.printf(
        "  rebuilt %s %s -> %s in %.2f s (%s)%n",
        vol, primary, target, seconds, line.substring(line.indexOf("rebuild of")));
    await(
        vol + " healthy on " + target,
        30,
        () ->
            manager.get(vol).orElseThrow().getReplicasList().stream()
                .anyMatch(
                    r ->
                        r.getNodeId().equals(target)
                            && r.getState() == ReplicaState.REPLICA_STATE_HEALTHY));
    awaitAssigned(manager.get(vol).orElseThrow());
    return new Rebuilt(vol, primary, target, follower, seconds, counts[0], counts[1]);
  }

  /** The N and M of an agent's "rebuild of VOL complete (N bytes, M of them copied, ...)". */
  static long[] rebuildCounts(String line) {
    Matcher m = REBUILD_DONE.matcher(line);
    if (!m.find()) {
      throw new IllegalStateException("not a rebuild-complete line: " + line);
    }
    return new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(3))};
  }

  /** Releases the rebuilt volume and starts the killed agent again, so the next phase has it. */
  void retire(Rebuilt rb) throws Exception {
    manager.release(rb.volume());
    restartAgent(rb.victim());
  }

  /** A file of {@code bytes} of random data on this disk, fdatasync'd. */
  void writeSourceFile(Path file, long bytes) throws IOException {
    byte[] mib = new byte[1 << 20];
    random.nextBytes(mib);
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (long off = 0; off < bytes; off += mib.length) {
        mib[0] = (byte) (off >> 20);
        mib[4096] = (byte) (off >> 28);
        ByteBuffer b = ByteBuffer.wrap(mib, 0, (int) Math.min(mib.length, bytes - off));
        while (b.hasRemaining()) {
          ch.write(b);
        }
      }
      ch.force(false);
    }
  }

  /**
   * One file-to-file copy of {@code source} between two fresh JVMs ({@link FileCopyMain}), into a
   * file of the work directory (the disk of the agents' data); seconds as the client measured them.
   */
  double fileCopy(Path source, long bytes, int i) throws Exception {
    String cp = System.getProperty("java.class.path");
    Path received = work.resolve("filecopy-received-" + i);
    ChildProcess server =
        start("file-server-" + i, cp, FileCopyMain.class.getName(), "server", received.toString());
    String port = server.awaitReady(Duration.ofSeconds(30)).get("port");
    ChildProcess client =
        start(
            "file-client-" + i,
            cp,
            FileCopyMain.class.getName(),
            "client",
            port,
            source.toString());
    String line = awaitLine(log("file-client-" + i), "copied ", 120);
    client.awaitExit(Duration.ofSeconds(10));
    String received0 = awaitLine(log("file-server-" + i), "received ", 10);
    server.awaitExit(Duration.ofSeconds(10));
    long size = Files.size(received);
    Files.deleteIfExists(received);
    if (size != bytes) {
      throw new IllegalStateException(
          "file copy " + i + " wrote " + size + " of " + bytes + " bytes");
    }
    if (i == 0) {
      System.out.println("  file copy receiver: " + received0.strip());
    }
    return Long.parseLong(line.replaceAll(".* in (\\d+) ns.*", "$1")) / 1e9;
  }

  /** One copy of {@code bytes} between two fresh JVMs; seconds as the client measured them. */
  double socketCopy(long bytes, int i) throws Exception {
    String cp = System.getProperty("java.class.path");
    ChildProcess server = start("socket-server-" + i, cp, SocketCopyMain.class.getName(), "server");
    String port = server.awaitReady(Duration.ofSeconds(30)).get("port");
    ChildProcess client =
        start("socket-client-" + i, cp, SocketCopyMain.class.getName(), "client", port, "" + bytes);
    String line = awaitLine(log("socket-client-" + i), "copied ", 120);
    client.awaitExit(Duration.ofSeconds(10));
    server.awaitExit(Duration.ofSeconds(10));
    return Long.parseLong(line.replaceAll(".* in (\\d+) ns.*", "$1")) / 1e9;
  }

  record SparseResult(Rebuilt dense, Rebuilt sparse, int writes, boolean sampleMatches) {}

  /**
   * (d) A dense volume of {@link #SPARSE_DATA} rebuilt, then a volume of {@code sparseBytes}
   * holding as many bytes in non-overlapping writes of 4 KiB to 1 MiB at random places.
   */
  SparseResult sparsePhase(long sparseBytes) throws Exception {
    Allocation d = allocateTwoReplicas("vol-dense", SPARSE_DATA);
    byte[] mib = new byte[1 << 20];
    random.nextBytes(mib);
    for (long off = 0; off < SPARSE_DATA; off += 1 << 20) {
      mib[0] = (byte) (off >> 20);
      write(d.getPrimaryNodeId(), "vol-dense", d.getEpoch(), off, mib);
    }
    Rebuilt dense = killFollowerAndRebuild("vol-dense");
    retire(dense);

    Allocation s = allocateTwoReplicas("vol-sparse", sparseBytes);
    List<long[]> extents = scattered(sparseBytes, SPARSE_DATA);
    for (long[] e : extents) {
      byte[] data = new byte[(int) e[1]];
      random.nextBytes(data);
      write(s.getPrimaryNodeId(), "vol-sparse", s.getEpoch(), e[0], data);
    }
    System.out.printf(
        "  vol-sparse (%s): %d writes of 4 KiB to 1 MiB at random places, %d MiB in all%n",
        ByteSize.format(sparseBytes), extents.size(), SPARSE_DATA >> 20);
    Rebuilt sparse = killFollowerAndRebuild("vol-sparse");
    Allocation done = manager.get("vol-sparse").orElseThrow();
    boolean same = true;
    for (int i = 0; i < 8; i++) {
      long[] e = extents.get(random.nextInt(extents.size()));
      same &=
          Arrays.equals(
              read(sparse.target(), "vol-sparse", done.getEpoch(), e[0], (int) e[1]),
              read(sparse.source(), "vol-sparse", done.getEpoch(), e[0], (int) e[1]));
    }
    retire(sparse);
    return new SparseResult(dense, sparse, extents.size(), same);
  }

  /**
   * Non-overlapping extents ({offset, length}, by offset) of {@code total} bytes in a volume of
   * {@code size}: lengths of 4 KiB times a power of two up to 1 MiB, offsets 4 KiB aligned.
   */
  List<long[]> scattered(long size, long total) {
    TreeMap<Long, Long> taken = new TreeMap<>();
    long sum = 0;
    long blocks = size / 4096;
    while (sum < total) {
      long len = Math.min(4096L << random.nextInt(9), total - sum);
      long off = random.nextLong(blocks - len / 4096 + 1) * 4096;
      Map.Entry<Long, Long> below = taken.floorEntry(off + len - 1);
      if (below != null && below.getKey() + below.getValue() > off) {
        continue; // overlaps: another place
      }
      taken.put(off, len);
      sum += len;
    }
    List<long[]> out = new ArrayList<>();
    taken.forEach((off, len) -> out.add(new long[] {off, len}));
    return out;
  }

  record RestartResult(
      String primary,
      String follower,
      long writes,
      long refused,
      int chunksTouched,
      long totalBytes,
      long copiedBytes,
      double catchUpSeconds,
      boolean sampleMatches) {}

  /**
   * (e) A 3-replica STRONG volume of {@code bytes}, filled; one follower's agent SIGKILLed; random
   * 4 KiB writes on the primary for {@link #RESTART_WRITE_SECONDS}; the agent started again. No
   * pass of this benchmark's replication manager runs while it is down (it would mark the node DOWN
   * at once and copy the replica elsewhere): the control plane's own loop, with its grace period of
   * minutes, keeps the replica where it is, STALE once the primary reports the writes it missed.
   * Once the node is back, the passes take the replica back and it catches up.
   */
  /**
   * A 3-replica STRONG volume of {@code bytes}, assigned, filled by 1 MiB writes on its primary.
   */
  Allocation filledThreeReplicas(String vol, long bytes) throws Exception {
    Allocation a =
        manager.allocate(
            StorageRequest.of(vol, OWNER, "default", bytes, StorageType.SERVICE)
                .withReplicas(3)
                .withConsistency(ConsistencyLevel.STRONG));
    awaitAssigned(a);
    byte[] mib = new byte[1 << 20];
    random.nextBytes(mib);
    for (long off = 0; off < bytes; off += 1 << 20) {
      mib[0] = (byte) (off >> 20);
      write(a.getPrimaryNodeId(), vol, a.getEpoch(), off, mib);
    }
    return a;
  }

  RestartResult restartPhase(long bytes) throws Exception {
    String vol = "vol-restart";
    Allocation a = filledThreeReplicas(vol, bytes);
    String primary = a.getPrimaryNodeId();
    String follower =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .findFirst()
            .orElseThrow();
    agents.remove(follower).kill(); // SIGKILL, by PID
    long epoch = a.getEpoch();
    byte[] block = new byte[4096];
    random.nextBytes(block);
    long blocks = bytes / 4096;
    Set<Long> chunks = new HashSet<>();
    List<Long> written = new ArrayList<>();
    long refused = 0;
    long end = System.nanoTime() + (long) (RESTART_WRITE_SECONDS * 1e9);
    while (System.nanoTime() < end) {
      long off = random.nextLong(blocks) * 4096;
      block[0] = (byte) written.size();
      block[1] = (byte) (written.size() >> 8);
      try {
        write(primary, vol, epoch, off, block);
        written.add(off);
        chunks.add(off >> 20);
      } catch (StatusRuntimeException e) {
        refused++;
        epoch = manager.get(vol).orElseThrow().getEpoch();
        Thread.sleep(50);
      }
    }
    System.out.printf(
        "  %s's agent SIGKILLed; %d random 4 KiB writes on %s in %.0f s (%d refused)%n",
        follower, written.size(), primary, RESTART_WRITE_SECONDS, refused);
    long restarted = System.nanoTime();
    restartAgent(follower);
    Path log = agentLogs.get(follower);
    String text = "rebuild of " + vol + " complete";
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    String line;
    while ((line = findLine(log, text)) == null) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "no '" + text + "' in " + log + " within 120 s of the restart");
      }
      replication.reconcile();
      Thread.sleep(250);
    }
    long[] counts = rebuildCounts(line);
    await(
        vol + " healthy on " + follower,
        60,
        () ->
            manager.get(vol).orElseThrow().getReplicasList().stream()
                .anyMatch(
                    r ->
                        r.getNodeId().equals(follower)
                            && r.getState() == ReplicaState.REPLICA_STATE_HEALTHY));
    double seconds = (System.nanoTime() - restarted) / 1e9;
    System.out.printf(
        "  %s back and HEALTHY %.2f s after its restart (%s)%n",
        follower, seconds, line.substring(line.indexOf("rebuild of")));
    Allocation done = manager.get(vol).orElseThrow();
    awaitAssigned(done);
    boolean same = true;
    for (int i = 0; i < 8 && !written.isEmpty(); i++) {
      long off = written.get(random.nextInt(written.size()));
      same &=
          Arrays.equals(
              read(follower, vol, done.getEpoch(), off, 4096),
              read(done.getPrimaryNodeId(), vol, done.getEpoch(), off, 4096));
    }
    manager.release(vol);
    return new RestartResult(
        primary,
        follower,
        written.size(),
        refused,
        chunks.size(),
        counts[0],
        counts[1],
        seconds,
        same);
  }

  // ---- (f) a rebuild under a client's 4 KiB writes ----

  /**
   * Latencies (ns) of a client's 4 KiB writes, the target's RSS samples (bytes) and the rebuild.
   */
  record UnderLoadResult(
      long[] before,
      long[] during,
      long refusedDuring,
      long rssIdle,
      long rssPeak,
      String completion,
      Rebuilt rebuild) {}

  /**
   * (f) A 3-replica STRONG volume of {@code bytes}, filled; a client's 4 KiB random writes at queue
   * depth 1 on the primary for {@code ioSeconds} (the baseline), then one follower SIGKILLed and
   * rebuilt onto the spare while the same client writes on: its write latencies during the rebuild
   * against the baseline's, and the rebuild target agent's resident memory (VmRSS, sampled every
   * 100 ms) during the rebuild against its own before it.
   */
  UnderLoadResult underLoadPhase(long bytes, double ioSeconds) throws Exception {
    String vol = "vol-loaded";
    Allocation a = filledThreeReplicas(vol, bytes);
    String primary = a.getPrimaryNodeId();
    long blocks = bytes / 4096;
    Random r = new Random(7);
    byte[] block = new byte[4096];
    r.nextBytes(block);
    List<Long> before = new ArrayList<>();
    long end = System.nanoTime() + (long) (ioSeconds * 1e9);
    while (System.nanoTime() < end) {
      long t = System.nanoTime();
      write(primary, vol, a.getEpoch(), r.nextLong(blocks) * 4096, block);
      before.add(System.nanoTime() - t);
    }
    List<Long> during = new CopyOnWriteArrayList<>();
    long[] refused = new long[1];
    long[] rss = new long[2];
    java.util.concurrent.atomic.AtomicBoolean stop =
        new java.util.concurrent.atomic.AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    Rebuilt rb =
        killFollowerAndRebuild(
            vol,
            new RebuildLoad() {
              @Override
              public void start(String target) {
                long pid = agents.get(target).pid();
                rss[0] = vmRss(pid);
                Thread writer =
                    new Thread(
                        () -> {
                          long epoch = manager.get(vol).orElseThrow().getEpoch();
                          while (!stop.get()) {
                            long t = System.nanoTime();
                            try {
                              write(primary, vol, epoch, r.nextLong(blocks) * 4096, block);
                              during.add(System.nanoTime() - t);
                            } catch (StatusRuntimeException e) {
                              refused[0]++; // the epoch moved: take the new one
                              epoch = manager.get(vol).orElseThrow().getEpoch();
                            }
                          }
                        },
                        "client-writer");
                Thread sampler =
                    new Thread(
                        () -> {
                          while (!stop.get()) {
                            rss[1] = Math.max(rss[1], vmRss(pid));
                            try {
                              Thread.sleep(100);
                            } catch (InterruptedException e) {
                              return;
                            }
                          }
                        },
                        "rss-sampler");
                threads.add(writer);
                threads.add(sampler);
                writer.start();
                sampler.start();
              }

              @Override
              public void stop() throws Exception {
                stop.set(true);
                for (Thread t : threads) {
                  t.join(30_000);
                }
              }
            });
    String completion = findLine(agentLogs.get(rb.target()), "rebuild of " + vol + " complete");
    retire(rb);
    return new UnderLoadResult(
        before.stream().mapToLong(Long::longValue).toArray(),
        during.stream().mapToLong(Long::longValue).toArray(),
        refused[0],
        rss[0],
        rss[1],
        completion,
        rb);
  }

  /** A process's resident memory in bytes (VmRSS of /proc/PID/status), 0 when unreadable. */
  static long vmRss(long pid) {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (l.startsWith("VmRSS:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  static double percentileMs(long[] nanos, double p) {
    if (nanos.length == 0) {
      return Double.NaN;
    }
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    int i = (int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
    return sorted[Math.max(0, i)] / 1e6;
  }

  void printUnderLoad(UnderLoadResult u) {
    double p50b = percentileMs(u.before(), 0.50);
    double p99b = percentileMs(u.before(), 0.99);
    double p50d = percentileMs(u.during(), 0.50);
    double p99d = percentileMs(u.during(), 0.99);
    System.out.println();
    System.out.println(
        "(f) rebuild under a client's 4 KiB random writes (QD1, 3-replica STRONG, "
            + u.rebuild().source()
            + " primary):");
    System.out.printf(
        "  without a rebuild: %d writes, p50 %.2f ms, p99 %.2f ms%n",
        u.before().length, p50b, p99b);
    System.out.printf(
        "  during the rebuild to %s (%.1f s): %d writes (%d refused while the epoch moved),"
            + " p50 %.2f ms, p99 %.2f ms%n",
        u.rebuild().target(),
        u.rebuild().seconds(),
        u.during().length,
        u.refusedDuring(),
        p50d,
        p99d);
    System.out.printf("  client p99 during / without: %.2f   (goal <= 3)%n", p99d / p99b);
    System.out.printf(
        "  rebuild target's RSS: %d MiB before, at most %d MiB during (JVM max heap 75%% of 512"
            + " MiB); %s%n",
        u.rssIdle() >> 20,
        u.rssPeak() >> 20,
        u.completion() == null
            ? ""
            : u.completion().substring(u.completion().indexOf("rebuild of")));
  }

  // ---- output ----

  void printIo(Map<String, Map<String, Result>> io) {
    System.out.println();
    System.out.println(
        "== (b) client I/O on the primary, one synchronous client (queue depth 1), mutual TLS ==");
    Map<String, Result> base = io.get("1 replica");
    System.out.printf(
        "%-18s %-22s %-22s %-7s %-22s %-7s%n",
        "workload", "1 replica", "STRONG x3", "ratio", "EVENTUAL x3", "ratio");
    for (String w : base.keySet()) {
      boolean small = w.contains("4 KiB");
      Result b = base.get(w);
      Result s = io.get("STRONG x3").get(w);
      Result e = io.get("EVENTUAL x3").get(w);
      System.out.printf(
          "%-18s %-22s %-22s %-7s %-22s %-7s%n",
          w,
          fmt(b, small),
          fmt(s, small),
          String.format("%.2f", rate(s, small) / rate(b, small)),
          fmt(e, small),
          String.format("%.2f", rate(e, small) / rate(b, small)));
    }
    System.out.println();
    System.out.println(
        "== (c) at-rest encryption: 1 replica on an encrypting agent vs 1 replica on a plain one ==");
    System.out.printf("%-18s %-22s %-22s %-7s%n", "workload", "1 replica", "1 encrypted", "ratio");
    for (String w : base.keySet()) {
      boolean small = w.contains("4 KiB");
      Result b = base.get(w);
      Result x = io.get("1 encrypted").get(w);
      System.out.printf(
          "%-18s %-22s %-22s %-7s%n",
          w, fmt(b, small), fmt(x, small), String.format("%.2f", rate(x, small) / rate(b, small)));
    }
    System.out.println();
  }

  static double median(List<Double> values) {
    List<Double> sorted = values.stream().sorted(Comparator.naturalOrder()).toList();
    return sorted.get(sorted.size() / 2);
  }

  static List<String> seconds(List<Double> values) {
    return values.stream().map(d -> String.format("%.2f", d)).toList();
  }

  void printRebuild(RebuildResult r, long bytes) {
    Rebuilt rb = r.rebuild();
    double file = median(r.fileSeconds());
    double socket = median(r.socketSeconds());
    double mib = bytes / (double) (1 << 20);
    System.out.println();
    System.out.println(
        "== (a) rebuild of one replica vs a file-to-file copy of the same bytes over TCP, same"
            + " durability ==");
    System.out.printf("%-94s %10s %10s%n", "", "seconds", "MiB/s");
    System.out.printf(
        "%-94s %10.2f %10.1f%n",
        "rebuild "
            + rb.source()
            + " -> "
            + rb.target()
            + " ("
            + (bytes >> 20)
            + " MiB, decision to in sync)",
        rb.seconds(),
        mib / rb.seconds());
    System.out.printf(
        "%-94s %10.2f %10.1f%n",
        "baseline: file -> TCP -> file between two JVMs, fdatasync every 64 MiB or 1 s (median of"
            + " 3)",
        file,
        mib / file);
    System.out.printf(
        "%-94s %10.2f %10.1f%n",
        "informational: memory -> TCP -> memory between two JVMs (median of 3)",
        socket,
        mib / socket);
    System.out.printf(
        "ratio rebuild / file-to-file copy: %.2f (goal >= 0.70); ratio rebuild / memory-to-memory"
            + " copy: %.2f (informational); file copy runs %s s; socket runs %s s; fill by 1 MiB"
            + " STRONG writes %.1f MiB/s; the rebuild copied %d of %d MiB; sampled chunks identical"
            + " on both replicas: %s%n",
        file / rb.seconds(),
        socket / rb.seconds(),
        seconds(r.fileSeconds()),
        seconds(r.socketSeconds()),
        r.fillMibPerS(),
        rb.copiedBytes() >> 20,
        rb.totalBytes() >> 20,
        r.sampleMatches());
  }

  void printSparse(SparseResult r, long sparseBytes) {
    System.out.println();
    System.out.printf(
        "== (d) rebuild of a %s volume holding %d MiB of scattered writes vs a dense %d MiB"
            + " volume ==%n",
        ByteSize.format(sparseBytes), SPARSE_DATA >> 20, SPARSE_DATA >> 20);
    System.out.println(
        "(--sparse-size="
            + ByteSize.format(sparseBytes)
            + "; the issue's figure is for a 50 GiB volume, the default of 8 GiB keeps the run"
            + " short)");
    System.out.printf("%-94s %10s %12s%n", "", "seconds", "copied MiB");
    for (Rebuilt rb : List.of(r.dense(), r.sparse())) {
      System.out.printf(
          "%-94s %10.2f %12.1f%n",
          (rb == r.dense()
                  ? "baseline: dense " + (SPARSE_DATA >> 20) + " MiB volume"
                  : ByteSize.format(sparseBytes)
                      + " volume, "
                      + r.writes()
                      + " writes of 4 KiB-1 MiB, "
                      + (SPARSE_DATA >> 20)
                      + " MiB")
              + ", rebuild "
              + rb.source()
              + " -> "
              + rb.target()
              + " (decision to in sync)",
          rb.seconds(),
          rb.copiedBytes() / (double) (1 << 20));
    }
    System.out.printf(
        "ratio sparse / dense rebuild time: %.2f (goal <= 2); sampled extents identical on both"
            + " replicas: %s%n",
        r.sparse().seconds() / r.dense().seconds(), r.sampleMatches());
  }

  void printRestart(RestartResult r, long bytes) {
    long writtenBytes = r.writes() * 4096;
    System.out.println();
    System.out.printf(
        "== (e) follower restarted after %.0f s of random 4 KiB writes: bytes its catch-up copied"
            + " vs bytes written meanwhile (3-replica STRONG, %d MiB) ==%n",
        RESTART_WRITE_SECONDS, bytes >> 20);
    System.out.printf(
        "written on %s while %s was down: %d writes, %.1f MiB (%d distinct 1 MiB chunks; %d"
            + " refused)%n",
        r.primary(),
        r.follower(),
        r.writes(),
        writtenBytes / (double) (1 << 20),
        r.chunksTouched(),
        r.refused());
    System.out.printf(
        "copied by %s's catch-up: %.1f MiB of %d MiB (from its log); restart to HEALTHY %.2f s%n",
        r.follower(),
        r.copiedBytes() / (double) (1 << 20),
        r.totalBytes() >> 20,
        r.catchUpSeconds());
    System.out.printf(
        "ratio copied / written: %.2f (goal <= 2; a full copy would be %.2f); copied / the 1 MiB"
            + " chunks the writes touched: %.2f (1.00: a delta by chunk); sampled blocks identical"
            + " on both replicas: %s%n",
        writtenBytes == 0 ? Double.NaN : r.copiedBytes() / (double) writtenBytes,
        writtenBytes == 0 ? Double.NaN : r.totalBytes() / (double) writtenBytes,
        r.chunksTouched() == 0
            ? Double.NaN
            : r.copiedBytes() / (double) ((long) r.chunksTouched() << 20),
        r.sampleMatches());
  }

  static String fmt(Result r, boolean small) {
    return small
        ? String.format("%.0f IOPS (%d)", r.opsPerS(), r.ops())
        : String.format("%.1f MiB/s (%d)", r.mibPerS(), r.ops());
  }

  static double rate(Result r, boolean small) {
    return small ? r.opsPerS() : r.mibPerS();
  }

  // ---- client ----

  VolumeIoGrpc.VolumeIoBlockingStub io(String node) {
    ManagedChannel ch =
        channels.computeIfAbsent(
            node,
            k -> {
              String a = registry.get(node).map(NodeRecord::getAddress).orElseThrow();
              int colon = a.lastIndexOf(':');
              return NettyChannelBuilder.forAddress(
                      a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)))
                  .sslContext(clientTls)
                  .overrideAuthority(node)
                  .maxInboundMessageSize(8 << 20)
                  .build();
            });
    return VolumeIoGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  VolumeStat stat(String node, String vol) {
    return io(node).stat(StatRequest.newBuilder().setVolumeId(vol).build());
  }

  void write(String node, String vol, long epoch, long offset, byte[] data) {
    io(node)
        .write(
            WriteRequest.newBuilder()
                .setVolumeId(vol)
                .setEpoch(epoch)
                .setOffset(offset)
                .setData(ByteString.copyFrom(data))
                .build());
  }

  byte[] read(String node, String vol, long epoch, long offset, int length) {
    return io(node)
        .read(
            ReadRequest.newBuilder()
                .setVolumeId(vol)
                .setEpoch(epoch)
                .setOffset(offset)
                .setLength(length)
                .build())
        .getData()
        .toByteArray();
  }

  // ---- processes ----

  Path log(String name) {
    return work.resolve("logs").resolve(name + ".log");
  }

  ChildProcess start(String name, String cp, String main, String... args) {
    return start(name, cp, main, List.of("-Xmx512m"), args);
  }

  ChildProcess start(String name, String cp, String main, List<String> jvm, String... args) {
    ChildProcess p =
        ChildProcess.java(main)
            .name(name)
            .classpath(cp)
            .jvmArgs(jvm)
            .args(List.of(args))
            .log(log(name))
            .start();
    processes.add(p);
    return p;
  }

  /** The first line of {@code log} that contains {@code text}, or null. */
  static String findLine(Path log, String text) throws IOException {
    if (Files.exists(log)) {
      for (String l : Files.readAllLines(log)) {
        if (l.contains(text)) {
          return l;
        }
      }
    }
    return null;
  }

  static String awaitLine(Path log, String text, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      String l = findLine(log, text);
      if (l != null) {
        return l;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("no '" + text + "' in " + log + " within " + seconds + " s");
  }

  static void await(String what, int seconds, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not within " + seconds + " s: " + what);
      }
      Thread.sleep(100);
    }
  }

  /**
   * Stops every process this run started, by PID: SIGTERM, then SIGKILL after 10 s; then etcd
   * (which {@link EtcdCluster} stops by PID).
   */
  void stopAll() {
    for (ChildProcess p : processes) {
      p.handle().destroy();
    }
    for (ChildProcess p : processes) {
      p.stop(Duration.ofSeconds(10));
    }
    ProductionControlPlane c = controlPlane;
    if (c != null) {
      c.close();
    }
    EtcdCluster e = etcdCluster;
    if (e != null) {
      e.close();
    }
  }

  static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
  }
}
