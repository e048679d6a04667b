package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * No stale read, ever: a follower that missed an acknowledged overwrite, read from repeatedly,
 * answers the new bytes or refuses with {@code UNAVAILABLE}, never the old bytes. Two ways to miss
 * it, each for a STRONG and an EVENTUAL 3-replica volume: the follower's agent is SIGKILLed and
 * started again before its node's grace period ends (so it is never declared down), or frozen
 * (SIGSTOP) while the write is acknowledged without it and thawed. The control plane, in its own
 * process, marks the replica STALE at the same epoch and re-publishes the assignment; the agent
 * then refuses on its own until the control plane's replication loop takes the replica back and
 * catches it up at a new epoch. Control plane, agents and etcd are separate processes; the data
 * path is mutual TLS.
 */
class NoStaleReadIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet3.0123456789abcdef";
  static final String OWNER = "app";
  static final int SIZE = 4 << 20;
  static final long OFFSET = 1 << 20;
  static final List<String> NODES = List.of("s1", "s2", "s3");

  /** Reads from the follower after it is back: bounded in count, paced. */
  static final int READS = 40;

  @TempDir static Path dir;
  static DataPathCluster dp;
  static TrustAwareStorageManager manager;
  static final SecureRandom random = new SecureRandom();

  @BeforeAll
  static void start() throws Exception {
    dp = new DataPathCluster(dir, ETCD, TOKEN, NODES, Duration.ofSeconds(20), "no-stale-read-it");
    manager = dp.manager;
    manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  @Test
  void strongFollowerKilledAndBackBeforeItIsDeclaredDown() {
    missedOverwrite("vol-strong-kill", ConsistencyLevel.STRONG, true);
  }

  @Test
  void strongFollowerFrozenWhileAWriteIsAcknowledgedWithoutIt() {
    missedOverwrite("vol-strong-stop", ConsistencyLevel.STRONG, false);
  }

  @Test
  void eventualFollowerKilledAndBackBeforeItIsDeclaredDown() {
    missedOverwrite("vol-eventual-kill", ConsistencyLevel.EVENTUAL, true);
  }

  @Test
  void eventualFollowerFrozenWhileAWriteIsAcknowledgedWithoutIt() {
    missedOverwrite("vol-eventual-stop", ConsistencyLevel.EVENTUAL, false);
  }

  static void missedOverwrite(String vol, ConsistencyLevel consistency, boolean restart) {
    StorageType type =
        consistency == ConsistencyLevel.STRONG ? StorageType.CONSENSUS : StorageType.SERVICE;
    Allocation a =
        manager.allocate(
            StorageRequest.of(vol, OWNER, "default", SIZE, type)
                .withReplicas(3)
                .withConsistency(consistency));
    String primary = a.getPrimaryNodeId();
    List<String> followers =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .toList();
    assertThat(followers).hasSize(2);
    String victim = followers.get(0);
    String other = followers.get(1);
    awaitAssigned(vol, a.getReplicasList().stream().map(Replica::getNodeId).toList(), primary);

    byte[] old = pattern();
    byte[] neu = pattern();
    dp.write(OWNER, primary, vol, epoch(vol), OFFSET, old);
    // In sync, the follower serves (its primary confirms it): the gate is not a blanket refusal.
    awaitReads(vol, victim, old);

    ChildProcess agent = dp.agents.get(victim);
    // The epoch may have moved since the allocation (a replica that missed a write is caught up at
    // a new epoch): a client writes at the current one, as it would after asking Stat.
    long writeEpoch = epoch(vol);
    if (restart) {
      agent.kill();
      assertThat(dp.write(OWNER, primary, vol, writeEpoch, OFFSET, neu).getDurableReplicas())
          .isEqualTo(consistency == ConsistencyLevel.STRONG ? 2 : 1);
      dp.restart(victim);
    } else {
      // The control plane can tell the follower nothing now: only its primary's answer protects it.
      dp.cp.controlPlane.freeze();
      agent.freeze();
      try {
        assertThat(dp.write(OWNER, primary, vol, writeEpoch, OFFSET, neu).getDurableReplicas())
            .isEqualTo(consistency == ConsistencyLevel.STRONG ? 2 : 1);
        // The forward to the frozen follower times out and the primary marks it out of sync.
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> stat(primary, vol).getOutOfSyncList().contains(victim));
      } finally {
        agent.thaw();
      }
    }

    // Every read from the follower: the new bytes or a refusal, never the old bytes.
    int served = 0;
    Map<String, Integer> refusals = new TreeMap<>();
    try {
      for (int i = 0; i < READS; i++) {
        try {
          byte[] got = dp.read(OWNER, victim, vol, epoch(vol), OFFSET, old.length);
          if (Arrays.equals(got, old)) {
            fail(
                "read %d from %s returned the bytes of before the acknowledged overwrite",
                i, victim);
          }
          assertThat(got).as("read %d from %s", i, victim).isEqualTo(neu);
          served++;
        } catch (StatusRuntimeException e) {
          String text = String.valueOf(e.getStatus().getDescription());
          if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION
              && (text.startsWith("stale epoch") || text.contains("is newer than this replica"))) {
            // The epoch moved between asking for it and reading (the replica, back, is caught up
            // at a new epoch, which it or the client learns a moment later): a refusal too, and
            // the client asks again.
            refusals.merge("epoch moving", 1, Integer::sum);
            sleep(200);
            continue;
          }
          assertThat(e.getStatus().getCode())
              .as("read %d from %s: %s", i, victim, e.getStatus())
              .isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(text).contains("is not in sync").contains("read from the primary " + primary);
          String why =
              text.replaceAll(".*is not in sync for epoch \\d+ \\((.*)\\): read from.*", "$1");
          if (!restart) {
            // The control plane is frozen: the primary's answer decided.
            assertThat(why).isEqualTo("the primary " + primary + " counts it out of sync");
          }
          refusals.merge(why, 1, Integer::sum);
        }
        sleep(200);
      }
    } finally {
      if (!restart) {
        dp.cp.controlPlane.thaw();
      }
    }
    System.out.printf(
        "%s (%s, %s): %d reads from the follower %s: %d new bytes, refused: %s; 0 old%n",
        vol,
        consistency,
        restart ? "SIGKILL+restart" : "SIGSTOP, control plane frozen",
        READS,
        victim,
        served,
        refusals);
    // The primary and the follower that missed nothing have the new bytes.
    assertThat(dp.read(OWNER, primary, vol, epoch(vol), OFFSET, neu.length)).isEqualTo(neu);
    awaitReads(vol, other, neu);

    if (!restart) {
      // The primary's report may have gone with the session the frozen control plane dropped.
      return;
    }
    // The control plane marks the replica STALE at the same epoch and tells its agent, which then
    // refuses without asking the primary. A pass takes the replica back as soon as it sees the node
    // live again (a catch-up at a new epoch), so the STALE state may be short: a refusal naming it
    // or the control plane's take-back shows the marking, whichever comes first.
    String staleAtSameEpoch = "its assignment at epoch " + writeEpoch + " counts it STALE";
    String takenBack = "taking back " + victim + "'s STALE replica of " + vol;
    if (!refusals.containsKey(staleAtSameEpoch)) {
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(250))
          .until(
              () -> dp.cp.controlPlane.countInStderr(takenBack) > 0 || refusedAsStale(vol, victim));
    }
    // Caught up, the follower serves the new bytes (and never served the old ones above).
    await()
        .atMost(Duration.ofSeconds(90))
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(dp.read(OWNER, victim, vol, epoch(vol), OFFSET, neu.length))
                    .isEqualTo(neu));
    // The catch-up moved the one block it missed, not the chunk around it nor the volume (an
    // attempt interrupted and resumed reports what its last run copied).
    java.util.regex.Pattern done =
        java.util.regex.Pattern.compile(
            "rebuild of " + vol + " complete \\(" + SIZE + " bytes, (\\d+) of them copied");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> done.matcher(dp.agents.get(victim).stderr()).find());
    java.util.regex.Matcher m = done.matcher(dp.agents.get(victim).stderr());
    while (m.find()) {
      assertThat(Long.parseLong(m.group(1)))
          .as("bytes copied by a catch-up")
          .isLessThanOrEqualTo(4096);
    }
  }

  /** Whether a read from {@code node} is refused because its assignment counts it STALE. */
  static boolean refusedAsStale(String vol, String node) {
    try {
      dp.read(OWNER, node, vol, epoch(vol), OFFSET, 4096);
      return false;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode() == Status.Code.UNAVAILABLE
          && String.valueOf(e.getStatus().getDescription()).contains("counts it STALE");
    }
  }

  static long epoch(String vol) {
    return manager.get(vol).orElseThrow().getEpoch();
  }

  static VolumeStat stat(String node, String vol) {
    return dp.stat(OWNER, node, vol);
  }

  static void awaitAssigned(String vol, List<String> nodes, String primary) {
    // Generous: after a test that froze the control plane, agents reconnect with their backoff.
    await()
        .atMost(Duration.ofSeconds(90))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : nodes) {
                assertThat(stat(n, vol).getPrimaryNodeId())
                    .as("primary on %s", n)
                    .isEqualTo(primary);
              }
            });
  }

  /**
   * Waits until {@code node} serves {@code expected} (an EVENTUAL follower applies shortly after).
   */
  static void awaitReads(String vol, String node, byte[] expected) {
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(dp.read(OWNER, node, vol, epoch(vol), OFFSET, expected.length))
                    .isEqualTo(expected));
  }

  static byte[] pattern() {
    byte[] b = new byte[4096];
    random.nextBytes(b);
    return b;
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
