package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.cli.LocalClient;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Local mode as a user runs it (etcd, the control plane and six agents as processes, the default
 * topology and samples) through control-plane and node outages: the control plane SIGKILLed and
 * kept down longer than the grace period moves nothing; a whole region's agents SIGKILLed together
 * holds every DOWN decision and says why; a lost primary moves to its in-sync peer whether or not a
 * spare node exists, and the write gap is measured; a node that comes back gets its replica back.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControlPlaneOutageIT {
  static final Path ROOT =
      Path.of(System.getProperty("mycnet.root", "..")).toAbsolutePath().normalize();
  static final Duration UP = Duration.ofSeconds(120);
  static LocalState state;
  static LocalCluster cluster;
  static LocalClient client;
  static final ByteArrayOutputStream log = new ByteArrayOutputStream();

  @BeforeAll
  static void up() throws Exception {
    Path dir = Path.of("target", "outage-it-state").toAbsolutePath();
    state = new LocalState(dir);
    cluster = new LocalCluster(state, new PrintStream(log, true));
    if (Files.exists(dir)) {
      cluster.down(true);
    }
    cluster.up(ROOT.resolve("config/local/topology.yaml"), ROOT.resolve("samples"), UP);
    client = new LocalClient(state);
    await()
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .until(ControlPlaneOutageIT::everyClaimBound);
  }

  @AfterAll
  static void down() throws Exception {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.down(false);
      Path logs = Path.of("target", "outage-it-logs");
      Files.createDirectories(logs);
      try (var files = Files.list(state.root().resolve("logs"))) {
        for (Path f : files.toList()) {
          Files.copy(
              f, logs.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      cluster.down(true);
    }
  }

  static boolean everyClaimBound() {
    List<StorageClaim> claims =
        client.kube().resources(StorageClaim.class).inAnyNamespace().list().getItems();
    return !claims.isEmpty()
        && claims.stream()
            .allMatch(
                c ->
                    c.getStatus() != null
                        && "Bound".equals(String.valueOf(c.getStatus().getPhase())))
        && client.volumes().stream().allMatch(v -> v.getState() == VolumeState.VOLUME_STATE_BOUND);
  }

  /** Per volume: epoch, primary and every replica's node and state. */
  static Map<String, String> snapshot() {
    Map<String, String> out = new TreeMap<>();
    for (Allocation a : client.volumes()) {
      StringBuilder b = new StringBuilder();
      b.append(a.getState()).append(" epoch ").append(a.getEpoch());
      b.append(" primary ").append(a.getPrimaryNodeId());
      a.getReplicasList().stream()
          .map(r -> r.getNodeId() + "=" + r.getState())
          .sorted()
          .forEach(r -> b.append(' ').append(r));
      out.put(a.getVolumeId(), b.toString());
    }
    return out;
  }

  static void assertNothingMoved(Map<String, String> before, Duration during) {
    long end = System.nanoTime() + during.toNanos();
    while (System.nanoTime() < end) {
      assertThat(snapshot()).isEqualTo(before);
      for (NodeRecord n : client.nodes()) {
        assertThat(n.getState())
            .as("state of %s", n.getNodeId())
            .isNotEqualTo(NodeState.NODE_STATE_DOWN);
      }
      LocalProcesses.sleep(1000);
    }
  }

  static boolean everyNodeLive() {
    return client.nodes().stream().allMatch(n -> client.registry.isLive(n.getNodeId()));
  }

  @Test
  @Order(1)
  void theControlPlaneDownLongerThanTheGracePeriodMovesNothing() {
    Map<String, String> before = snapshot();
    assertThat(cluster.processes.kill(LocalCluster.CONTROL_PLANE)).isTrue();
    // Grace 10 s, lease TTL 6 s: every lease expires and the grace would have run out twice.
    LocalProcesses.sleep(22_000);
    assertThat(everyNodeLive()).isFalse();
    cluster.up(Path.of(state.properties().getProperty("topology")), ROOT.resolve("samples"), UP);
    // The new control plane serves its API on a new port.
    client.close();
    client = new LocalClient(state);
    await().atMost(Duration.ofSeconds(30)).until(ControlPlaneOutageIT::everyNodeLive);
    // Past the new leader's reconnect window and grace period: still nothing moved.
    assertNothingMoved(before, Duration.ofSeconds(35));
  }

  @Test
  @Order(2)
  void aWholeRegionSilentAtOnceHoldsEveryDecisionUntilItIsBack() {
    Map<String, String> before = snapshot();
    List<String> eu =
        client.nodes().stream()
            .filter(n -> n.getTopologyPath().startsWith("region=eu/"))
            .map(NodeRecord::getNodeId)
            .sorted()
            .toList();
    assertThat(eu).hasSize(3);
    for (String n : eu) {
      assertThat(cluster.killAgent(n)).isTrue();
    }
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> !client.replication().getHoldReason().isEmpty());
      assertThat(client.replication().getHoldReason()).contains("3 of 6 nodes are silent");
      assertThat(client.replication().getHeldNodesList()).containsExactlyInAnyOrderElementsOf(eu);
      whileHeld(eu, before);
    } finally {
      // The region comes back as a region does: its nodes together.
      List<java.util.concurrent.CompletableFuture<Void>> back = new java.util.ArrayList<>();
      for (String n : eu) {
        back.add(
            java.util.concurrent.CompletableFuture.runAsync(
                () -> cluster.restartAgent(n, null, UP)));
      }
      back.forEach(java.util.concurrent.CompletableFuture::join);
    }
    await().atMost(Duration.ofSeconds(30)).until(ControlPlaneOutageIT::everyNodeLive);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> client.replication().getHoldReason().isEmpty());
    assertNothingMoved(before, Duration.ofSeconds(3));
  }

  static void whileHeld(List<String> eu, Map<String, String> before) {
    // Every claim with a replica there says so; nothing is DOWN, nothing moved.
    Map<String, String> expected = new TreeMap<>();
    for (Allocation v : client.volumes()) {
      boolean there = v.getReplicasList().stream().anyMatch(r -> eu.contains(r.getNodeId()));
      expected.put(v.getVolumeId(), there ? "ReplicationPaused" : "Bound");
    }
    Map<String, String> reasons = new TreeMap<>();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    do {
      reasons.clear();
      for (StorageClaim c :
          client.kube().resources(StorageClaim.class).inAnyNamespace().list().getItems()) {
        String reason = "(no status)";
        if (c.getStatus() != null && c.getStatus().getConditions() != null) {
          reason =
              c.getStatus().getConditions().stream()
                  .filter(x -> x.getType().equals("Replicated"))
                  .map(x -> x.getReason())
                  .findFirst()
                  .orElse("(no Replicated condition)");
        }
        reasons.put(c.getMetadata().getNamespace() + "." + c.getMetadata().getName(), reason);
      }
      LocalProcesses.sleep(1000);
    } while (!reasons.equals(expected) && System.nanoTime() < until);
    assertThat(reasons).isEqualTo(expected);
    assertNothingMoved(before, Duration.ofSeconds(5));
  }

  /** Starts whatever an earlier test left stopped, and waits until {@code volumeId} is BOUND. */
  static void ensureAllUp(String volumeId) {
    cluster.up(Path.of(state.properties().getProperty("topology")), ROOT.resolve("samples"), UP);
    await().atMost(Duration.ofSeconds(30)).until(ControlPlaneOutageIT::everyNodeLive);
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> volume(volumeId).getState() == VolumeState.VOLUME_STATE_BOUND);
  }

  @Test
  @Order(3)
  void aLostPrimaryWithoutASpareNodeMovesToItsPeerAndComesBackByCatchUp() {
    ensureAllUp("mycnet-demo.analytics-events");
    // analytics-events: 2 replicas in the edge pool, which has exactly two nodes.
    Allocation v = volume("mycnet-demo.analytics-events");
    assertThat(v.getReplicasCount()).isEqualTo(2);
    String primary = v.getPrimaryNodeId();
    long gap = killPrimaryAndMeasureWriteGap(v);
    // The role was handed over while the node was only silent; once it is DOWN (the grace) its
    // replica is LOST and, with no spare node in the pool, the volume stays DEGRADED.
    assertThat(volume(v.getVolumeId()).getPrimaryNodeId()).isNotEqualTo(primary);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              Allocation after = volume(v.getVolumeId());
              assertThat(after.getState()).isEqualTo(VolumeState.VOLUME_STATE_DEGRADED);
              assertThat(after.getRepairNote()).startsWith("no repair possible");
            });
    System.out.printf(
        Locale.ROOT, "write gap, primary lost without a spare node: %.1f s%n", gap / 1000.0);

    cluster.restartAgent(primary, null, UP);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () ->
                volume(v.getVolumeId()).getReplicasList().stream()
                    .anyMatch(
                        r ->
                            r.getNodeId().equals(primary)
                                && r.getState() != ReplicaState.REPLICA_STATE_LOST));
    Allocation back = volume(v.getVolumeId());
    assertThat(back.getReplicasList())
        .extracting(Replica::getNodeId)
        .containsExactlyInAnyOrderElementsOf(
            v.getReplicasList().stream().map(Replica::getNodeId).toList());
  }

  @Test
  @Order(4)
  void aLostPrimaryWithASpareNodeMovesToItsPeerAndIsRebuiltElsewhere() {
    ensureAllUp("mycnet-demo.payments-ledger");
    Allocation v = volume("mycnet-demo.payments-ledger");
    String primary = v.getPrimaryNodeId();
    long gap = killPrimaryAndMeasureWriteGap(v);
    // The role was handed over while the node was only silent; once it is DOWN (the grace) a
    // replacement is rebuilt on the spare node.
    assertThat(volume(v.getVolumeId()).getPrimaryNodeId()).isNotEqualTo(primary);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              Allocation after = volume(v.getVolumeId());
              assertThat(after.getState()).isNotEqualTo(VolumeState.VOLUME_STATE_LOST);
              assertThat(after.getReplicasList())
                  .anySatisfy(
                      r -> {
                        assertThat(r.getState())
                            .isIn(
                                ReplicaState.REPLICA_STATE_REBUILDING,
                                ReplicaState.REPLICA_STATE_HEALTHY);
                        assertThat(v.getReplicasList().stream().map(Replica::getNodeId))
                            .doesNotContain(r.getNodeId());
                      });
            });
    System.out.printf(
        Locale.ROOT, "write gap, primary lost with a spare node: %.1f s%n", gap / 1000.0);
    cluster.restartAgent(primary, null, UP);
  }

  static Allocation volume(String id) {
    return client.volume(id).orElseThrow();
  }

  /**
   * Writes 4 KiB through the primary every 200 ms, SIGKILLs the primary's agent, and returns the
   * milliseconds from the kill to the first acknowledged write through the new primary.
   */
  static long killPrimaryAndMeasureWriteGap(Allocation v) {
    byte[] data = new byte[4096];
    new SecureRandom().nextBytes(data);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> tryWrite(v.getVolumeId(), data));
    long killed = System.nanoTime();
    assertThat(cluster.killAgent(v.getPrimaryNodeId())).isTrue();
    long deadline = killed + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      Allocation now = volume(v.getVolumeId());
      if (!now.getPrimaryNodeId().equals(v.getPrimaryNodeId()) && tryWrite(v.getVolumeId(), data)) {
        long gap = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        byte[] got =
            client.read(
                volume(v.getVolumeId()), volume(v.getVolumeId()).getPrimaryNodeId(), 0, 4096);
        assertThat(got).isEqualTo(data);
        return gap;
      }
      LocalProcesses.sleep(200);
    }
    throw new AssertionError(
        "no write went through within 90 s of losing the primary of " + v.getVolumeId());
  }

  static boolean tryWrite(String volumeId, byte[] data) {
    Allocation v = volume(volumeId);
    try {
      client
          .io(v.getNamespace(), v.getPrimaryNodeId())
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .write(
              WriteRequest.newBuilder()
                  .setVolumeId(volumeId)
                  .setEpoch(v.getEpoch())
                  .setOffset(0)
                  .setData(ByteString.copyFrom(data))
                  .build());
      return true;
    } catch (io.grpc.StatusRuntimeException e) {
      return false;
    }
  }
}
