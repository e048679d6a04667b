package io.mycnet.storage.operator.allocation;

import static io.mycnet.storage.operator.allocation.ManagerFixture.GIB;
import static io.mycnet.storage.operator.allocation.ManagerFixture.ok;
import static io.mycnet.storage.operator.allocation.ManagerFixture.refused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.ReplicaCreation.Outcome;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * A replica exists only once its agent said so (ReplicaCreation's javadoc, docs/replication.md):
 * CREATING until the create result, HEALTHY on an ok result, a refused create sent again under a
 * new id and then re-placed, never counted healthy.
 */
class ReplicaCreationTest {
  private ManagerFixture cp;
  private List<String> nodes;

  @BeforeEach
  void setUp(TestInfo info) {
    cp =
        new ManagerFixture(
            InMemoryStore::new,
            "/" + info.getTestMethod().orElseThrow().getName(),
            new ReplicationManager.Settings(Duration.ZERO, 2, 8));
    nodes = cp.nodes(1, 3, 2, 100, TrustTier.CRITICAL, 0.95); // 6 nodes in 3 zones
    cp.namespace("ns", 0, 0);
  }

  @AfterEach
  void tearDown() {
    cp.close();
  }

  private Allocation allocate(String id) {
    return cp.manager.allocate(StorageRequest.of(id, "ns", "default", GIB, StorageType.CONSENSUS));
  }

  private List<String> followers(Allocation a) {
    return a.getReplicasList().stream()
        .map(Replica::getNodeId)
        .filter(n -> !n.equals(a.getPrimaryNodeId()))
        .toList();
  }

  /** The node refuses every create of the volume it is sent, {@code times} times. */
  private Outcome refuse(String node, String volume, int times) {
    Outcome last = null;
    for (int i = 1; i <= times; i++) {
      last = cp.creation.onResult(node, refused(cp.lastCreate(node, volume), "disk full " + i));
    }
    return last;
  }

  @Test
  void aVolumeIsBoundOnlyWhenEveryAgentConfirmedItsReplica() {
    Allocation a = allocate("v");
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    for (int i = 0; i < holders.size(); i++) {
      assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
      String n = holders.get(i);
      assertThat(cp.creation.onResult(n, ok(cp.lastCreate(n, "v")))).isEqualTo(Outcome.HEALTHY);
      assertThat(cp.replicaOn("v", n).getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
      for (String other : holders.subList(i + 1, holders.size())) {
        assertThat(cp.replicaOn("v", other).getState())
            .isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
      }
    }
    Versioned<Allocation> bound = cp.store.get(cp.keys.allocation("v"), Allocation.parser());
    assertThat(bound.value().getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);

    // Replays, other nodes' ids and other commands change nothing, not even the revision.
    for (String n : holders) {
      assertThat(cp.creation.onResult(n, ok(cp.lastCreate(n, "v")))).isEqualTo(Outcome.IGNORED);
    }
    String outsider = nodes.stream().filter(n -> !holders.contains(n)).findFirst().orElseThrow();
    assertThat(cp.creation.onResult(outsider, ok(cp.lastCreate(holders.get(0), "v"))))
        .isEqualTo(Outcome.IGNORED);
    NodeCommand notACreate =
        NodeCommand.newBuilder().setCommandId("delete:v:x:1:" + holders.get(0)).build();
    assertThat(cp.creation.onResult(holders.get(0), ok(notACreate))).isEqualTo(Outcome.IGNORED);
    NodeCommand garbled = NodeCommand.newBuilder().setCommandId("create+x:v").build();
    assertThat(cp.creation.onResult(holders.get(0), ok(garbled))).isEqualTo(Outcome.IGNORED);
    assertThat(cp.store.get(cp.keys.allocation("v"), Allocation.parser()).modRevision())
        .isEqualTo(bound.modRevision());
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aRefusedFollowerIsSentAgainThenRebuiltElsewhereFromThePrimary() {
    Allocation a = allocate("v");
    String primary = a.getPrimaryNodeId();
    String refuser = followers(a).get(0);
    for (Replica r : a.getReplicasList()) {
      if (!r.getNodeId().equals(refuser)) {
        cp.creation.onResult(r.getNodeId(), ok(cp.lastCreate(r.getNodeId(), "v")));
      }
    }
    NodeCommand first = cp.lastCreate(refuser, "v");
    assertThat(cp.creation.onResult(refuser, refused(first, "no space")))
        .isEqualTo(Outcome.RETRIED);
    assertThat(cp.creation.onResult(refuser, refused(first, "no space")))
        .isEqualTo(Outcome.IGNORED); // a replayed refusal is counted once
    assertThat(cp.replicaOn("v", refuser).getCreateFailures().getCount()).isEqualTo(1);
    assertThat(cp.replicaOn("v", refuser).getCreateFailures().getLastError()).isEqualTo("no space");
    assertThat(cp.lastCreate(refuser, "v").getCommandId()).startsWith("create+2:v:");
    assertThat(refuse(refuser, "v", 1)).isEqualTo(Outcome.RETRIED);
    assertThat(cp.lastCreate(refuser, "v").getCommandId()).startsWith("create+3:v:");
    assertThat(cp.replicaOn("v", refuser).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
    assertThat(cp.reserved(refuser)).isEqualTo(GIB);

    assertThat(refuse(refuser, "v", 1)).isEqualTo(Outcome.REPLACED);
    Allocation b = cp.volume("v");
    assertThat(b.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(refuser);
    assertThat(b.getEpoch()).isEqualTo(a.getEpoch() + 1);
    Replica target =
        b.getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .findFirst()
            .orElseThrow();
    assertThat(target.getSourceNodeId()).isEqualTo(primary);
    assertThat(target.getEpoch()).isEqualTo(b.getEpoch());
    assertThat(b.getCreateRefusalsList())
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getNodeId()).isEqualTo(refuser);
              assertThat(c.getAttempts()).isEqualTo(3);
              assertThat(c.getReason()).isEqualTo("disk full 1");
              assertThat(c.getReplacedBy()).isEqualTo(target.getNodeId());
            });
    assertThat(b.getState()).isEqualTo(VolumeState.VOLUME_STATE_REBUILDING);
    assertThat(cp.reserved(refuser)).isZero();
    assertThat(cp.reserved(target.getNodeId())).isEqualTo(GIB);
    assertThat(cp.pending(refuser, NodeCommand::hasDeleteReplica)).hasSize(1);
    assertThat(cp.pending(target.getNodeId(), NodeCommand::hasRebuildReplica))
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getRebuildReplica().getSourceNodeId()).isEqualTo(primary);
              assertThat(c.getRebuildReplica().getEpoch()).isEqualTo(b.getEpoch());
              assertThat(c.getRebuildReplica().getSourceAddress())
                  .isEqualTo(cp.registry.get(primary).orElseThrow().getAddress());
            });
    assertThat(cp.audit()).isEmpty();

    assertThat(cp.completeRebuilds()).isEqualTo(1);
    assertThat(cp.volume("v").getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
  }

  @Test
  void aRefusedFollowerWaitsForItsPrimaryToBeConfirmedAndMovesThen() {
    Allocation a = allocate("v");
    String refuser = followers(a).get(0);
    assertThat(refuse(refuser, "v", 3)).isEqualTo(Outcome.REFUSED);
    assertThat(cp.creation.replaceRefused()).isEmpty();
    assertThat(cp.replicaOn("v", refuser).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
    assertThat(cp.replicaOn("v", refuser).getCreateFailures().getCount()).isEqualTo(3);

    // The primary's confirmation lets the waiting follower move.
    String primary = a.getPrimaryNodeId();
    assertThat(cp.creation.onResult(primary, ok(cp.lastCreate(primary, "v"))))
        .isEqualTo(Outcome.HEALTHY);
    Allocation b = cp.volume("v");
    assertThat(b.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(refuser);
    assertThat(b.getReplicasList())
        .filteredOn(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
        .singleElement()
        .satisfies(r -> assertThat(r.getSourceNodeId()).isEqualTo(primary));
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void aRefusedPrimaryIsCreatedAnewElsewhereAndThePrimaryRoleMoves() {
    Allocation a = allocate("v");
    String primary = a.getPrimaryNodeId();
    String confirmed = followers(a).get(1);
    cp.creation.onResult(confirmed, ok(cp.lastCreate(confirmed, "v")));
    assertThat(refuse(primary, "v", 3)).isEqualTo(Outcome.REPLACED);
    Allocation b = cp.volume("v");
    assertThat(b.getPrimaryNodeId()).isEqualTo(confirmed); // the HEALTHY one takes the role
    Replica fresh =
        b.getReplicasList().stream()
            .filter(
                r ->
                    !a.getReplicasList().stream()
                        .anyMatch(x -> x.getNodeId().equals(r.getNodeId())))
            .findFirst()
            .orElseThrow();
    assertThat(fresh.getState()).isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
    assertThat(cp.pending(fresh.getNodeId(), NodeCommand::hasCreateReplica))
        .singleElement()
        .satisfies(c -> assertThat(c.getCreateReplica().getPrimaryNodeId()).isEqualTo(confirmed));
    assertThat(b.getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
    assertThat(cp.pending(primary, NodeCommand::hasDeleteReplica)).hasSize(1);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void withNoOtherNodeARefusedReplicaWaitsAndIsReplacedWhenANodeJoins() {
    try (ManagerFixture small =
        new ManagerFixture(
            InMemoryStore::new, "/small", new ReplicationManager.Settings(Duration.ZERO, 2, 8))) {
      small.nodes(1, 3, 1, 100, TrustTier.CRITICAL, 0.95);
      small.namespace("ns", 0, 0);
      Allocation a =
          small.manager.allocate(
              StorageRequest.of("v", "ns", "default", GIB, StorageType.CONSENSUS));
      String primary = a.getPrimaryNodeId();
      small.creation.onResult(primary, ok(small.lastCreate(primary, "v")));
      String refuser = followers(a).get(0);
      Outcome last = null;
      for (int i = 0; i < 3; i++) {
        last = small.creation.onResult(refuser, refused(small.lastCreate(refuser, "v"), "x"));
      }
      assertThat(last).isEqualTo(Outcome.REFUSED);
      assertThat(small.creation.replaceRefused()).isEmpty();

      small.registry.register(
          NodeRecord.newBuilder()
              .setNodeId("n030")
              .setTopologyPath("region=r0/zone=z03/rack=k03/node=n030")
              .setCapacityBytes(100 * GIB)
              .setAddress("127.0.0.1:7100")
              .build());
      small.trust.set("n030", TrustTier.CRITICAL, 0.95);
      small.cluster.invalidate();
      assertThat(small.creation.replaceRefused()).containsExactly("v");
      assertThat(small.replicaOn("v", "n030").getState())
          .isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
      assertThat(small.replicaOn("v", refuser)).isNull();
      assertThat(small.audit()).isEmpty();
    }
  }

  @Test
  void aCreatingReplicaThatMissedAWriteIsStaleAndItsLateConfirmationIsIgnored() {
    Allocation a = allocate("v");
    String follower = followers(a).get(0);
    assertThat(cp.creation.replicaOutOfSync("v", follower)).isTrue();
    assertThat(cp.replicaOn("v", follower).getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
    assertThat(cp.creation.onResult(follower, ok(cp.lastCreate(follower, "v"))))
        .isEqualTo(Outcome.IGNORED);
    assertThat(cp.replicaOn("v", follower).getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
    // Only CREATING replicas are this class's to mark.
    assertThat(cp.creation.replicaOutOfSync("v", follower)).isFalse();
    assertThat(cp.creation.replicaOutOfSync("gone", follower)).isFalse();
  }

  @Test
  void aRebuildWhoseSourceHoldsNoReplicaMarksBothLost() {
    Allocation a = allocate("v");
    cp.confirmCreates();
    String stale = followers(a).get(1);
    assertThat(cp.replication.replicaFailedAudit("v", stale)).isTrue();
    cp.replication.reconcile(); // taken back by catch-up on its own node
    Replica target = cp.replicaOn("v", stale);
    assertThat(target.getState()).isEqualTo(ReplicaState.REPLICA_STATE_REBUILDING);
    String source = target.getSourceNodeId();
    String bystander =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(source) && !n.equals(stale) && !n.equals(a.getPrimaryNodeId()))
            .findFirst()
            .orElse(null);
    if (bystander != null) {
      assertThat(cp.creation.rebuildSourceMissing("v", stale, bystander, target.getEpoch()))
          .isFalse();
    }
    assertThat(cp.creation.rebuildSourceMissing("v", stale, source, target.getEpoch() + 1))
        .isFalse(); // another epoch's rebuild
    assertThat(cp.creation.rebuildSourceMissing("v", stale, source, target.getEpoch())).isTrue();
    Allocation after = cp.volume("v");
    assertThat(cp.replicaOn("v", source).getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    assertThat(cp.replicaOn("v", stale).getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    assertThat(cp.creation.rebuildSourceMissing("v", stale, source, target.getEpoch())).isFalse();
    assertThat(cp.volume("v")).isEqualTo(after);
  }

  @Test
  void maxAttemptsBelowOneIsRefused() {
    assertThatThrownBy(
            () ->
                new ReplicaCreation(
                    cp.store, cp.keys, cp.queue, cp.cluster, null, p -> 1.0, 0, cp.clock))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxAttempts must be >= 1");
    assertThatThrownBy(
            () ->
                new ReplicaCreation(
                    cp.store, cp.keys, cp.queue, cp.cluster, null, p -> 1.0, 3, cp.clock))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cluster and placer go together");
  }
}
