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
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A removed node is never a rebuild source: when the control plane (not yet aware of the removal in
 * its placement) names a revoked node as the source of a rebuild, the rebuilding agent refuses to
 * copy from it, gives up at once naming it, and the control plane marks both replicas LOST.
 */
class RevokedRebuildSourceIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet9.0123456789abcdef";
  static final String OWNER = "app";
  static final String VOL = "vol-revoked-src";
  static final List<String> NODES = List.of("s1", "s2", "s3");

  @TempDir Path dir;

  @Test
  void aRebuildFromARevokedNodeIsRefusedByTheRebuildingAgent() throws Exception {
    ScheduledExecutorService keepLive = Executors.newSingleThreadScheduledExecutor();
    try (DataPathCluster dp =
        new DataPathCluster(
            dir, ETCD, TOKEN, NODES, Duration.ofSeconds(15), "revoked-source-logs")) {
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
      List<String> others = NODES.stream().filter(n -> !n.equals(primary)).toList();

      // The primary's node is removed. Its session ends; the test keeps its liveness key so that
      // the replication manager, which this test does not teach about removals, still takes its
      // replica as a healthy source.
      keepLive.scheduleAtFixedRate(
          () -> {
            try {
              dp.cp.registry.heartbeat(primary);
            } catch (RuntimeException e) {
              // the next round tries again
            }
          },
          0,
          300,
          TimeUnit.MILLISECONDS);
      dp.cp.security.revokeNode(primary, "removed by the test");
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () ->
                  others.stream()
                      .allMatch(n -> log(dp.agents.get(n)).contains("certificate(s), 1 node(s)")));

      // The follower fails an audit: the only healthy replica to copy from is the removed node's.
      assertThat(dp.replication.replicaFailedAudit(VOL, follower)).isTrue();
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
      assertThat(target.getSourceNodeId()).isEqualTo(primary);
      String copier = target.getNodeId();

      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  log(dp.agents.get(copier))
                      .contains(
                          "gave up: PERMISSION_DENIED: peer node " + primary + " is revoked"));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  state(dp, primary) == ReplicaState.REPLICA_STATE_LOST
                      && state(dp, copier) == ReplicaState.REPLICA_STATE_LOST);
      assertThat(log(dp.agents.get(copier))).doesNotContain("rebuild of " + VOL + " complete");
    } finally {
      keepLive.shutdownNow();
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
}
