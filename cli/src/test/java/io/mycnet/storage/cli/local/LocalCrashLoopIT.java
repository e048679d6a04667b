package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.cli.LocalClient;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Local mode's control plane in a crash loop, as a user would cause it: {@code mycnet local up}
 * from the launcher (etcd, the control plane and six agents as processes), claims added and removed
 * in the manifest directory throughout, and the control plane SIGKILLed (by PID) at random moments:
 * {@link #ROUNDS} rounds (8 by default; 20 with {@code mvn -Plong verify}, which sets {@code
 * mycnet.crashloop.rounds}), each with one kill, about a third of them with a second kill while
 * {@code local up} is starting it again; each round ends with one {@code local up}. Bounded: at
 * most two kills per round and one {@code local up} more than rounds, then at most 180 s of quiet
 * (the orphan delay is 5 s here). At the end the allocations are exactly the remaining claims
 * (nothing leaked, nothing lost), no disk holds a replica of a removed claim, the accounting is
 * exact, and every remaining claim is Bound with its volume healthy. The figures are printed and
 * written to {@code target/crash-loop-figures.txt}.
 */
class LocalCrashLoopIT {
  static final Path ROOT =
      Path.of(System.getProperty("mycnet.root", "..")).toAbsolutePath().normalize();
  static final int ROUNDS = Integer.getInteger("mycnet.crashloop.rounds", 8);
  static final String NS = "mycnet-demo";
  static Path state;
  static Path manifests;

  @BeforeAll
  static void prepare() throws IOException {
    state = Path.of("target", "crash-loop-it-state").toAbsolutePath();
    manifests = Path.of("target", "crash-loop-it-manifests").toAbsolutePath();
    if (Files.exists(state)) {
      run(List.of("local", "down", "--wipe"), 120);
    }
    if (Files.exists(manifests)) {
      try (Stream<Path> s = Files.list(manifests)) {
        for (Path p : s.toList()) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(manifests);
    for (String f :
        List.of(
            "00-namespace.yaml",
            "10-trustpolicy-default.yaml",
            "20-storagepool-core.yaml",
            "21-storagepool-edge.yaml")) {
      Files.copy(ROOT.resolve("samples").resolve(f), manifests.resolve(f));
    }
    Files.writeString(
        manifests.resolve("30-servicenamespace.yaml"),
        """
        apiVersion: storage.mycnet.io/v1alpha1
        kind: ServiceNamespace
        metadata:
          name: loop
          namespace: mycnet-demo
        spec:
          quota:
            bytes: 100Gi
            volumes: 200
          pools: [core]
          deletionPolicy: Retain
        """);
  }

  @AfterAll
  static void down() throws Exception {
    Result r = run(List.of("local", "down", "--wipe"), 120);
    assertThat(r.code).as(r.output).isZero();
  }

  record Result(int code, String output) {}

  static ProcessBuilder command(List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ROOT.resolve("mycnet").toString());
    cmd.addAll(args);
    cmd.add("--state-dir=" + state);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("MYCNET_SKIP_BUILD", "1");
    pb.environment().put("MYCNET_HOME", ROOT.toString());
    pb.environment().put("MYCNET_ORPHAN_GC_DELAY", "5s");
    return pb;
  }

  static Result run(List<String> args, long timeoutSeconds) throws IOException {
    Path log = Files.createTempFile("mycnet-", ".out");
    Process p = command(args).redirectOutput(log.toFile()).start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(
            "mycnet "
                + String.join(" ", args)
                + " did not finish in time:\n"
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

  static Optional<ProcessHandle> controlPlane() {
    Path pid = new LocalState(state).pidFile("control-plane");
    try {
      long id = Long.parseLong(Files.readString(pid).trim());
      return ProcessHandle.of(id).filter(ProcessHandle::isAlive);
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  static boolean kill() throws InterruptedException {
    Optional<ProcessHandle> cp = controlPlane();
    if (cp.isEmpty()) {
      return false;
    }
    cp.get().destroyForcibly();
    for (int i = 0; i < 100 && cp.get().isAlive(); i++) {
      Thread.sleep(100);
    }
    return true;
  }

  static String claim(String name) {
    return """
        apiVersion: storage.mycnet.io/v1alpha1
        kind: StorageClaim
        metadata:
          name: %s
          namespace: mycnet-demo
        spec:
          serviceNamespace: loop
          size: 16Mi
          storageType: SERVICE
        """
        .formatted(name);
  }

  @Test
  void allocationsFollowTheClaimsThroughTwentyRoundsOfKills() throws Exception {
    Random random = new Random(20);
    Result up = run(List.of("local", "up", "--manifests=" + manifests), 300);
    assertThat(up.code).as(up.output).isZero();

    Set<String> present = new TreeSet<>();
    Set<String> removed = new TreeSet<>();
    int added = 0;
    int kills = 0;
    int killsDuringStart = 0;
    for (int round = 0; round < ROUNDS; round++) {
      // Claims come and go: two added, one removed (once there are some), each its own file.
      for (int i = 0; i < 2; i++) {
        String name = "c" + (added++);
        Files.writeString(manifests.resolve("50-" + name + ".yaml"), claim(name));
        present.add(name);
      }
      if (present.size() > 3) {
        List<String> list = new ArrayList<>(present);
        String gone = list.get(random.nextInt(list.size()));
        Files.delete(manifests.resolve("50-" + gone + ".yaml"));
        present.remove(gone);
        removed.add(gone);
      }
      Thread.sleep(random.nextInt(4000));
      if (kill()) {
        kills++;
      }
      if (random.nextInt(3) == 0) {
        // Killed again while `local up` is starting it.
        Process starting =
            command(List.of("local", "up", "--manifests=" + manifests))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        starting.waitFor(500 + random.nextInt(4000), TimeUnit.MILLISECONDS);
        if (kill()) {
          kills++;
          killsDuringStart++;
        }
        if (!starting.waitFor(300, TimeUnit.SECONDS)) {
          starting.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      Result again = run(List.of("local", "up", "--manifests=" + manifests), 300);
      assertThat(again.code).as(again.output).isZero();
    }

    // Quiet: wait for the control plane to settle (orphan delay 5 s), bounded.
    Set<String> wanted =
        present.stream().map(n -> NS + "." + n).collect(Collectors.toCollection(TreeSet::new));
    Map<String, String> figures = new TreeMap<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    List<Allocation> volumes;
    List<StorageClaim> claims;
    try (LocalClient c = new LocalClient(new LocalState(state))) {
      while (true) {
        volumes = c.volumes();
        claims = c.kube().resources(StorageClaim.class).inNamespace(NS).list().getItems();
        Set<String> ids = volumes.stream().map(Allocation::getVolumeId).collect(Collectors.toSet());
        boolean allBound =
            claims.size() == present.size()
                && claims.stream()
                    .allMatch(
                        x -> x.getStatus() != null && x.getStatus().getPhase() == ClaimPhase.Bound);
        if ((ids.equals(wanted) && allBound && noRemovedReplicaOnDisk(removed).isEmpty())
            || System.nanoTime() > deadline) {
          break;
        }
        Thread.sleep(1000);
      }
      Set<String> ids = volumes.stream().map(Allocation::getVolumeId).collect(Collectors.toSet());
      long leaked = ids.stream().filter(id -> !wanted.contains(id)).count();
      long lost = wanted.stream().filter(id -> !ids.contains(id)).count();
      long lostState =
          volumes.stream().filter(a -> a.getState() == VolumeState.VOLUME_STATE_LOST).count();
      long notHealthy =
          volumes.stream()
              .filter(
                  a ->
                      a.getState() != VolumeState.VOLUME_STATE_BOUND
                          || a.getReplicasList().stream()
                              .anyMatch(r -> r.getState() != ReplicaState.REPLICA_STATE_HEALTHY))
              .count();
      long notBound =
          claims.stream()
              .filter(x -> x.getStatus() == null || x.getStatus().getPhase() != ClaimPhase.Bound)
              .count();
      List<String> onDisk = noRemovedReplicaOnDisk(removed);
      figures.put("kills", kills + " (" + killsDuringStart + " during start-up)");
      figures.put("claims added", String.valueOf(added));
      figures.put("claims removed", String.valueOf(removed.size()));
      figures.put("claims remaining", String.valueOf(present.size()));
      figures.put("allocations found", String.valueOf(volumes.size()));
      figures.put("leaked", String.valueOf(leaked));
      figures.put("lost", lost + " missing, " + lostState + " in state LOST");
      figures.put("volumes not healthy", String.valueOf(notHealthy));
      figures.put("claims not Bound", String.valueOf(notBound));
      figures.put("replicas of removed claims on disk", String.valueOf(onDisk.size()));
      System.out.println("crash loop figures: " + figures);
      Files.writeString(
          Path.of("target", "crash-loop-figures.txt"),
          figures.entrySet().stream()
              .map(e -> e.getKey() + ": " + e.getValue())
              .collect(Collectors.joining("\n", "", "\n")));

      assertThat(kills).isGreaterThanOrEqualTo(ROUNDS);
      assertThat(leaked).as("leaked " + figures).isZero();
      assertThat(ids).as("allocations " + figures).isEqualTo(wanted);
      assertThat(onDisk).as("replicas of removed claims " + figures).isEmpty();
      assertThat(AllocationAudit.check(c.store, c.keys)).as("accounting").isEmpty();
      assertThat(lostState).as("lost " + figures).isZero();
      assertThat(notBound).as("claims not Bound " + figures).isZero();
      assertThat(notHealthy).as("volumes not healthy " + figures).isZero();
      for (Allocation a : volumes) {
        for (Replica r : a.getReplicasList()) {
          assertThat(
                  new LocalState(state)
                      .nodeDir(r.getNodeId())
                      .resolve("replicas")
                      .resolve(a.getVolumeId()))
              .as(a.getVolumeId() + " on " + r.getNodeId())
              .isDirectory();
        }
      }
    }
  }

  /** Replica directories of removed claims still on some node's disk, as volume@node. */
  static List<String> noRemovedReplicaOnDisk(Set<String> removed) throws IOException {
    List<String> out = new ArrayList<>();
    Path nodes = state.resolve("nodes");
    try (Stream<Path> s = Files.list(nodes)) {
      for (Path node : s.toList()) {
        for (String name : removed) {
          if (Files.exists(node.resolve("replicas").resolve(NS + "." + name))) {
            out.add(NS + "." + name + "@" + node.getFileName());
          }
        }
      }
    }
    return out;
  }
}
