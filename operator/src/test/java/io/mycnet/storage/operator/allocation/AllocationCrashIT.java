package io.mycnet.storage.operator.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The allocation path as a separate JVM, killed with SIGKILL at random moments while it runs 500
 * concurrent allocations and releases, {@link #ROUNDS} rounds (8 by default; 20 with {@code mvn
 * -Plong verify}, which sets {@code mycnet.allocationcrash.rounds}). Afterwards every acknowledged
 * allocation exists, every acknowledged release is gone, nothing is duplicated, and every node's
 * and namespace's reserved bytes equal the sum over the allocations exactly.
 */
class AllocationCrashIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private static final int ROUNDS = Integer.getInteger("mycnet.allocationcrash.rounds", 8);
  private static final int OPS_PER_ROUND = 500;
  private static final int THREADS = 32;

  @Test
  void killedAtRandomMomentsLosesNothingAndAppliesNothingTwice(@TempDir Path tmp) {
    String prefix = "/crash";
    try (ControlPlaneFixture setup = new ControlPlaneFixture(ETCD.endpoints(), prefix)) {
      setup.registerNodes(1, 3, 2, 2, 1024, TrustTier.CRITICAL, 0.95);
      setup.namespace("crash", 0, 0);
    }
    Random random = new Random(20261124L);
    Set<String> acked = new HashSet<>();
    Set<String> released = new HashSet<>();
    Set<String> releaseStarted = new HashSet<>();
    int killedMidway = 0;
    int errors = 0;
    for (int round = 1; round <= ROUNDS; round++) {
      try (ChildProcess p =
          ChildProcess.java(AllocationLoadMain.class.getName())
              .jvmArgs(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"))
              .args(
                  List.of(
                      String.join(",", ETCD.endpoints()),
                      prefix,
                      Integer.toString(round),
                      Integer.toString(OPS_PER_ROUND),
                      Integer.toString(THREADS),
                      Long.toString(random.nextLong())))
              .log(tmp.resolve("load-" + round + ".out"))
              .stderr(tmp.resolve("load-" + round + ".log"))
              .start()) {
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    p.stdoutLines().stream().anyMatch(l -> l.startsWith("READY")) || !p.isAlive());
        // Kill after a random number of acknowledged operations, mid-stream.
        int killAfter = 20 + random.nextInt(OPS_PER_ROUND - 40);
        await()
            .atMost(Duration.ofSeconds(120))
            .until(() -> p.stdoutLines().size() > killAfter || !p.isAlive());
        boolean wasRunning = p.isAlive();
        p.kill();
        if (wasRunning && !p.stdoutLines().contains("DONE")) {
          killedMidway++;
        }
        for (String line : p.stdoutLines()) {
          if (line.startsWith("A ")) {
            acked.add(line.substring(2));
          } else if (line.startsWith("S ")) {
            releaseStarted.add(line.substring(2));
          } else if (line.startsWith("R ")) {
            released.add(line.substring(2));
          } else if (line.startsWith("E ")) {
            errors++;
          }
        }
      }
    }
    try (ControlPlaneFixture check = new ControlPlaneFixture(ETCD.endpoints(), prefix)) {
      Map<String, Allocation> stored = new HashMap<>();
      for (Allocation a : check.manager.list()) {
        stored.put(a.getVolumeId(), a);
      }
      // Acknowledged, never asked to be released, and gone: that would be a lost allocation.
      // (A release that landed but was killed before its acknowledgement may take a volume.)
      Set<String> lost = new HashSet<>(acked);
      lost.removeAll(releaseStarted);
      lost.removeAll(stored.keySet());
      Set<String> unackedReleasesLanded = new HashSet<>(releaseStarted);
      unackedReleasesLanded.removeAll(released);
      unackedReleasesLanded.removeAll(stored.keySet());
      Set<String> resurrected = new HashSet<>(released);
      resurrected.retainAll(stored.keySet());
      System.out.printf(
          "crash test: %d rounds, %d killed mid-stream, %d acknowledged allocations, %d"
              + " acknowledged releases, %d unacknowledged releases that landed, %d stored now,"
              + " %d refused, lost %d, resurrected %d%n",
          ROUNDS,
          killedMidway,
          acked.size(),
          released.size(),
          unackedReleasesLanded.size(),
          stored.size(),
          errors,
          lost.size(),
          resurrected.size());
      assertThat(killedMidway).as("rounds killed mid-stream").isGreaterThanOrEqualTo(ROUNDS / 2);
      assertThat(lost).as("acknowledged allocations missing").isEmpty();
      assertThat(resurrected).as("acknowledged releases still allocated").isEmpty();
      assertThat(AllocationAudit.check(check.store, check.keys)).as("accounting").isEmpty();
      assertThat(errors).as("operations refused").isZero();

      // Nothing applied twice: exactly one create command per replica of every live allocation.
      Map<String, Integer> creates = new HashMap<>();
      for (var node : check.registry.list()) {
        for (NodeCommand c : check.queue.pending(node.getNodeId())) {
          if (c.hasCreateReplica()) {
            creates.merge(
                c.getCreateReplica().getVolumeId() + "@" + node.getNodeId(), 1, Integer::sum);
          }
        }
      }
      for (Allocation a : stored.values()) {
        for (Replica r : a.getReplicasList()) {
          assertThat(creates.get(a.getVolumeId() + "@" + r.getNodeId()))
              .as("create commands for %s on %s", a.getVolumeId(), r.getNodeId())
              .isEqualTo(1);
        }
      }
    }
  }
}
