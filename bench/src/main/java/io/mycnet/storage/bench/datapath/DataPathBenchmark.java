package io.mycnet.storage.bench.datapath;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * Data path throughput, every figure next to a baseline measured in the same run.
 *
 * <ol>
 *   <li>A real etcd, the production control plane process ({@code OperatorMain}, {@link
 *       ProductionControlPlane}) and four agent processes ({@code NodeAgentMain}, four zones) on
 *       loopback; every node brings a vetted history (CRITICAL); the benchmark drives allocation
 *       and the replication manager against the same etcd as the operator would, and talks to the
 *       agents' data ports as a {@code client:<namespace>} over mutual TLS.
 *   <li>I/O: a 1-replica volume (written straight into etcd: no storage type allows fewer than 2
 *       replicas), a 3-replica STRONG and a 3-replica EVENTUAL volume, one synchronous client
 *       (queue depth 1) on the primary: 1 MiB sequential writes, 4 KiB random writes, 4 KiB random
 *       reads, 1 MiB sequential reads, each bounded in count and time. Replicated figures are
 *       printed as ratios of the 1-replica ones. A fifth agent runs with {@code
 *       encryption-at-rest=true} in a pool of its own (so no other volume lands there) and holds a
 *       1-replica volume too: its figures are printed as ratios of the plain 1-replica ones.
 *   <li>Rebuild: a 2-replica volume filled with {@code --rebuild-size} (256 MiB; {@code
 *       --rebuild-size=1GiB} for 1 GiB) of data, its follower SIGKILLed, the replication manager
 *       starts a rebuild onto a spare node; timed from the rebuild decision to the agent's "rebuild
 *       complete". Baseline: {@link SocketCopyMain}, the same number of bytes over a plain TCP
 *       socket between two JVMs (median of three).
 * </ol>
 *
 * Every process started is stopped by PID at the end, also on failure; a watchdog ends the run
 * after {@code --limit-s} (default 270 s).
 */
public final class DataPathBenchmark {
  static final String TOKEN = "bench0.0123456789abcdef";
  static final String OWNER = "app";
  static final String PREFIX = "/mycnet";
  static final List<String> NODES = List.of("b1", "b2", "b3", "b4");
  static final String ENCRYPTED_NODE = "b5";
  static final String ENCRYPTED_POOL = "encrypted";
  static final long IO_VOLUME = 128L << 20;

  private final List<ChildProcess> processes = new CopyOnWriteArrayList<>();
  private final Map<String, ChildProcess> agents = new ConcurrentHashMap<>();
  private volatile ProductionControlPlane controlPlane;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Random random = new Random(42);
  private Path work;
  private volatile EtcdCluster etcdCluster;
  private String agentCp;
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
            args, "usage: DataPathBenchmark --agent-classpath=CP [--rebuild-size=256MiB]");
    DataPathBenchmark b = new DataPathBenchmark();
    BenchMain.bounded(
        Long.parseLong(a.getOrDefault("limit-s", "270")),
        b::stopAll,
        () ->
            b.run(
                a.get("agent-classpath"),
                ByteSize.parse(a.getOrDefault("rebuild-size", "256MiB")),
                Double.parseDouble(a.getOrDefault("io-seconds", "6"))));
  }

  // ---- the run ----

  void run(String agentClasspath, long rebuildBytes, double ioSeconds) throws Exception {
    if (agentClasspath == null) {
      throw new IllegalArgumentException("--agent-classpath is required");
    }
    agentCp = agentClasspath;
    work = Files.createTempDirectory("mycnet-datapath");
    Files.writeString(work.resolve("tokens"), TOKEN + " reusable\n");
    System.out.printf(
        "data path benchmark: 4 agents + 1 encrypting at rest, rebuild of %d MiB, I/O phases <= %.0f s each, work dir %s%n",
        rebuildBytes >> 20, ioSeconds, work);
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      etcdCluster = etcd;
      setUp(etcd);
      Map<String, Map<String, Result>> io = ioPhase(ioSeconds);
      RebuildResult rb = rebuildPhase(rebuildBytes);
      printTables(io, rb, rebuildBytes);
      channels.values().forEach(ManagedChannel::shutdownNow);
    } finally {
      stopAll();
      deleteQuietly(work);
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
    int sessionPort = controlPlane.sessionPort();
    int joinPort = controlPlane.joinPort();
    for (int i = 0; i < NODES.size(); i++) {
      String id = NODES.get(i);
      Path tokenFile = work.resolve("token-" + id);
      Files.writeString(tokenFile, TOKEN + "\n");
      agents.put(
          id,
          start(
              "agent-" + id,
              agentCp,
              "io.mycnet.storage.agent.NodeAgentMain",
              "--node-id=" + id,
              "--topology=region=eu/zone=z" + (i + 1) + "/rack=r1/node=" + id,
              "--owner=bench",
              "--data-dir=" + work.resolve("agents").resolve(id),
              "--capacity=16GiB",
              "--control-plane=127.0.0.1:" + sessionPort,
              "--join-address=127.0.0.1:" + joinPort,
              "--token-file=" + tokenFile,
              "--ca-file=" + work.resolve("ca").resolve("ca.crt"),
              "--listen=127.0.0.1:0",
              "--probe-bytes=256KiB",
              "--rebuild-bandwidth=64GiB"));
    }
    Path key = work.resolve("master.key");
    byte[] master = new byte[32];
    new java.security.SecureRandom().nextBytes(master);
    Files.writeString(key, java.util.Base64.getEncoder().encodeToString(master) + "\n");
    Files.setPosixFilePermissions(
        key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Path encToken = work.resolve("token-" + ENCRYPTED_NODE);
    Files.writeString(encToken, TOKEN + "\n");
    agents.put(
        ENCRYPTED_NODE,
        start(
            "agent-" + ENCRYPTED_NODE,
            agentCp,
            "io.mycnet.storage.agent.NodeAgentMain",
            "--node-id=" + ENCRYPTED_NODE,
            "--topology=region=eu/zone=z5/rack=r1/node=" + ENCRYPTED_NODE,
            "--owner=bench",
            "--data-dir=" + work.resolve("agents").resolve(ENCRYPTED_NODE),
            "--capacity=16GiB",
            "--control-plane=127.0.0.1:" + sessionPort,
            "--join-address=127.0.0.1:" + joinPort,
            "--token-file=" + encToken,
            "--ca-file=" + work.resolve("ca").resolve("ca.crt"),
            "--listen=127.0.0.1:0",
            "--probe-bytes=256KiB",
            "--rebuild-bandwidth=64GiB",
            "--encryption-at-rest=true",
            "--encryption-key-file=" + key));
    for (String id : NODES) {
      agents.get(id).awaitReady(Duration.ofSeconds(60));
    }
    agents.get(ENCRYPTED_NODE).awaitReady(Duration.ofSeconds(60));
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

  // ---- (a) rebuild against a raw socket copy ----

  record RebuildResult(
      String source,
      String target,
      double seconds,
      double fillMibPerS,
      List<Double> socketSeconds,
      boolean sampleMatches) {}

  RebuildResult rebuildPhase(long bytes) throws Exception {
    Allocation a =
        manager.allocate(
            StorageRequest.of("vol-rebuild", OWNER, "default", bytes, StorageType.SERVICE)
                .withConsistency(ConsistencyLevel.STRONG));
    awaitAssigned(a);
    String primary = a.getPrimaryNodeId();
    String follower =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .findFirst()
            .orElseThrow();
    byte[] mib = new byte[1 << 20];
    random.nextBytes(mib);
    long t0 = System.nanoTime();
    for (long off = 0; off < bytes; off += 1 << 20) {
      mib[0] = (byte) (off >> 20);
      mib[4096] = (byte) (off >> 28);
      write(primary, "vol-rebuild", 1, off, mib);
    }
    double fill = (bytes >> 20) / ((System.nanoTime() - t0) / 1e9);
    System.out.printf("  filled vol-rebuild (%d MiB) at %.1f MiB/s%n", bytes >> 20, fill);

    List<Double> socket = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      socket.add(socketCopy(bytes, i));
    }
    System.out.println("  socket copies: " + socket + " s");

    ChildProcess victim = agents.remove(follower);
    victim.kill(); // SIGKILL, by PID
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (replication.reconcile().rebuildsStarted().isEmpty()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no rebuild started within 30 s of killing " + follower);
      }
      Thread.sleep(100);
    }
    long started = System.nanoTime();
    Allocation rebuilding = manager.get("vol-rebuild").orElseThrow();
    String target =
        rebuilding.getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .map(Replica::getNodeId)
            .findFirst()
            .orElseThrow();
    awaitLine(log("agent-" + target), "rebuild of vol-rebuild complete", 240);
    double seconds = (System.nanoTime() - started) / 1e9;
    System.out.printf("  rebuilt %s -> %s in %.2f s%n", primary, target, seconds);
    // Sanity: a few chunks read back identical from the rebuilt replica and the primary.
    await(
        "vol-rebuild healthy on " + target,
        30,
        () ->
            manager.get("vol-rebuild").orElseThrow().getReplicasList().stream()
                .anyMatch(
                    r ->
                        r.getNodeId().equals(target)
                            && r.getState() == ReplicaState.REPLICA_STATE_HEALTHY));
    Allocation done = manager.get("vol-rebuild").orElseThrow();
    awaitAssigned(done);
    boolean same = true;
    for (int i = 0; i < 8; i++) {
      long off = (random.nextLong(bytes >> 20)) << 20;
      same &=
          Arrays.equals(
              read(target, "vol-rebuild", done.getEpoch(), off, 1 << 20),
              read(primary, "vol-rebuild", done.getEpoch(), off, 1 << 20));
    }
    return new RebuildResult(primary, target, seconds, fill, socket, same);
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

  // ---- output ----

  void printTables(Map<String, Map<String, Result>> io, RebuildResult rb, long bytes) {
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
    System.out.println("== (a) rebuild of one replica vs a raw TCP copy of the same bytes ==");
    List<Double> sorted = rb.socketSeconds().stream().sorted(Comparator.naturalOrder()).toList();
    double median = sorted.get(sorted.size() / 2);
    double mib = bytes / (double) (1 << 20);
    System.out.printf("%-48s %10s %10s%n", "", "seconds", "MiB/s");
    System.out.printf(
        "%-48s %10.2f %10.1f%n",
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
        "%-48s %10.2f %10.1f%n",
        "raw TCP socket copy between two JVMs (median of 3)", median, mib / median);
    System.out.printf(
        "ratio rebuild / socket copy: %.2f (goal >= 0.70); socket runs %s s; fill by 1 MiB STRONG"
            + " writes %.1f MiB/s; sampled chunks identical on both replicas: %s%n",
        median / rb.seconds(),
        rb.socketSeconds().stream().map(d -> String.format("%.2f", d)).toList(),
        rb.fillMibPerS(),
        rb.sampleMatches());
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
    ChildProcess p =
        ChildProcess.java(main)
            .name(name)
            .classpath(cp)
            .jvmArgs(List.of("-Xmx512m"))
            .args(List.of(args))
            .log(log(name))
            .start();
    processes.add(p);
    return p;
  }

  static String awaitLine(Path log, String text, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log)) {
        for (String l : Files.readAllLines(log)) {
          if (l.contains(text)) {
            return l;
          }
        }
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
