package io.mycnet.storage.bench.csi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.mycnet.storage.bench.support.BenchMain;
import io.mycnet.storage.bench.support.HostCommands;
import io.mycnet.storage.bench.support.ProductionControlPlane;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.common.settings.ByteSize;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.CapacityRange;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.CreateVolumeRequest;
import io.mycnet.storage.csi.v1.DeleteVolumeRequest;
import io.mycnet.storage.csi.v1.NodeGrpc;
import io.mycnet.storage.csi.v1.NodePublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeStageVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnstageVolumeRequest;
import io.mycnet.storage.csi.v1.Volume;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.local.EtcdCluster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * fio on an ext4 file system mounted through the CSI driver, next to the same fio on an ext4 on a
 * loop device over a local file on the same disk, measured in the same run; and the time from
 * {@code CreateVolume} to a mounted file system.
 *
 * <ol>
 *   <li>A real etcd, the production control plane ({@code OperatorMain}, serving the CSI controller
 *       on its Unix socket) and three agents (each serving its CSI node plugin) as processes on
 *       loopback, the agents with the DaemonSet's JVM options; a StoragePool, a TrustPolicy and a
 *       ServiceNamespace applied through the mock API server as a user applies them.
 *   <li>Volumes through the driver, as a kubelet and the CSI sidecars drive it: CreateVolume (a
 *       StorageClaim of the ServiceNamespace), ControllerPublishVolume to the first node,
 *       NodeStageVolume (the NBD frontend, nbdfuse and a loop device; mkfs.ext4; mount) and
 *       NodePublishVolume (a bind mount), timed step by step; one volume per replica count in
 *       {@code --replicas} (a claim asks for at least 2: no storage type allows fewer).
 *   <li>Baseline: a sparse file of the same size in the work directory, a loop device over it with
 *       direct I/O (as the driver's loop device over nbdfuse), mkfs.ext4 and mount.
 *   <li>On every file system, fio with {@code --direct=1} (libaio) on one file: filled once, then 4
 *       KiB random write and read at queue depth 16 and 1 MiB sequential write and read at queue
 *       depth 4, {@code --io-seconds} each, every target back to back per workload.
 * </ol>
 *
 * Prints the figures and the ratios (driver / loop); asserts nothing. Every process is stopped by
 * PID and every mount and loop device under the work directory released at the end, also on
 * failure; a watchdog ends the run after {@code --limit-s}.
 */
public final class CsiFsBenchmark {
  static final String TOKEN = "csiben.0123456789abcdef";
  static final String PREFIX = "/mycnet";
  static final String KNS = "mycnet-reconciled";
  static final String SNS = "bench";
  static final List<String> NODES = List.of("n1", "n2", "n3");
  static final List<String> DAEMONSET_JVM = List.of("-XX:MaxRAM=512m", "-XX:MaxRAMPercentage=75");
  static final String LOOP = "ext4 on loop (local file, DIO)";

  /** One fio workload. */
  record Workload(String name, String rw, String bs, int depth) {}

  static final List<Workload> WORKLOADS =
      List.of(
          new Workload("4 KiB randwrite QD16", "randwrite", "4k", 16),
          new Workload("4 KiB randread QD16", "randread", "4k", 16),
          new Workload("1 MiB seq write QD4", "write", "1m", 4),
          new Workload("1 MiB seq read QD4", "read", "1m", 4));

  /** One fio result; {@code failure} non-null when it failed. */
  record Result(double iops, double bytesPerS, String failure) {
    static Result failed(String why) {
      return new Result(Double.NaN, Double.NaN, why);
    }

    boolean ok() {
      return failure == null;
    }
  }

  /** A file system under test: its mount point and, for a CSI volume, how to take it down. */
  record Target(String name, Path mount, Runnable teardown) {}

  private final List<ChildProcess> processes = new CopyOnWriteArrayList<>();
  private final Map<String, Map<String, String>> ready = new ConcurrentHashMap<>();
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile ProductionControlPlane controlPlane;
  private volatile EtcdCluster etcdCluster;
  private volatile Path work;
  private String agentCp;
  private long volumeBytes;
  private long fioBytes;
  private KubernetesClient kube;
  private int runs;

  public static void main(String[] args) throws Exception {
    Map<String, String> a =
        BenchMain.flags(
            args,
            "usage: CsiFsBenchmark --agent-classpath=CP [--io-seconds=10] [--volume-size=1GiB]"
                + " [--fio-size=512MiB] [--replicas=2,3] [--limit-s=600]");
    CsiFsBenchmark b = new CsiFsBenchmark();
    List<Integer> replicas = new ArrayList<>();
    for (String r : a.getOrDefault("replicas", "2,3").split(",")) {
      replicas.add(Integer.parseInt(r.trim()));
    }
    BenchMain.bounded(
        Long.parseLong(a.getOrDefault("limit-s", "600")),
        b::stopAll,
        () ->
            b.run(
                a.get("agent-classpath"),
                ByteSize.parse(a.getOrDefault("volume-size", "1GiB")),
                ByteSize.parse(a.getOrDefault("fio-size", "512MiB")),
                replicas,
                Integer.parseInt(a.getOrDefault("io-seconds", "10"))));
  }

  void run(
      String agentClasspath, long volumeBytes, long fioBytes, List<Integer> replicas, int ioSeconds)
      throws Exception {
    if (agentClasspath == null) {
      throw new IllegalArgumentException("--agent-classpath is required");
    }
    for (String tool : List.of("fio", "nbdfuse", "losetup", "mkfs.ext4", "mount", "umount")) {
      if (!HostCommands.onPath(tool, "/usr/sbin", "/sbin")) {
        throw new IllegalStateException(
            tool + " is not installed (Debian: fio, libnbd-bin, util-linux, e2fsprogs)");
      }
    }
    this.agentCp = agentClasspath;
    this.volumeBytes = volumeBytes;
    this.fioBytes = fioBytes;
    work = Files.createTempDirectory("mycnet-csi-fs");
    Files.writeString(work.resolve("tokens"), TOKEN + " reusable\n");
    System.out.printf(
        "CSI file system benchmark: ext4 on %d MiB volumes, fio libaio direct=1 on a %d MiB file,"
            + " %d s per workload, work dir %s%n",
        volumeBytes >> 20, fioBytes >> 20, ioSeconds, work);
    boolean done = false;
    List<Target> targets = new ArrayList<>();
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      etcdCluster = etcd;
      setUp(etcd);
      targets.add(loopTarget());
      for (int r : replicas) {
        targets.add(csiTarget(r));
      }
      Map<String, Map<String, Result>> results = measure(targets, ioSeconds);
      print(targets, results);
      done = results.values().stream().flatMap(m -> m.values().stream()).allMatch(Result::ok);
      for (int i = targets.size() - 1; i >= 0; i--) {
        targets.get(i).teardown().run();
      }
    } finally {
      stopAll();
      if (done) {
        deleteQuietly(work);
      } else {
        deleteQuietly(work.resolve("agents"));
        Files.deleteIfExists(work.resolve("loop.img"));
        System.out.println("logs of the run with a failure: " + work.resolve("logs"));
      }
    }
  }

  // ---- the cluster ----

  void setUp(EtcdCluster etcd) throws Exception {
    ProductionControlPlane.persistVettedHistory(
        etcd.client(), PREFIX, NODES, Duration.ofSeconds(10));
    Files.createDirectories(work.resolve("logs"));
    Path controllerSocket = work.resolve("csi").resolve("controller.sock");
    Files.createDirectories(controllerSocket.getParent());
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
                "MYCNET_SERVER_NAMES", "127.0.0.1,localhost",
                "MYCNET_CSI_CONTROLLER_SOCKET", controllerSocket.toString()),
            "512m",
            log("cp"));
    kube = controlPlane.kube();
    applyCluster();
    for (int i = 0; i < NODES.size(); i++) {
      String id = NODES.get(i);
      startAgent(id, "region=eu/zone=z" + (i + 1) + "/rack=r1/node=" + id);
    }
    for (String id : NODES) {
      ready.put(id, processByName("agent-" + id).awaitReady(Duration.ofSeconds(60)));
      kube.nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(id).endMetadata().build())
          .create();
    }
    channels.put("controller", UnixSocketGrpc.channel(controllerSocket));
    for (String id : NODES) {
      channels.put(id, UnixSocketGrpc.channel(nodeSocket(id)));
    }
    // Every agent joined and placeable: a probe volume is created and deleted.
    await(
        "a volume can be created (every agent joined)",
        120,
        () -> {
          try {
            String id =
                controller()
                    .createVolume(createRequest("probe", NODES.size()))
                    .getVolume()
                    .getVolumeId();
            controller().deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
            return true;
          } catch (RuntimeException e) {
            return false;
          }
        });
    System.out.println("control plane and " + NODES.size() + " agents up, CSI sockets answering");
  }

  /** The TrustPolicy, StoragePool and ServiceNamespace a user of this cluster applies. */
  void applyCluster() throws Exception {
    apply(
        TrustPolicy.class,
        null,
        "tests",
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: TrustPolicy",
            "metadata:",
            "  name: tests",
            "spec:",
            "  default: true",
            "  weights:",
            "    uptime: 0.20",
            "    dataIntegrity: 0.25",
            "    ioPerformance: 0.05",
            "    responseTime: 0.10",
            "    encryptionCompliance: 0.0",
            "    accessControl: 0.10",
            "    consensusParticipation: 0.15",
            "    networkContribution: 0.05",
            "  gates: []",
            ""));
    apply(
        StoragePool.class,
        null,
        "default",
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: StoragePool",
            "metadata:",
            "  name: default",
            "spec:",
            "  hierarchyLevels: [region, zone, rack, node]",
            "  defaultStrategy: HIERARCHY_AWARE",
            "  classifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]",
            "  overcommitRatio: 1.0",
            ""));
    apply(
        ServiceNamespace.class,
        KNS,
        SNS,
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: ServiceNamespace",
            "metadata:",
            "  name: " + SNS,
            "  namespace: " + KNS,
            "spec:",
            "  quota:",
            "    bytes: 64Gi",
            "    volumes: 20",
            "  allowedClassifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]",
            "  pools: [default]",
            "  deletionPolicy: Delete",
            ""));
  }

  <T extends HasMetadata> void apply(Class<T> type, String namespace, String name, String yaml)
      throws Exception {
    kube.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).createOrReplace();
    await(
        type.getSimpleName() + " " + name + " Ready",
        60,
        () -> {
          try {
            T r =
                namespace == null
                    ? kube.resources(type).withName(name).get()
                    : kube.resources(type).inNamespace(namespace).withName(name).get();
            Object status = r == null ? null : type.getMethod("getStatus").invoke(r);
            if (status == null) {
              return false;
            }
            @SuppressWarnings("unchecked")
            List<Condition> c =
                (List<Condition>) status.getClass().getMethod("getConditions").invoke(status);
            return c != null
                && c.stream()
                    .anyMatch(x -> "Ready".equals(x.getType()) && "True".equals(x.getStatus()));
          } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  Path nodeSocket(String node) {
    String s = ready.get(node).get("csi");
    return s != null ? Path.of(s) : work.resolve("agents").resolve(node).resolve("csi.sock");
  }

  ControllerGrpc.ControllerBlockingStub controller() {
    return ControllerGrpc.newBlockingStub(channels.get("controller"))
        .withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  NodeGrpc.NodeBlockingStub node(String node) {
    return NodeGrpc.newBlockingStub(channels.get(node)).withDeadlineAfter(180, TimeUnit.SECONDS);
  }

  static VolumeCapability ext4() {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("ext4"))
        .setAccessMode(
            VolumeCapability.AccessMode.newBuilder()
                .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
        .build();
  }

  CreateVolumeRequest createRequest(String name, int replicas) {
    return CreateVolumeRequest.newBuilder()
        .setName(name)
        .addVolumeCapabilities(ext4())
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(volumeBytes))
        .putParameters(CsiNames.PARAM_SERVICE_NAMESPACE, KNS + "/" + SNS)
        .putParameters(CsiNames.PARAM_CLASSIFICATION, "STANDARD")
        .putParameters(CsiNames.PARAM_REPLICAS, Integer.toString(replicas))
        .putParameters(CsiNames.PARAM_CONSISTENCY, "STRONG")
        .build();
  }

  // ---- the file systems ----

  /** ext4 on a loop device over a sparse local file in the work directory. */
  Target loopTarget() throws Exception {
    Path img = work.resolve("loop.img");
    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
      f.setLength(volumeBytes);
    }
    // Direct I/O from the loop device to its file, as the driver's loop device over nbdfuse does:
    // the page cache of the file does not stand in for the disk.
    String dev = output(30, "losetup", "-f", "--show", "--direct-io=on", img.toString()).strip();
    Path mnt = work.resolve("loop-mnt");
    Files.createDirectories(mnt);
    check(120, "mkfs.ext4", "-q", "-F", dev);
    check(30, "mount", dev, mnt.toString());
    System.out.printf("  %-28s %s on %s%n", LOOP, dev, mnt);
    return new Target(
        LOOP,
        mnt,
        () -> {
          HostCommands.exec(60, "umount", mnt.toString());
          HostCommands.exec(30, "losetup", "-d", dev);
        });
  }

  /**
   * A volume through the driver on the first node: CreateVolume, ControllerPublishVolume,
   * NodeStageVolume, NodePublishVolume, each timed.
   */
  Target csiTarget(int replicas) throws Exception {
    String name = replicas + " replicas STRONG (CSI)";
    String node = NODES.get(0);
    Path staging = work.resolve("kubelet").resolve("r" + replicas).resolve("staging");
    Path target = work.resolve("kubelet").resolve("r" + replicas).resolve("pod").resolve("mnt");
    Files.createDirectories(staging);
    Files.createDirectories(target.getParent());
    long t0 = System.nanoTime();
    Volume v = controller().createVolume(createRequest("fs-r" + replicas, replicas)).getVolume();
    long t1 = System.nanoTime();
    ControllerPublishVolumeResponse pub =
        controller()
            .controllerPublishVolume(
                ControllerPublishVolumeRequest.newBuilder()
                    .setVolumeId(v.getVolumeId())
                    .setNodeId(node)
                    .setVolumeCapability(ext4())
                    .build());
    long t2 = System.nanoTime();
    node(node)
        .nodeStageVolume(
            NodeStageVolumeRequest.newBuilder()
                .setVolumeId(v.getVolumeId())
                .putAllPublishContext(pub.getPublishContextMap())
                .putAllVolumeContext(v.getVolumeContextMap())
                .setStagingTargetPath(staging.toString())
                .setVolumeCapability(ext4())
                .build());
    long t3 = System.nanoTime();
    node(node)
        .nodePublishVolume(
            NodePublishVolumeRequest.newBuilder()
                .setVolumeId(v.getVolumeId())
                .putAllPublishContext(pub.getPublishContextMap())
                .putAllVolumeContext(v.getVolumeContextMap())
                .setStagingTargetPath(staging.toString())
                .setTargetPath(target.toString())
                .setVolumeCapability(ext4())
                .build());
    long t4 = System.nanoTime();
    System.out.printf(
        "  %-28s %s on %s: CreateVolume -> mounted %.0f ms (create %.0f, controller publish %.0f,"
            + " stage incl. mkfs.ext4 %.0f, publish %.0f)%n",
        name,
        v.getVolumeId(),
        node,
        (t4 - t0) / 1e6,
        (t1 - t0) / 1e6,
        (t2 - t1) / 1e6,
        (t3 - t2) / 1e6,
        (t4 - t3) / 1e6);
    return new Target(
        name,
        target,
        () -> {
          try {
            node(node)
                .nodeUnpublishVolume(
                    NodeUnpublishVolumeRequest.newBuilder()
                        .setVolumeId(v.getVolumeId())
                        .setTargetPath(target.toString())
                        .build());
            node(node)
                .nodeUnstageVolume(
                    NodeUnstageVolumeRequest.newBuilder()
                        .setVolumeId(v.getVolumeId())
                        .setStagingTargetPath(staging.toString())
                        .build());
            controller()
                .controllerUnpublishVolume(
                    ControllerUnpublishVolumeRequest.newBuilder()
                        .setVolumeId(v.getVolumeId())
                        .setNodeId(node)
                        .build());
            controller()
                .deleteVolume(
                    DeleteVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
          } catch (RuntimeException e) {
            System.out.println("  taking down " + name + " failed: " + e.getMessage());
          }
        });
  }

  // ---- fio ----

  Map<String, Map<String, Result>> measure(List<Target> targets, int ioSeconds) {
    Map<String, String> broken = new LinkedHashMap<>();
    for (Target t : targets) {
      long start = System.nanoTime();
      try {
        fio(t, "fill", List.of("--rw=write", "--bs=1m", "--iodepth=4"), 600);
        System.out.printf(
            "  filled %-28s in %.1f s%n", t.name(), (System.nanoTime() - start) / 1e9);
      } catch (IllegalStateException e) {
        broken.put(t.name(), "the fill");
        System.out.printf("  fill of %-28s FAILED: %s%n", t.name(), e.getMessage());
      }
    }
    Map<String, Map<String, Result>> out = new LinkedHashMap<>();
    for (Workload w : WORKLOADS) {
      for (Target t : targets) {
        Result r;
        if (broken.containsKey(t.name())) {
          r = Result.failed("not run: " + broken.get(t.name()) + " failed");
        } else {
          try {
            r =
                fio(
                    t,
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
                    ioSeconds + 60);
          } catch (IllegalStateException e) {
            r = Result.failed(e.getMessage());
            broken.put(t.name(), w.name());
          }
        }
        out.computeIfAbsent(w.name(), k -> new LinkedHashMap<>()).put(t.name(), r);
        System.out.printf(
            "  %-22s %-28s %s%n",
            w.name(),
            t.name(),
            r.ok()
                ? String.format("%.0f IOPS, %.1f MiB/s", r.iops(), r.bytesPerS() / (1 << 20))
                : "FAILED: " + r.failure());
      }
    }
    return out;
  }

  Result fio(Target t, String name, List<String> workload, int timeoutS) {
    try {
      int run = ++runs;
      Path json = work.resolve("fio-" + run + ".json");
      List<String> cmd = new ArrayList<>();
      cmd.add("fio");
      cmd.add("--name=" + name.replace(' ', '-'));
      cmd.add("--ioengine=libaio");
      cmd.add("--direct=1");
      cmd.add("--filename=" + t.mount().resolve("fio.dat"));
      cmd.add("--size=" + fioBytes);
      cmd.addAll(workload);
      cmd.add("--output-format=json");
      cmd.add("--output=" + json);
      ChildProcess p = ChildProcess.program(cmd).name("fio-" + run).log(log("fio-" + run)).start();
      processes.add(p);
      if (!p.awaitExit(Duration.ofSeconds(timeoutS))) {
        p.kill();
        throw new IllegalStateException("fio " + name + " on " + t.name() + " ran over");
      }
      String text = Files.exists(json) ? Files.readString(json) : "";
      if (p.exitValue() != 0 || text.indexOf('{') < 0) {
        throw new IllegalStateException(
            "fio "
                + name
                + " on "
                + t.name()
                + " failed: "
                + ChildProcess.tail(log("fio-" + run), 20));
      }
      JsonNode job =
          new ObjectMapper().readTree(text.substring(text.indexOf('{'))).get("jobs").get(0);
      JsonNode read = job.get("read");
      JsonNode write = job.get("write");
      JsonNode d = write.get("total_ios").asLong() > read.get("total_ios").asLong() ? write : read;
      return new Result(d.get("iops").asDouble(), d.get("bw_bytes").asDouble(), null);
    } catch (IOException e) {
      throw new IllegalStateException("fio " + name + " on " + t.name() + ": " + e);
    }
  }

  void print(List<Target> targets, Map<String, Map<String, Result>> results) {
    System.out.println();
    System.out.println(
        "== fio (libaio, direct=1) on ext4: through the CSI driver vs on a loop device over a local"
            + " file; ratio = driver / loop ==");
    StringBuilder h = new StringBuilder(String.format("%-22s", "workload"));
    for (Target t : targets) {
      h.append(String.format(" %-30s", t.name()));
    }
    System.out.println(h);
    for (Workload w : WORKLOADS) {
      Map<String, Result> row = results.get(w.name());
      Result base = row.get(LOOP);
      StringBuilder b = new StringBuilder(String.format("%-22s", w.name()));
      for (Target t : targets) {
        Result r = row.get(t.name());
        boolean small = w.bs().equals("4k");
        String cell;
        if (!r.ok()) {
          cell = "FAILED";
        } else {
          cell =
              small
                  ? String.format("%.0f IOPS", r.iops())
                  : String.format("%.1f MiB/s", r.bytesPerS() / (1 << 20));
          if (!t.name().equals(LOOP) && base.ok()) {
            cell +=
                String.format(
                    " (%.2f)", small ? r.iops() / base.iops() : r.bytesPerS() / base.bytesPerS());
          }
        }
        b.append(String.format(" %-30s", cell));
      }
      System.out.println(b);
    }
    for (Map.Entry<String, Map<String, Result>> e : results.entrySet()) {
      for (Map.Entry<String, Result> r : e.getValue().entrySet()) {
        if (!r.getValue().ok()) {
          System.out.printf(
              "FAILED %s on %s: %s%n", e.getKey(), r.getKey(), r.getValue().failure());
        }
      }
    }
  }

  // ---- processes and the host ----

  Path log(String name) {
    return work.resolve("logs").resolve(name + ".log");
  }

  void startAgent(String id, String topology) throws IOException {
    Path tokenFile = work.resolve("token-" + id);
    Files.writeString(tokenFile, TOKEN + "\n");
    List<String> args =
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
            "--probe-bytes=256KiB");
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

  static void check(int seconds, String... command) {
    if (!HostCommands.exec(seconds, command)) {
      throw new IllegalStateException(String.join(" ", command) + " failed");
    }
  }

  /** Runs a short command and returns its standard output (it must exit 0 within the time). */
  String output(int seconds, String... command) throws Exception {
    Path out = work.resolve("cmd-" + (++runs) + ".out");
    Process p =
        new ProcessBuilder(command)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .redirectOutput(out.toFile())
            .start();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      ChildProcess.kill(p.toHandle());
      throw new IllegalStateException(String.join(" ", command) + " ran over");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed");
    }
    return Files.readString(out);
  }

  static void await(String what, int seconds, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not within " + seconds + " s: " + what);
      }
      Thread.sleep(200);
    }
  }

  /**
   * Stops every process this run started, by PID, then etcd; then unmounts what is still mounted
   * under the work directory (deepest first) and detaches the loop devices over its files.
   */
  void stopAll() {
    channels.values().forEach(ManagedChannel::shutdownNow);
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
    Path w = work;
    if (w != null) {
      releaseHost(w);
    }
  }

  static void releaseHost(Path root) {
    String prefix = root.toAbsolutePath().normalize().toString();
    List<String> mounts = new ArrayList<>();
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String mp = l.split(" ")[4].replace("\\040", " ");
        if (mp.startsWith(prefix + "/")) {
          mounts.add(mp);
        }
      }
    } catch (IOException e) {
      System.out.println("cannot read /proc/self/mountinfo: " + e);
    }
    try {
      Process p =
          new ProcessBuilder("losetup", "-n", "-l", "-O", "NAME,BACK-FILE")
              .redirectErrorStream(true)
              .start();
      if (p.waitFor(30, TimeUnit.SECONDS)) {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        for (String line : out.lines().toList()) {
          String[] f = line.trim().split("\\s+", 2);
          if (f.length == 2 && f[1].startsWith(prefix + "/")) {
            HostCommands.exec(30, "losetup", "-d", f[0]);
          }
        }
      } else {
        ChildProcess.kill(p.toHandle());
      }
    } catch (IOException e) {
      System.out.println("losetup: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }

    mounts.sort(Comparator.comparingInt(String::length).reversed());
    for (String m : mounts) {
      HostCommands.exec(30, "umount", "-l", m);
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
