package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.security.NodeAdmission;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator removes a node that holds a replica, then re-admits it: the control plane and the
 * agents are separate processes over mutual TLS and a real etcd; the operator action is {@link
 * NodeAdmission} (what the operator's Node-annotation watcher runs) against the same etcd.
 *
 * <p>Removed: its session is refused, its replica is rebuilt on the spare from a node that is not
 * it, new volumes are placed without it. Re-admitted: its old certificate stays refused, the agent
 * joins once more with a new key and is UP again, and a further join with yet another key is
 * refused.
 */
class NodeRemovalIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "fleet5.0123456789abcdef";
  static final String VOL = "vol-removal";
  static final int SIZE = 2 << 20;
  static final String OWNER = "app";
  static final List<String> NODES = List.of("m1", "m2", "m3", "m4");

  @TempDir static Path dir;
  static DataPathCluster dp;
  static NodeAdmission admission;

  @BeforeAll
  static void start() throws Exception {
    dp =
        new DataPathCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            Duration.ofSeconds(10),
            "removal-it-logs",
            "--reconnect-backoff-max=1s");
    dp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace(OWNER).build());
    admission = new NodeAdmission(dp.cp.registry, dp.cp.security, Clock.systemUTC());
  }

  @AfterAll
  static void stopAll() throws Exception {
    if (dp != null) {
      dp.close();
    }
  }

  static void awaitAssignment(List<String> nodes, long epoch) {
    await()
        .atMost(Duration.ofSeconds(15))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (String n : nodes) {
                VolumeStat s = dp.stat(OWNER, n, VOL);
                assertThat(s.getEpoch()).as("epoch on %s", n).isGreaterThanOrEqualTo(epoch);
              }
            });
  }

  @Test
  void aRemovedNodeIsRefusedItsReplicaMovesAndAReadmittedNodeJoinsOnceWithANewKey()
      throws Exception {
    Allocation a =
        dp.manager.allocate(
            StorageRequest.of(VOL, OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    String primary = a.getPrimaryNodeId();
    String victim = holders.stream().filter(n -> !n.equals(primary)).findFirst().orElseThrow();
    String spare = NODES.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
    awaitAssignment(holders, 1);
    byte[] data = new byte[300_000];
    new SecureRandom().nextBytes(data);
    assertThat(dp.write(OWNER, primary, VOL, 1, 4096, data).getDurableReplicas()).isEqualTo(3);

    // ---- remove ----
    NodeIdentity old = dp.cp.storedIdentity(victim);
    byte[] oldKey = dp.cp.registry.get(victim).orElseThrow().getBoundKeySha256().toByteArray();
    NodeAdmission.Outcome removed = admission.remove(victim, "decommissioned by the test");
    assertThat(removed.changed()).isTrue();
    assertThat(removed.revokedSerials()).contains(old.serial());
    NodeRecord rec = dp.cp.registry.get(victim).orElseThrow();
    assertThat(rec.getState()).isEqualTo(NodeState.NODE_STATE_REMOVED);
    assertThat(rec.getRemovedReason()).isEqualTo("decommissioned by the test");
    assertThat(dp.cp.security.nodeRevocation(victim)).isPresent();
    assertThat(dp.cp.security.serialRevocation(old.serial())).isPresent();
    // Removing again is idempotent: nothing changes.
    NodeAdmission.Outcome again = admission.remove(victim, "twice");
    assertThat(again.changed()).isFalse();
    assertThat(again.message()).contains("already removed");
    assertThat(dp.cp.registry.get(victim).orElseThrow().getRemovedReason())
        .isEqualTo("decommissioned by the test");

    // Its session is closed and refused; its liveness is gone.
    await().atMost(Duration.ofSeconds(15)).until(() -> !dp.cp.registry.isLive(victim));
    try (NodeApiClient api = new NodeApiClient(dp.cp)) {
      assertThat(api.hello(old, victim).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    }
    // Stop the agent so that its join retries do not run into the join rate limit meanwhile.
    dp.agents.get(victim).kill();

    // Its replica is rebuilt on the spare, from a replica that is not on the removed node.
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(300))
        .until(() -> !dp.replication.reconcile().rebuildsStarted().isEmpty());
    Allocation rebuilding = dp.manager.get(VOL).orElseThrow();
    assertThat(rebuilding.getReplicasList())
        .filteredOn(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getNodeId()).isEqualTo(spare);
              assertThat(r.getSourceNodeId()).isNotEqualTo(victim).isIn(holders);
            });
    dp.awaitReplaced(VOL, spare, victim, Duration.ofSeconds(60));
    Allocation moved = dp.manager.get(VOL).orElseThrow();
    assertThat(moved.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(victim);
    awaitAssignment(List.of(spare), moved.getEpoch());
    assertThat(dp.read(OWNER, spare, VOL, moved.getEpoch(), 4096, data.length)).isEqualTo(data);

    // Placement skips it: a new volume of three replicas lands on the three other nodes.
    Allocation placed =
        dp.manager.allocate(
            StorageRequest.of("vol-after-removal", OWNER, "default", SIZE, StorageType.CONSENSUS)
                .withConsistency(ConsistencyLevel.STRONG));
    assertThat(placed.getReplicasList())
        .extracting(Replica::getNodeId)
        .doesNotContain(victim)
        .hasSize(3);

    // ---- refusals ----
    assertThatThrownBy(() -> admission.readmit(spare))
        .isInstanceOfSatisfying(
            NodeAdmission.RefusedException.class,
            e -> {
              assertThat(e.unknownNode()).isFalse();
              assertThat(e.getMessage()).contains("is not removed").contains("mycnet node remove");
            });
    assertThatThrownBy(() -> admission.readmit("no-such-node"))
        .isInstanceOfSatisfying(
            NodeAdmission.RefusedException.class, e -> assertThat(e.unknownNode()).isTrue());
    assertThatThrownBy(() -> admission.remove("no-such-node", "x"))
        .isInstanceOfSatisfying(
            NodeAdmission.RefusedException.class, e -> assertThat(e.unknownNode()).isTrue());

    // ---- readmit ----
    NodeAdmission.Outcome readmitted = admission.readmit(victim);
    assertThat(readmitted.changed()).isTrue();
    assertThat(admission.readmit(victim).changed()).isFalse();
    assertThat(dp.cp.security.nodeRevocation(victim)).isEmpty();
    try (NodeApiClient api = new NodeApiClient(dp.cp)) {
      // The old certificate stays refused.
      assertThat(api.hello(old, victim).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

      // The key it was removed with does not come back.
      assertThatThrownBy(
              () ->
                  api.join(
                      victim,
                      TOKEN,
                      new java.security.KeyPair(old.certificate().getPublicKey(), old.key()),
                      "region=eu/zone=z9/rack=r1/node=" + victim,
                      "127.0.0.1:9"))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(e.getStatus().getDescription()).contains("join with a new key");
              });
      assertThat(dp.cp.registry.get(victim).orElseThrow().getState())
          .isEqualTo(NodeState.NODE_STATE_REMOVED);

      // The agent joins once more, with a new key, and is UP again.
      dp.restart(victim);
      NodeRecord back = dp.cp.registry.get(victim).orElseThrow();
      assertThat(back.getState()).isEqualTo(NodeState.NODE_STATE_UP);
      assertThat(back.getBoundKeySha256().toByteArray()).isNotEqualTo(oldKey).hasSize(32);
      assertThat(back.getCertificateSerialsList()).doesNotContain(old.serial());
      assertThat(dp.cp.storedIdentity(victim).serial()).isNotEqualTo(old.serial());

      // A further join with yet another key is refused: the re-admission opened one join.
      assertThatThrownBy(
              () ->
                  api.join(
                      victim,
                      TOKEN,
                      NodeIdentity.generateKeyPair(),
                      "region=eu/zone=z9/rack=r1/node=" + victim,
                      "127.0.0.1:9"))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS));
      assertThat(dp.cp.registry.get(victim).orElseThrow().getBoundKeySha256())
          .isEqualTo(back.getBoundKeySha256());
    }
  }
}
