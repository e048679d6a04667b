package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.cli.LocalClient;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Stopping is not failing: {@code mycnet local down} and {@code local up} with the data kept, on
 * twelve nodes (three regions, ten CRITICAL-tier and two STANDARD-tier nodes) with a STRONG and an
 * EVENTUAL claim of every classification, bring every volume back to its state — the same replicas
 * on the same nodes, every one healthy, the same primary — and every written byte back from every
 * replica. Everything runs as a user runs it: the {@code ./mycnet} launcher of the built
 * distribution, etcd, the control plane and the agents as its processes. Also: a {@code local up}
 * whose agent fails to start stops the processes it started.
 */
class LocalDownUpIT {
  static final Path ROOT =
      Path.of(System.getProperty("mycnet.root", "..")).toAbsolutePath().normalize();
  static final Path TOPOLOGY = Path.of("src/test/resources/down-up/topology.yaml").toAbsolutePath();
  static final Path MANIFESTS = Path.of("src/test/resources/down-up/manifests").toAbsolutePath();
  static final String NS = "mycnet-demo";

  private final List<Path> states = new ArrayList<>();

  @AfterEach
  void downAndWipe() throws IOException {
    for (Path state : states) {
      Result r = run(state, List.of("local", "down", "--wipe"), 180);
      assertThat(r.code).as(r.output).isZero();
      assertThat(processesOf(state)).as("processes of " + state).isEmpty();
    }
  }

  private Path state(String name) throws IOException {
    Path state = Path.of("target", name).toAbsolutePath();
    if (Files.exists(state)) {
      run(state, List.of("local", "down", "--wipe"), 180);
    }
    states.add(state);
    return state;
  }

  record Result(int code, String output) {}

  static Result run(Path state, List<String> args, long timeoutSeconds) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ROOT.resolve("mycnet").toString());
    cmd.addAll(args);
    cmd.add("--state-dir=" + state);
    Path log = Files.createTempFile("mycnet-", ".out");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("MYCNET_SKIP_BUILD", "1");
    pb.environment().put("MYCNET_HOME", ROOT.toString());
    Process p = pb.start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(
            "mycnet "
                + String.join(" ", args)
                + " did not finish within "
                + timeoutSeconds
                + "s:\n"
                + Files.readString(log));
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
    String out = Files.readString(log);
    Files.delete(log);
    return new Result(p.exitValue(), out);
  }

  /** Processes whose command line names the state directory (local mode's, by construction). */
  static List<Long> processesOf(Path state) {
    String root = state.toAbsolutePath().normalize().toString();
    return ProcessHandle.allProcesses()
        .filter(h -> h.pid() != ProcessHandle.current().pid())
        .filter(h -> LocalProcesses.commandLine(h).contains(root))
        .map(ProcessHandle::pid)
        .toList();
  }

  /** Per volume: its state, primary, and every replica's node and state, sorted. */
  static Map<String, String> snapshot(LocalClient c) {
    Map<String, String> out = new TreeMap<>();
    for (Allocation a : c.volumes()) {
      out.put(
          a.getVolumeId(),
          a.getState().name()
              + " primary="
              + a.getPrimaryNodeId()
              + " "
              + a.getReplicasList().stream()
                  .map(r -> r.getNodeId() + ":" + r.getState().name())
                  .sorted()
                  .collect(Collectors.joining(",")));
    }
    return out;
  }

  static boolean allHealthy(LocalClient c, int volumes) {
    List<Allocation> all = c.volumes();
    return all.size() == volumes
        && all.stream()
            .allMatch(
                a ->
                    a.getState() == VolumeState.VOLUME_STATE_BOUND
                        && a.getReplicasCount() == 3
                        && a.getReplicasList().stream()
                            .allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY));
  }

  @Test
  void aCleanStopAndStartMovesAndLosesNothing() throws Exception {
    Path state = state("down-up-it-state");
    LocalTopology topology = LocalTopology.read(TOPOLOGY);
    assertThat(topology.nodes()).hasSizeGreaterThanOrEqualTo(12);
    int claims = 8;
    Result up =
        run(
            state,
            List.of(
                "local",
                "up",
                "--topology=" + TOPOLOGY,
                "--manifests=" + MANIFESTS,
                "--timeout=300s"),
            900);
    assertThat(up.code).as(up.output).isZero();
    // Local mode is reachable from this host only: every socket any of its processes listens on
    // (etcd, the API server, the control plane's gRPC and HTTP ports, every agent's) is loopback.
    List<Long> upPids = processesOf(state);
    assertThat(upPids).hasSizeGreaterThanOrEqualTo(2 + topology.nodes().size());
    for (long pid : upPids) {
      List<java.net.InetSocketAddress> listening = ListeningSockets.of(pid);
      assertThat(listening)
          .as("listening sockets of " + LocalProcesses.commandLine(ProcessHandle.of(pid).get()))
          .isNotEmpty()
          .allSatisfy(
              a -> assertThat(a.getAddress().isLoopbackAddress()).as(a.toString()).isTrue());
    }

    Map<String, String> before;
    Map<String, byte[]> written = new HashMap<>();
    try (LocalClient c = new LocalClient(new LocalState(state))) {
      AtomicReference<String> last = new AtomicReference<>("not checked");
      try {
        await("every claim Bound, every replica healthy")
            .atMost(Duration.ofMinutes(5))
            .pollInterval(Duration.ofSeconds(2))
            .until(
                () -> {
                  try {
                    List<String> phases =
                        c
                            .kube()
                            .resources(StorageClaim.class)
                            .inNamespace(NS)
                            .list()
                            .getItems()
                            .stream()
                            .map(
                                s ->
                                    s.getMetadata().getName()
                                        + "="
                                        + (s.getStatus() == null ? null : s.getStatus().getPhase()))
                            .toList();
                    last.set(phases + " " + snapshot(c));
                    return phases.size() == claims
                        && phases.stream().allMatch(ph -> ph.endsWith("=Bound"))
                        && allHealthy(c, claims);
                  } catch (RuntimeException e) {
                    last.set(e.toString());
                    return false;
                  }
                });
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError("not every claim Bound and healthy; last seen: " + last.get(), e);
      }
      // Every classification is there, on the nodes its tier allows.
      assertThat(
              c.volumes().stream()
                  .map(a -> a.getClassification().name())
                  .collect(Collectors.toSet()))
          .containsExactlyInAnyOrder(
              "CLASSIFICATION_CRITICAL",
              "CLASSIFICATION_SENSITIVE",
              "CLASSIFICATION_STANDARD",
              "CLASSIFICATION_PUBLIC");
      SecureRandom random = new SecureRandom();
      for (Allocation a : c.volumes()) {
        byte[] data = new byte[64 * 1024];
        random.nextBytes(data);
        c.write(a, 4096, data);
        written.put(a.getVolumeId(), data);
      }
      before = snapshot(c);
    }

    List<Long> pids = processesOf(state);
    assertThat(pids).hasSize(topology.nodes().size() + 2);
    Result down = run(state, List.of("local", "down"), 300);
    assertThat(down.code).as(down.output).isZero();
    // The control plane goes first, then the agents, then etcd.
    int cp = down.output.indexOf("stopped control-plane");
    int firstAgent = down.output.indexOf("stopped agent-");
    int etcd = down.output.indexOf("stopped etcd");
    assertThat(cp).as(down.output).isNotNegative().isLessThan(firstAgent);
    assertThat(etcd).as(down.output).isGreaterThan(down.output.lastIndexOf("stopped agent-"));
    assertThat(down.output).contains("data kept");
    for (long pid : pids) {
      assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).as("pid " + pid).isEmpty();
    }
    String cpLog = Files.readString(state.resolve("logs").resolve("control-plane.log"));
    assertThat(cpLog).contains("replication decisions stop first");

    up =
        run(
            state,
            List.of(
                "local",
                "up",
                "--topology=" + TOPOLOGY,
                "--manifests=" + MANIFESTS,
                "--timeout=300s"),
            900);
    assertThat(up.code).as(up.output).isZero();
    // Every agent had joined: they start first and are reconnecting when the control plane starts.
    assertThat(up.output.indexOf("] agent "))
        .as(up.output)
        .isNotNegative()
        .isLessThan(up.output.indexOf("] control plane ("));
    try (LocalClient c = new LocalClient(new LocalState(state))) {
      await("every node live again")
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofSeconds(1))
          .ignoreExceptions()
          .until(() -> topology.ids().stream().allMatch(c.registry::isLive));
      // Through the node lease and the grace period (6 s + 10 s) several times over, with a
      // replication pass every 2 s: the volumes are as they were, and stay so.
      AtomicReference<Map<String, String>> seen = new AtomicReference<>();
      try {
        await("every volume as before the stop, for 40 s on end")
            .during(Duration.ofSeconds(40))
            .atMost(Duration.ofMinutes(3))
            .pollInterval(Duration.ofSeconds(2))
            .ignoreExceptions()
            .until(
                () -> {
                  seen.set(snapshot(c));
                  return seen.get().equals(before);
                });
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        assertThat(seen.get()).as("the volumes after local down and local up").isEqualTo(before);
        throw e;
      }
      assertThat(snapshot(c)).isEqualTo(before);
      for (Allocation a : c.volumes()) {
        for (Replica r : a.getReplicasList()) {
          assertThat(c.read(a, r.getNodeId(), 4096, 64 * 1024))
              .as(a.getVolumeId() + " on " + r.getNodeId())
              .isEqualTo(written.get(a.getVolumeId()));
        }
      }
      // Nothing else moved: no claim changed phase.
      assertThat(
              c.kube().resources(StorageClaim.class).inNamespace(NS).list().getItems().stream()
                  .map(s -> String.valueOf(s.getStatus().getPhase())))
          .hasSize(claims)
          .allMatch("Bound"::equals);
    }
  }

  @Test
  void anAgentThatFailsToStartStopsWhatThatStartStarted() throws Exception {
    Path state = state("failed-up-it-state");
    Path topology = state.getParent().resolve("failed-up-topology.yaml");
    List<String> lines = Files.readAllLines(TOPOLOGY);
    // The first two nodes only.
    int third = -1;
    int seen = 0;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith("  - id: ") && ++seen == 3) {
        third = i;
        break;
      }
    }
    Files.write(topology, lines.subList(0, third));
    LocalTopology t = LocalTopology.read(topology);
    assertThat(t.nodes()).hasSize(2);
    // The second node's at-rest key is not a key: its agent refuses to start.
    Path key = state.resolve("keys").resolve(t.nodes().get(1).id() + ".key");
    Files.createDirectories(key.getParent());
    Files.writeString(
        Files.createFile(
            key,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
        "not a key\n");

    Result up =
        run(
            state,
            List.of(
                "local",
                "up",
                "--topology=" + topology,
                "--manifests=" + MANIFESTS,
                "--timeout=300s"),
            900);
    assertThat(up.code).as(up.output).isEqualTo(1);
    assertThat(up.output)
        .contains("agent-" + t.nodes().get(1).id() + " exited")
        .contains("stopping what this start started: control-plane, ")
        .doesNotContain("\tat ");
    assertThat(processesOf(state)).as(up.output).isEmpty();
    try (var pidFiles = Files.list(state.resolve("pids"))) {
      assertThat(pidFiles.toList()).isEmpty();
    }
  }
}
