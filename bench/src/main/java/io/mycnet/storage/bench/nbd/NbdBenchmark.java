package io.mycnet.storage.bench.nbd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Classification;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.bench.support.BenchMain;
import io.mycnet.storage.bench.support.HostCommands;
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
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.KeyValueStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * The block frontend under fio's nbd engine, every figure next to a baseline measured in the same
 * run: {@code nbdkit}'s file plugin serving a file on the same disk, through the same client.
 *
 * <ol>
 *   <li>A real etcd, the production control plane ({@code OperatorMain}) and four agent processes
 *       on loopback started with the JVM options of the agent DaemonSet ({@code
 *       -XX:MaxRAMPercentage=75} in a container limited to 512 MiB, emulated by {@code
 *       -XX:MaxRAM=512m}: the heap and the collector the JVM picks in that pod), not local mode's
 *       options; the fourth agent encrypts at rest and has a pool of its own.
 *   <li>Volumes: one replica (written into etcd as the storage manager would write it: no storage
 *       type allows fewer than two), three replicas STRONG, three EVENTUAL, and one replica on the
 *       encrypting agent (CRITICAL). Each is attached on the node of its primary through the
 *       Kubernetes Node annotation the operator handles, and opened on that node's NBD socket.
 *   <li>Each target is filled once (1 MiB sequential writes), then, workload by workload and every
 *       target back to back (drift hits a row alike): 4 KiB random read and write at queue depth
 *       32, 1 MiB sequential read and write at queue depth 8 (bounded in time each), and the
 *       completion latency p50/p99 of 4 KiB random reads and writes at queue depth 1.
 *   <li>Baselines: {@code nbdkit file} (the page cache decides when its writes reach the disk), and
 *       for writes also {@code nbdkit file} with the fua filter forcing every write durable, as
 *       every write the frontend acknowledges is.
 * </ol>
 *
 * Prints the figures and their ratios (1 replica vs nbdkit; the others vs 1 replica) with the
 * issue's goals; asserts nothing. Every process is stopped by PID at the end, also on failure; a
 * watchdog ends the run after {@code --limit-s}.
 */
public final class NbdBenchmark {
  static final String TOKEN = "nbdben.0123456789abcdef";
  static final String OWNER = "bench";
  static final String PREFIX = "/mycnet";

  /** The Kubernetes namespace of the volumes' claim names: volume {@code bench.x} is claim x. */
  static final String KNS = "bench";

  static final List<String> NODES = List.of("n1", "n2", "n3");
  static final String ENCRYPTED_NODE = "n4";
  static final String ENCRYPTED_POOL = "encrypted";
  static final List<String> DAEMONSET_JVM = List.of("-XX:MaxRAM=512m", "-XX:MaxRAMPercentage=75");

  static final String NBDKIT = "nbdkit file";
  static final String NBDKIT_DURABLE = "nbdkit file, FUA";
  static final String SINGLE = "1 replica";
  static final String ENCRYPTED = "1 replica, encrypted";
  static final String STRONG = "3 replicas STRONG";
  static final String EVENTUAL = "3 replicas EVENTUAL";

  /** One fio workload. */
  record Workload(String name, String rw, String bs, int depth, boolean latency, boolean write) {}

  static final List<Workload> WORKLOADS =
      List.of(
          new Workload("4 KiB randread QD32", "randread", "4k", 32, false, false),
          new Workload("4 KiB randwrite QD32", "randwrite", "4k", 32, false, true),
          new Workload("1 MiB seq read QD8", "read", "1m", 8, false, false),
          new Workload("1 MiB seq write QD8", "write", "1m", 8, false, true),
          new Workload("4 KiB randread QD1", "randread", "4k", 1, true, false),
          new Workload("4 KiB randwrite QD1", "randwrite", "4k", 1, true, true));

  /** One fio result: IOPS, bytes/s, completion latency percentiles in microseconds. */
  record Result(
      double iops, double bytesPerS, double p50us, double p99us, long ios, String failure) {
    Result(double iops, double bytesPerS, double p50us, double p99us, long ios) {
      this(iops, bytesPerS, p50us, p99us, ios, null);
    }

    /** A run that failed (or was not made because its target failed before). */
    static Result failed(String why) {
      return new Result(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0, why);
    }

    boolean ok() {
      return failure == null;
    }

    double mibPerS() {
      return bytesPerS / (1 << 20);
    }

    @Override
    public String toString() {
      return ok()
          ? String.format(
              "%.0f IOPS, %.1f MiB/s, clat p50 %.0f us p99 %.0f us (%d I/Os)",
              iops, mibPerS(), p50us, p99us, ios)
          : "FAILED: " + failure;
    }
  }

  private final List<ChildProcess> processes = new CopyOnWriteArrayList<>();
  private final Map<String, Map<String, String>> ready = new ConcurrentHashMap<>();
  private volatile ProductionControlPlane controlPlane;
  private volatile EtcdCluster etcdCluster;
  private Path work;
  private String agentCp;
  private long volumeBytes;
  private KeyValueStore store;
  private final EtcdKeys keys = new EtcdKeys(PREFIX);
  private NodeRegistry registry;
  private CommandQueue queue;
  private TrustAwareStorageManager manager;
  private KubernetesClient kube;
  private int runs;

  public static void main(String[] args) throws Exception {
    Map<String, String> a =
        BenchMain.flags(
            args,
            "usage: NbdBenchmark --agent-classpath=CP [--io-seconds=7] [--volume-size=256MiB]"
                + " [--limit-s=420]");
    NbdBenchmark b = new NbdBenchmark();
    BenchMain.bounded(
        Long.parseLong(a.getOrDefault("limit-s", "420")),
        b::stopAll,
        () ->
            b.run(
                a.get("agent-classpath"),
                ByteSize.parse(a.getOrDefault("volume-size", "256MiB")),
                Integer.parseInt(a.getOrDefault("io-seconds", "7"))));
  }

  // ---- the run ----

  void run(String agentClasspath, long volumeBytes, int ioSeconds) throws Exception {
    if (agentClasspath == null) {
      throw new IllegalArgumentException("--agent-classpath is required");
    }
    for (String tool : List.of("fio", "nbdkit", "nbdinfo")) {
      if (!HostCommands.onPath(tool)) {
        throw new IllegalStateException(
            tool + " is not installed (Debian: fio, nbdkit, libnbd-bin; see .ci/run)");
      }
    }
    this.agentCp = agentClasspath;
    this.volumeBytes = volumeBytes;
    work = Files.createTempDirectory("mycnet-nbd");
    Files.writeString(work.resolve("tokens"), TOKEN + " reusable\n");
    System.out.printf(
        "NBD benchmark: fio nbd engine, volumes of %d MiB, %d s per workload, agents with the"
            + " DaemonSet's JVM options %s, work dir %s%n",
        volumeBytes >> 20, ioSeconds, DAEMONSET_JVM, work);
    boolean done = false;
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      etcdCluster = etcd;
      setUp(etcd);
      Map<String, String> targets = targets();
      Map<String, Map<String, Result>> results = measure(targets, ioSeconds);
      print(results);
      // A failed run keeps its logs (below): they say why.
      done = results.values().stream().flatMap(m -> m.values().stream()).allMatch(Result::ok);
    } finally {
      stopAll();
      if (done) {
        deleteQuietly(work);
      } else {
        // Keep the logs of a run with a failure; the volumes and images go.
        deleteQuietly(work.resolve("agents"));
        for (String f : List.of("nbdkit.img", "nbdkit-fua.img")) {
          Files.deleteIfExists(work.resolve(f));
        }
        System.out.println("logs of the run with a failure: " + work.resolve("logs"));
      }
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
    Path key = work.resolve("master.key");
    byte[] master = new byte[32];
    new java.security.SecureRandom().nextBytes(master);
    Files.writeString(key, java.util.Base64.getEncoder().encodeToString(master) + "\n");
    Files.setPosixFilePermissions(
        key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    for (int i = 0; i < all.size(); i++) {
      String id = all.get(i);
      List<String> extra = new ArrayList<>();
      if (id.equals(ENCRYPTED_NODE)) {
        extra.add("--encryption-at-rest=true");
        extra.add("--encryption-key-file=" + key);
      }
      startAgent(id, "region=eu/zone=z" + (i + 1) + "/rack=r1/node=" + id, extra);
    }
    for (String id : all) {
      ready.put(id, processByName("agent-" + id).awaitReady(Duration.ofSeconds(60)));
      if (ready.get(id).get("nbd") == null) {
        throw new IllegalStateException(
            "agent " + id + "'s ready line names no NBD socket (nbd=): " + ready.get(id));
      }
    }
    store = new EtcdStore(etcd.client(), Duration.ofSeconds(10));
    registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(2));
    queue = new CommandQueue(store, keys);
    await("every agent registered and live", 30, () -> all.stream().allMatch(registry::isLive));
    NodeTrustSource trust = id -> new NodeTrustSource.NodeTrust(TrustTier.CRITICAL, 0.9);
    ClusterViewCache cluster = new ClusterViewCache(store, keys, trust);
    ReplicaPlacer placer =
        new PlannerPlacement(
            r -> r.getNodeId().equals(ENCRYPTED_NODE) ? Set.of(ENCRYPTED_POOL) : Set.of("default"));
    manager =
        new TrustAwareStorageManager(
            store, keys, queue, cluster, placer, p -> 1.0, Clock.systemUTC());
    manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
    kube = controlPlane.kube();
    for (String id : all) {
      kube.nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(id).endMetadata().build())
          .create();
    }
    System.out.println("control plane and 4 agents up (" + ENCRYPTED_NODE + " encrypts at rest)");
  }

  /** The volumes, attached and served, and nbdkit: target name to NBD URI. */
  Map<String, String> targets() throws Exception {
    Allocation strong =
        manager.allocate(
            StorageRequest.of(KNS + ".strong", OWNER, "default", volumeBytes, StorageType.SERVICE)
                .withReplicas(3)
                .withConsistency(ConsistencyLevel.STRONG));
    Allocation eventual =
        manager.allocate(
            StorageRequest.of(KNS + ".eventual", OWNER, "default", volumeBytes, StorageType.SERVICE)
                .withReplicas(3)
                .withConsistency(ConsistencyLevel.EVENTUAL));
    Allocation single =
        singleReplicaOn(
            KNS + ".single", strong, strong.getPrimaryNodeId(), strong.getClassification());
    Allocation encrypted =
        singleReplicaOn(
            KNS + ".encrypted", strong, ENCRYPTED_NODE, Classification.CLASSIFICATION_CRITICAL);
    Map<String, Allocation> volumes = new LinkedHashMap<>();
    volumes.put(SINGLE, single);
    volumes.put(ENCRYPTED, encrypted);
    volumes.put(STRONG, strong);
    volumes.put(EVENTUAL, eventual);
    Map<String, String> uris = new LinkedHashMap<>();
    uris.put(NBDKIT, nbdkit("nbdkit", List.of(), List.of()));
    uris.put(
        NBDKIT_DURABLE, nbdkit("nbdkit-fua", List.of("--filter=fua"), List.of("fuamode=force")));
    for (Map.Entry<String, Allocation> e : volumes.entrySet()) {
      String id = e.getValue().getVolumeId();
      await(
          id + " bound",
          60,
          () ->
              manager
                  .get(id)
                  .map(x -> x.getState() == VolumeState.VOLUME_STATE_BOUND)
                  .orElse(false));
      String node = manager.get(id).orElseThrow().getPrimaryNodeId();
      String claim = id.substring(KNS.length() + 1);
      String result = attach(node, KNS + "/" + claim);
      if (!result.matches("attach (ok|unchanged): .*")) {
        throw new IllegalStateException("attaching " + id + " on " + node + ": " + result);
      }
      String uri = "nbd+unix:///" + id + "?socket=" + ready.get(node).get("nbd");
      await(
          "the export " + id + " served on " + node,
          30,
          () -> HostCommands.exec(30, "nbdinfo", "--size", uri));
      uris.put(e.getKey(), uri);
      System.out.printf("  %-22s %s on %s, attached: %s%n", e.getKey(), id, node, result);
    }
    return uris;
  }

  /**
   * A 1-replica volume on {@code node}: the allocation written straight into etcd (the control
   * plane confirms its creation and assigns it) and the create command queued, as the storage
   * manager would for a storage type that allowed one replica.
   */
  Allocation singleReplicaOn(
      String volumeId, Allocation template, String node, Classification classification) {
    Replica first = template.getReplicas(0);
    Replica r =
        first.toBuilder()
            .setNodeId(node)
            .setTopologyPath(registry.get(node).map(NodeRecord::getTopologyPath).orElseThrow())
            .build();
    Allocation a =
        template.toBuilder()
            .setVolumeId(volumeId)
            .setPool(node.equals(ENCRYPTED_NODE) ? ENCRYPTED_POOL : template.getPool())
            .setClassification(classification)
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

  /**
   * Requests an attach through the Node annotation (as {@code mycnet volume attach} does) and
   * returns the operator's result without its request id.
   */
  String attach(String node, String claim) throws Exception {
    String id = "bench-" + UUID.randomUUID().toString().substring(0, 8);
    kube.nodes()
        .withName(node)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editMetadata()
                    .addToAnnotations("storage.mycnet.io/attach", claim)
                    .addToAnnotations("storage.mycnet.io/request-id", id)
                    .endMetadata()
                    .build());
    String[] result = new String[1];
    await(
        "the result of attaching " + claim + " on " + node,
        60,
        () -> {
          Map<String, String> a = kube.nodes().withName(node).get().getMetadata().getAnnotations();
          String r = a == null ? null : a.get("storage.mycnet.io/result");
          if (r != null && r.startsWith(id + " ")) {
            result[0] = r.substring(id.length() + 1);
            return true;
          }
          return false;
        });
    return result[0];
  }

  /** nbdkit's file plugin on a file in the work directory (the agents' disk), on a Unix socket. */
  String nbdkit(String name, List<String> filters, List<String> filterParams) throws IOException {
    Path file = work.resolve(name + ".img");
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(volumeBytes);
    }
    Path socket = work.resolve(name + ".sock");
    List<String> cmd = new ArrayList<>(List.of("nbdkit", "-f", "-U", socket.toString()));
    cmd.addAll(filters);
    cmd.add("file");
    cmd.add("file=" + file);
    cmd.addAll(filterParams);
    ChildProcess p = ChildProcess.program(cmd).name(name).log(log(name)).start();
    processes.add(p);
    String uri = "nbd+unix:///?socket=" + socket;
    try {
      await(name + " serving", 30, () -> HostCommands.exec(30, "nbdinfo", "--size", uri));
    } catch (Exception e) {
      throw new IllegalStateException(name + " did not start: " + ChildProcess.tail(log(name), 20));
    }
    return uri;
  }

  // ---- fio ----

  Map<String, Map<String, Result>> measure(Map<String, String> targets, int ioSeconds)
      throws Exception {
    // Fill every target once: reads then read data, not holes; also the agents' warm-up. A
    // target whose run fails is reported as failed and not run again (its agent may be gone):
    // the other figures are still measured.
    Map<String, String> broken = new LinkedHashMap<>();
    for (Map.Entry<String, String> t : targets.entrySet()) {
      long start = System.nanoTime();
      try {
        fio(t.getValue(), "fill", List.of("--rw=write", "--bs=1m", "--iodepth=8"), 300);
        System.out.printf(
            "  filled %-22s in %.1f s%n", t.getKey(), (System.nanoTime() - start) / 1e9);
      } catch (IllegalStateException e) {
        broken.put(t.getKey(), "the fill");
        System.out.printf("  fill of %-22s FAILED: %s%n", t.getKey(), e.getMessage());
      }
    }
    Map<String, Map<String, Result>> out = new LinkedHashMap<>();
    for (Workload w : WORKLOADS) {
      for (Map.Entry<String, String> t : targets.entrySet()) {
        if (t.getKey().equals(NBDKIT_DURABLE) && !w.write()) {
          continue;
        }
        Result r;
        if (broken.containsKey(t.getKey())) {
          r = Result.failed("not run: " + broken.get(t.getKey()) + " failed");
        } else {
          try {
            r =
                fio(
                    t.getValue(),
                    w.name(),
                    List.of(
                        "--rw=" + w.rw(),
                        "--bs=" + w.bs(),
                        "--iodepth=" + w.depth(),
                        "--time_based",
                        "--runtime=" + ioSeconds,
                        "--ramp_time=1",
                        "--norandommap",
                        "--randrepeat=0"),
                    ioSeconds + 40);
          } catch (RanOver e) {
            r = Result.failed(e.getMessage());
            broken.put(t.getKey(), w.name());
          } catch (IllegalStateException e) {
            // Failed, but answered: the next workload may still run on it.
            r = Result.failed(e.getMessage());
          }
        }
        out.computeIfAbsent(w.name(), k -> new LinkedHashMap<>()).put(t.getKey(), r);
        System.out.printf("  %-22s %-22s %s%n", w.name(), t.getKey(), r);
      }
    }
    return out;
  }

  /** A fio run that did not end in time (it was killed): its target is not used again. */
  static final class RanOver extends IllegalStateException {
    RanOver(String message) {
      super(message);
    }
  }

  Result fio(String uri, String name, List<String> workload, int timeoutS) throws Exception {
    Path json = work.resolve("fio-" + (++runs) + ".json");
    List<String> cmd = new ArrayList<>();
    cmd.add("fio");
    cmd.add("--name=" + name.replace(' ', '-'));
    cmd.add("--ioengine=nbd");
    cmd.add("--uri=" + uri);
    cmd.add("--size=" + volumeBytes);
    cmd.addAll(workload);
    cmd.add("--output-format=json");
    cmd.add("--output=" + json);
    ChildProcess p = ChildProcess.program(cmd).name("fio-" + runs).log(log("fio-" + runs)).start();
    processes.add(p);
    if (!p.awaitExit(Duration.ofSeconds(timeoutS))) {
      p.kill();
      throw new RanOver("fio " + name + " on " + uri + " ran over " + timeoutS + " s");
    }
    String text = Files.exists(json) ? Files.readString(json) : "";
    if (p.exitValue() != 0 || text.indexOf('{') < 0) {
      throw new IllegalStateException(
          "fio " + name + " on " + uri + " failed: " + ChildProcess.tail(log("fio-" + runs), 20));
    }
    JsonNode job =
        new ObjectMapper().readTree(text.substring(text.indexOf('{'))).get("jobs").get(0);
    if (job.get("error").asInt() != 0) {
      throw new IllegalStateException("fio " + name + " on " + uri + ": error " + job.get("error"));
    }
    JsonNode read = job.get("read");
    JsonNode write = job.get("write");
    JsonNode d = write.get("total_ios").asLong() > read.get("total_ios").asLong() ? write : read;
    JsonNode pct = d.get("clat_ns").get("percentile");
    return new Result(
        d.get("iops").asDouble(),
        d.get("bw_bytes").asDouble(),
        pct == null ? 0 : pct.get("50.000000").asDouble() / 1000,
        pct == null ? 0 : pct.get("99.000000").asDouble() / 1000,
        d.get("total_ios").asLong());
  }

  // ---- report ----

  void print(Map<String, Map<String, Result>> results) {
    System.out.println();
    System.out.println(
        "== fio (nbd engine) on nbdkit and on the block frontend; ratios: 1 replica vs nbdkit file,"
            + " the others vs 1 replica ==");
    List<String> cols = List.of(NBDKIT, NBDKIT_DURABLE, SINGLE, ENCRYPTED, STRONG, EVENTUAL);
    StringBuilder h = new StringBuilder(String.format("%-22s", "workload"));
    for (String c : cols) {
      h.append(String.format(" %-24s", c));
    }
    System.out.println(h);
    for (Workload w : WORKLOADS) {
      Map<String, Result> row = results.get(w.name());
      StringBuilder b = new StringBuilder(String.format("%-22s", w.name()));
      for (String c : cols) {
        Result r = row.get(c);
        if (r == null) {
          b.append(String.format(" %-24s", "-"));
          continue;
        }
        Result base =
            c.equals(SINGLE) ? row.get(NBDKIT) : c.startsWith("nbdkit") ? null : row.get(SINGLE);
        b.append(String.format(" %-24s", cell(w, r, base)));
      }
      System.out.println(b);
    }
    System.out.println();
    Map<String, Result> rr = results.get("4 KiB randread QD32");
    Map<String, Result> rw = results.get("4 KiB randwrite QD32");
    Map<String, Result> sr = results.get("1 MiB seq read QD8");
    Map<String, Result> sw = results.get("1 MiB seq write QD8");
    System.out.println("goals (issue #15):");
    goal(
        "1 replica / nbdkit, 4 KiB randread IOPS",
        rr.get(SINGLE).iops(),
        rr.get(NBDKIT).iops(),
        0.5);
    goal(
        "1 replica / nbdkit, 4 KiB randwrite IOPS",
        rw.get(SINGLE).iops(),
        rw.get(NBDKIT).iops(),
        0.5);
    goal(
        "1 replica / nbdkit, 1 MiB seq read MiB/s",
        sr.get(SINGLE).bytesPerS(),
        sr.get(NBDKIT).bytesPerS(),
        0.7);
    goal(
        "1 replica / nbdkit, 1 MiB seq write MiB/s",
        sw.get(SINGLE).bytesPerS(),
        sw.get(NBDKIT).bytesPerS(),
        0.7);
    for (Map.Entry<String, Map<String, Result>> e : results.entrySet()) {
      Workload w = WORKLOADS.stream().filter(x -> x.name().equals(e.getKey())).findFirst().get();
      if (w.latency()) {
        continue;
      }
      double single = e.getValue().get(SINGLE).iops();
      goal("STRONG x3 / 1 replica, " + w.name(), e.getValue().get(STRONG).iops(), single, 0.4);
    }
    System.out.println(
        "for reference, writes vs nbdkit with every write durable (fua filter, fuamode=force):"
            + String.format(
                " 4 KiB randwrite %.2f, 1 MiB seq write %.2f",
                rw.get(SINGLE).iops() / rw.get(NBDKIT_DURABLE).iops(),
                sw.get(SINGLE).bytesPerS() / sw.get(NBDKIT_DURABLE).bytesPerS()));
    for (Map.Entry<String, Map<String, Result>> e : results.entrySet()) {
      for (Map.Entry<String, Result> r : e.getValue().entrySet()) {
        if (!r.getValue().ok()) {
          System.out.printf(
              "FAILED %s on %s: %s%n", e.getKey(), r.getKey(), r.getValue().failure());
        }
      }
    }
  }

  static String cell(Workload w, Result r, Result base) {
    if (!r.ok()) {
      return "FAILED";
    }
    if (base != null && !base.ok()) {
      base = null;
    }
    if (w.latency()) {
      String s = String.format("p50 %.0f p99 %.0f us", r.p50us(), r.p99us());
      return base == null ? s : s + String.format(" x%.1f", r.p50us() / base.p50us());
    }
    boolean small = w.bs().equals("4k");
    String s =
        small ? String.format("%.0f IOPS", r.iops()) : String.format("%.0f MiB/s", r.mibPerS());
    if (base == null) {
      return s;
    }
    double ratio = small ? r.iops() / base.iops() : r.bytesPerS() / base.bytesPerS();
    return s + String.format(" (%.2f)", ratio);
  }

  static void goal(String what, double value, double base, double goal) {
    if (Double.isNaN(value) || Double.isNaN(base)) {
      System.out.printf("  %-52s n/a (a run failed)%n", what);
      return;
    }
    double ratio = value / base;
    System.out.printf(
        "  %-52s %.2f (goal >= %.2f: %s)%n", what, ratio, goal, ratio >= goal ? "met" : "NOT met");
  }

  // ---- processes ----

  Path log(String name) {
    return work.resolve("logs").resolve(name + ".log");
  }

  void startAgent(String id, String topology, List<String> extra) throws IOException {
    Path tokenFile = work.resolve("token-" + id);
    Files.writeString(tokenFile, TOKEN + "\n");
    List<String> args =
        new ArrayList<>(
            List.of(
                "--node-id=" + id,
                "--topology=" + topology,
                "--owner=bench",
                "--data-dir=" + work.resolve("agents").resolve(id),
                "--capacity=16GiB",
                "--control-plane=127.0.0.1:" + controlPlane.sessionPort(),
                "--join-address=127.0.0.1:" + controlPlane.joinPort(),
                "--token-file=" + tokenFile,
                "--ca-file=" + work.resolve("ca").resolve("ca.crt"),
                "--listen=127.0.0.1:0",
                "--probe-bytes=256KiB"));
    args.addAll(extra);
    ChildProcess p =
        ChildProcess.java("io.mycnet.storage.agent.NodeAgentMain")
            .name("agent-" + id)
            .classpath(agentCp)
            .jvmArgs(DAEMONSET_JVM)
            .args(args)
            .log(log("agent-" + id))
            .start();
    processes.add(p);
  }

  ChildProcess processByName(String name) {
    return processes.stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow();
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

  /** Stops every process this run started, by PID (SIGTERM, SIGKILL after 10 s), then etcd. */
  void stopAll() {
    if (kube != null) {
      kube.close();
    }
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
