package io.mycnet.storage.agent.it;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.IdentityGrpc;
import io.mycnet.storage.csi.v1.NodeGrpc;
import io.mycnet.storage.csi.v1.ProbeRequest;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The CSI tests' cluster: {@link DataPathCluster} (a real etcd, the production control plane as a
 * child JVM, one agent process per node, each in its own zone, every node vetted) with the CSI
 * controller served by the control plane on {@link #controllerSocket} ({@code
 * MYCNET_CSI_CONTROLLER_SOCKET}) and each agent's node plugin on its default {@code <data
 * dir>/csi.sock}; a Kubernetes {@code Node} per agent and one ServiceNamespace, {@link #SNS}, in
 * the Kubernetes namespace the control plane reconciles, applied as a user applies them. Whatever
 * the node plugins leave mounted under the test's directory (a killed agent's nbdfuse mount, loop
 * device and bind mounts) is unmounted and detached in {@link #close}.
 */
final class CsiCluster implements AutoCloseable {
  /**
   * The Kubernetes namespace of the volumes' StorageClaims: the one the control plane reconciles.
   */
  static final String KNS = "mycnet-reconciled";

  /** The ServiceNamespace every CSI volume of these tests belongs to. */
  static final String SNS = "csi";

  final DataPathCluster dp;
  final ControlPlaneFixture cp;
  final Path dir;
  final Path controllerSocket;
  private final KubernetesClient kube;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  /**
   * Starts the cluster ({@code nodes} with {@code agentFlags}; {@code controlPlaneSettings}:
   * further {@code MYCNET_NAME=value}) and waits until the controller and every node plugin answer
   * Probe.
   */
  CsiCluster(
      Path dir,
      EtcdExtension etcd,
      String token,
      List<String> nodes,
      String logDir,
      List<String> agentFlags,
      List<String> controlPlaneSettings,
      String quota)
      throws Exception {
    this.dir = dir;
    this.controllerSocket = dir.resolve("csi").resolve("controller.sock");
    Files.createDirectories(controllerSocket.getParent());
    List<String> settings = new ArrayList<>();
    // A replication pass at least every 2 s (production: 30 s), as the block-export tests run.
    settings.add("MYCNET_REPLICATION_INTERVAL=2s");
    settings.add("MYCNET_CSI_CONTROLLER_SOCKET=" + controllerSocket);
    settings.addAll(controlPlaneSettings);
    dp =
        new DataPathCluster(
            dir, etcd, token, nodes, Duration.ofSeconds(10), logDir, n -> agentFlags, settings);
    cp = dp.cp;
    kube = cp.kube();
    for (String n : nodes) {
      if (kube.nodes().withName(n).get() == null) {
        kube.nodes()
            .resource(new NodeBuilder().withNewMetadata().withName(n).endMetadata().build())
            .create();
      }
    }
    serviceNamespace(quota);
    await("the CSI controller on " + controllerSocket + " and every node plugin answer Probe")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(() -> probe(controllerSocket) && nodes.stream().allMatch(n -> probe(nodeSocket(n))));
  }

  /** Applies the ServiceNamespace {@link #SNS} with {@code quota} bytes and waits until Ready. */
  private void serviceNamespace(String quota) {
    String yaml =
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: ServiceNamespace",
            "metadata:",
            "  name: " + SNS,
            "  namespace: " + KNS,
            "spec:",
            "  quota:",
            "    bytes: " + quota,
            "    volumes: 100",
            "  allowedClassifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]",
            "  pools: [default]",
            "  deletionPolicy: Delete",
            "");
    kube.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).createOrReplace();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              ServiceNamespace s =
                  kube.resources(ServiceNamespace.class).inNamespace(KNS).withName(SNS).get();
              List<Condition> c =
                  s == null || s.getStatus() == null ? null : s.getStatus().getConditions();
              return c != null
                  && c.stream()
                      .anyMatch(x -> "Ready".equals(x.getType()) && "True".equals(x.getStatus()));
            });
  }

  /** The StorageClass parameters of these tests' volumes (the ServiceNamespace {@link #SNS}). */
  static Map<String, String> parameters(String replicas, String consistency) {
    return Map.of(
        "serviceNamespace",
        KNS + "/" + SNS,
        "classification",
        "STANDARD",
        "replicas",
        replicas,
        "consistency",
        consistency);
  }

  Path nodeSocket(String node) {
    return cp.agentDataDir(node).resolve("csi.sock");
  }

  private ManagedChannel channel(Path socket) {
    return channels.computeIfAbsent(socket.toString(), k -> UnixSocketGrpc.channel(socket));
  }

  private boolean probe(Path socket) {
    if (!Files.exists(socket)) {
      return false;
    }
    return IdentityGrpc.newBlockingStub(channel(socket))
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .probe(ProbeRequest.getDefaultInstance())
        .getReady()
        .getValue();
  }

  ControllerGrpc.ControllerBlockingStub controller() {
    return ControllerGrpc.newBlockingStub(channel(controllerSocket))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  NodeGrpc.NodeBlockingStub node(String node) {
    return NodeGrpc.newBlockingStub(channel(nodeSocket(node)))
        .withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  /** Forgets the channel to {@code node}'s plugin (its agent was killed or restarted). */
  void forget(String node) {
    ManagedChannel ch = channels.remove(nodeSocket(node).toString());
    if (ch != null) {
      ch.shutdownNow();
    }
  }

  @Override
  public void close() throws Exception {
    channels.values().forEach(ManagedChannel::shutdownNow);
    kube.close();
    try {
      dp.close();
    } finally {
      releaseHost(dir);
    }
  }

  // ---- the host's mounts and loop devices under a directory ----

  /**
   * Unmounts every mount point under {@code root} (deepest first) and detaches every loop device
   * whose backing file is under it: what a node plugin leaves when its agent is killed or a test
   * fails half-way. Each command is bounded in time; a failure is reported, not thrown.
   */
  static void releaseHost(Path root) {
    String prefix = root.toAbsolutePath().normalize().toString();
    // Loop devices first, while their backing files (on an nbdfuse mount) still have their paths:
    // one still mounted is detached when its file system is unmounted below.
    for (String line : lines(List.of("losetup", "-n", "-l", "-O", "NAME,BACK-FILE"))) {
      String[] f = line.trim().split("\\s+", 2);
      if (f.length == 2 && f[1].startsWith(prefix)) {
        run(List.of("losetup", "-d", f[0]));
      }
    }
    for (String mountPoint : mountsUnder(prefix)) {
      run(List.of("umount", "-l", mountPoint));
    }
  }

  /** The mount points under {@code prefix} (from /proc/self/mountinfo), deepest first. */
  static List<String> mountsUnder(String prefix) {
    List<String> out = new ArrayList<>();
    try {
      for (String l : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String mp = unescape(l.split(" ")[4]);
        if (mp.equals(prefix) || mp.startsWith(prefix + "/")) {
          out.add(mp);
        }
      }
    } catch (IOException e) {
      System.err.println("cannot read /proc/self/mountinfo: " + e);
    }
    out.sort(Comparator.comparingInt(String::length).reversed());
    return out;
  }

  private static String unescape(String s) {
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n");
  }

  static List<String> lines(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      return out.lines().toList();
    } catch (IOException e) {
      return List.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
  }

  static void run(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      } else if (p.exitValue() != 0) {
        System.err.println(String.join(" ", command) + ": " + out.strip());
      }
    } catch (IOException e) {
      System.err.println(String.join(" ", command) + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
