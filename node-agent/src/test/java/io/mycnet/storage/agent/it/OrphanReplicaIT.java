package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real agent holding a replica of a volume no allocation names: the control plane (a process,
 * with {@code --orphan-gc-delay}) learns it from the agent's inventory and has it deleted from the
 * agent's disk after the delay, never before; the replica of a volume that names the node stays.
 */
class OrphanReplicaIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "orphan.0123456789abcdef";
  static final Duration DELAY = Duration.ofSeconds(4);

  @TempDir Path dir;

  static NodeCommand create(String id, String volume) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setIssuedAtUnixMs(System.currentTimeMillis())
        .setCreateReplica(
            CreateReplica.newBuilder().setVolumeId(volume).setEpoch(1).setSizeBytes(1 << 20))
        .build();
  }

  @Test
  void aReplicaNoVolumeNamesLeavesTheDiskAfterTheDelay() {
    try (ControlPlaneFixture cp =
        new ControlPlaneFixture(dir, ETCD.client(), ETCD.endpoints(), TOKEN + " reusable\n")) {
      cp.trusting(List.of("n1"))
          .startControlPlane("MYCNET_ORPHAN_GC_DELAY=" + DELAY.toMillis() + "ms");
      cp.startAgent("n1", TOKEN);
      await().atMost(Duration.ofSeconds(20)).until(() -> cp.registry.isLive("n1"));

      // ns.kept is a volume whose allocation names n1; ns.orphan has no allocation at all.
      cp.store
          .txn()
          .put(
              cp.keys.allocation("ns.kept"),
              Allocation.newBuilder()
                  .setVolumeId("ns.kept")
                  .setNamespace("ns")
                  .setSizeBytes(1 << 20)
                  .setReplicaCount(1)
                  .setEpoch(1)
                  .setState(VolumeState.VOLUME_STATE_BOUND)
                  .setPrimaryNodeId("n1")
                  .addReplicas(
                      Replica.newBuilder()
                          .setNodeId("n1")
                          .setEpoch(1)
                          .setState(ReplicaState.REPLICA_STATE_HEALTHY))
                  .build())
          .commit();
      long queued = System.nanoTime();
      cp.queue.enqueue("n1", create("c-kept", "ns.kept"));
      cp.queue.enqueue("n1", create("c-orphan", "ns.orphan"));
      Path kept = cp.agentDataDir("n1").resolve("replicas").resolve("ns.kept");
      Path orphan = cp.agentDataDir("n1").resolve("replicas").resolve("ns.orphan");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> Files.exists(kept.resolve("replica.meta")));

      // The orphan is created, then deleted by the collector: never sooner than the delay after
      // it was queued (its suspicion cannot start before the replica exists).
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> !Files.exists(orphan));
      Duration lived = Duration.ofNanos(System.nanoTime() - queued);
      assertThat(lived).isGreaterThanOrEqualTo(DELAY);
      assertThat(cp.controlPlane.countInStderr("ns.orphan on n1 (epoch 1) named by no volume"))
          .isEqualTo(1);
      await().atMost(Duration.ofSeconds(20)).until(() -> cp.queue.pending("n1").isEmpty());

      // The named replica stays, however long.
      await()
          .during(DELAY.multipliedBy(2))
          .atMost(DELAY.multipliedBy(3))
          .until(() -> Files.exists(kept.resolve("replica.meta")));
      assertThat(cp.controlPlane.countInStderr("ns.kept on n1")).isZero();
    }
  }
}
