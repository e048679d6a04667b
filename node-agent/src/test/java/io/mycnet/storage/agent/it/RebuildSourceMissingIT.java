package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rebuild whose source holds no replica (its directory was removed while its agent was stopped)
 * does not retry forever: the rebuilding agent gives up after a bounded number of NOT_FOUND answers
 * and reports the source; the control plane marks the source and the stopped target LOST.
 */
class RebuildSourceMissingIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet8.0123456789abcdef";
  static final String OWNER = "app";
  static final String VOL = "vol-gone";
  static final List<String> NODES = List.of("g1", "g2", "g3");

  @TempDir Path dir;

  @Test
  void aRebuildFromAReplicaThatIsGoneGivesUpAndBothAreMarkedLost() throws Exception {
    try (DataPathCluster dp =
        new DataPathCluster(dir, ETCD, TOKEN, NODES, Duration.ofSeconds(15), "rebuild-gone-logs")) {
      dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
      Allocation a =
          dp.manager.allocate(
              StorageRequest.of(VOL, OWNER, "default", 4 << 20, StorageType.SERVICE));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> dp.manager.get(VOL).orElseThrow().getState() == VolumeState.VOLUME_STATE_BOUND);
      String primary = a.getPrimaryNodeId();
      String follower =
          a.getReplicasList().stream()
              .map(Replica::getNodeId)
              .filter(n -> !n.equals(primary))
              .findFirst()
              .orElseThrow();
      String spare =
          NODES.stream()
              .filter(n -> !n.equals(primary) && !n.equals(follower))
              .findFirst()
              .orElseThrow();

      // The primary's replica disappears while its agent is stopped; the agent comes back.
      String oldAddress = dp.address(primary);
      dp.agents.get(primary).kill();
      deleteTree(dp.cp.agentDataDir(primary).resolve("replicas").resolve(VOL));
      int index = NODES.indexOf(primary);
      dp.agents.put(
          primary,
          dp.cp.startAgentAt(
              primary, TOKEN, "region=eu/zone=z" + (index + 1) + "/rack=r1/node=" + primary));
      // Back in session: its record carries its new data port.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> dp.cp.registry.isLive(primary) && !dp.address(primary).equals(oldAddress));

      // The follower fails an audit: the only healthy replica left to copy from is the primary's.
      assertThat(dp.replication.replicaFailedAudit(VOL, follower)).isTrue();
      // (Its node is eligible, so it is taken back by a catch-up on its own node; either way the
      // copy's only source is the primary.)
      // The control plane's replication loop starts one copy (a rebuild or a take-back).
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  dp.manager.get(VOL).orElseThrow().getReplicasList().stream()
                      .anyMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING));
      assertThat(dp.manager.get(VOL).orElseThrow().getReplicasList())
          .filteredOn(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
          .hasSize(1);
      Replica target =
          dp.manager.get(VOL).orElseThrow().getReplicasList().stream()
              .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
              .findFirst()
              .orElseThrow();
      assertThat(target.getNodeId()).isIn(spare, follower);
      assertThat(target.getSourceNodeId()).isEqualTo(primary);
      String copier = target.getNodeId();

      // The spare gives up (5 NOT_FOUND answers with backoff: seconds) and says why.
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  state(dp, primary) == ReplicaState.REPLICA_STATE_LOST
                      && state(dp, copier) == ReplicaState.REPLICA_STATE_LOST);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> log(dp.agents.get(copier)).contains("gave up: " + primary));
      // And stays quiet: no more attempts after giving up.
      long attempts = count(log(dp.agents.get(copier)), "interrupted, resuming");
      Thread.sleep(3000);
      assertThat(count(log(dp.agents.get(copier)), "interrupted, resuming")).isEqualTo(attempts);
      assertThat(attempts).isLessThan(10);
    }
  }

  private static ReplicaState state(DataPathCluster dp, String node) {
    return dp.manager.get(VOL).orElseThrow().getReplicasList().stream()
        .filter(r -> r.getNodeId().equals(node))
        .map(Replica::getState)
        .findFirst()
        .orElse(null);
  }

  private static String log(ChildProcess p) {
    return p.stdout() + p.stderr();
  }

  private static long count(String text, String needle) {
    return text.lines().filter(l -> l.contains(needle)).count();
  }

  private static void deleteTree(Path p) throws Exception {
    try (Stream<Path> files = Files.walk(p)) {
      for (Path f : files.sorted((x, y) -> y.getNameCount() - x.getNameCount()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }
}
