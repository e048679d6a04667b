package io.mycnet.storage.operator.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A replica exists only once its agent said so: CREATING until the create result, HEALTHY on an ok
 * result (a replay changes nothing), a refused create retried and then re-placed, never counted
 * healthy; on a real etcd.
 */
class ReplicaCreationIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final long GIB = ControlPlaneFixture.GIB;

  private ControlPlaneFixture cp;

  @BeforeEach
  void setUp(TestInfo info) {
    cp = new ControlPlaneFixture(ETCD.endpoints(), "/rc-" + info.getTestMethod().get().getName());
    cp.registerNodes(1, 3, 1, 2, 100, TrustTier.CRITICAL, 0.95); // 6 nodes in 3 zones
    cp.namespace("ns", 0, 0);
  }

  @AfterEach
  void tearDown() {
    cp.close();
  }

  private Allocation allocate(String id) {
    return cp.manager.allocate(StorageRequest.of(id, "ns", "default", GIB, StorageType.CONSENSUS));
  }

  private NodeCommand createFor(String node, String volume) {
    return cp.queue.pending(node).stream()
        .filter(c -> c.hasCreateReplica() && c.getCreateReplica().getVolumeId().equals(volume))
        .reduce((x, y) -> y)
        .orElseThrow();
  }

  private static CommandResult result(NodeCommand c, boolean ok, String message) {
    return CommandResult.newBuilder()
        .setCommandId(c.getCommandId())
        .setOk(ok)
        .setMessage(message)
        .build();
  }

  private Replica replicaOn(String volume, String node) {
    return cp.manager.get(volume).orElseThrow().getReplicasList().stream()
        .filter(r -> r.getNodeId().equals(node))
        .findFirst()
        .orElse(null);
  }

  private long reserved(String node) {
    NodeUsage u = cp.store.get(cp.keys.nodeUsage(node), NodeUsage.parser()).value();
    return u == null ? 0 : u.getReservedBytes();
  }

  @Test
  void aReplicaIsHealthyOnlyOnItsAgentsResultAndTheVolumeBoundWhenAllAre() {
    Allocation a = allocate("v1");
    assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
    List<String> holders = a.getReplicasList().stream().map(Replica::getNodeId).toList();
    for (String n : holders) {
      NodeCommand c = createFor(n, "v1");
      // The command carries the limit the placement counted: capacity x overcommit (1.0 here).
      assertThat(c.getCreateReplica().getCapacityLimitBytes()).isEqualTo(100 * GIB);
      assertThat(replicaOn("v1", n).getState()).isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
    }
    for (int i = 0; i < holders.size(); i++) {
      String n = holders.get(i);
      assertThat(cp.manager.get("v1").orElseThrow().getState())
          .isEqualTo(VolumeState.VOLUME_STATE_CREATING);
      NodeCommand c = createFor(n, "v1");
      assertThat(cp.creation.onResult(n, result(c, true, "created")))
          .isEqualTo(ReplicaCreation.Outcome.HEALTHY);
      assertThat(replicaOn("v1", n).getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
    }
    Versioned<Allocation> bound = cp.store.get(cp.keys.allocation("v1"), Allocation.parser());
    assertThat(bound.value().getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    // A replayed result (a new session redelivers, the agent answers from its record) changes
    // nothing: not the states, not the revision.
    for (String n : holders) {
      assertThat(cp.creation.onResult(n, result(createFor(n, "v1"), true, "created")))
          .isEqualTo(ReplicaCreation.Outcome.IGNORED);
    }
    Versioned<Allocation> after = cp.store.get(cp.keys.allocation("v1"), Allocation.parser());
    assertThat(after.modRevision()).isEqualTo(bound.modRevision());
    // Another node naming this command id finds nothing of its own.
    String other = holders.get(0).equals("n0000") ? "n0001" : "n0000";
    assertThat(cp.creation.onResult(other, result(createFor(holders.get(0), "v1"), false, "x")))
        .isEqualTo(ReplicaCreation.Outcome.IGNORED);
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void aRefusedFollowerIsRetriedThenRebuiltElsewhereFromThePrimaryAndNeverCountedHealthy() {
    Allocation a = allocate("v2");
    String primary = a.getPrimaryNodeId();
    String refuser =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .findFirst()
            .orElseThrow();
    // The primary and the third replica exist.
    for (Replica r : a.getReplicasList()) {
      if (!r.getNodeId().equals(refuser)) {
        cp.creation.onResult(
            r.getNodeId(), result(createFor(r.getNodeId(), "v2"), true, "created"));
      }
    }
    long refuserBefore = reserved(refuser);
    String why = "insufficient capacity: 1073741824 bytes asked, 0 of 107374182400 free";
    NodeCommand first = createFor(refuser, "v2");
    assertThat(cp.creation.onResult(refuser, result(first, false, why)))
        .isEqualTo(ReplicaCreation.Outcome.RETRIED);
    // The refusal replayed is not counted twice.
    assertThat(cp.creation.onResult(refuser, result(first, false, why)))
        .isEqualTo(ReplicaCreation.Outcome.IGNORED);
    assertThat(replicaOn("v2", refuser).getCreateFailures().getCount()).isEqualTo(1);
    NodeCommand second = createFor(refuser, "v2");
    assertThat(second.getCommandId()).startsWith("create+2:v2:");
    assertThat(cp.creation.onResult(refuser, result(second, false, why)))
        .isEqualTo(ReplicaCreation.Outcome.RETRIED);
    NodeCommand third = createFor(refuser, "v2");
    assertThat(third.getCommandId()).startsWith("create+3:v2:");
    assertThat(cp.manager.get("v2").orElseThrow().getState())
        .isEqualTo(VolumeState.VOLUME_STATE_CREATING);
    assertThat(cp.creation.onResult(refuser, result(third, false, why)))
        .isEqualTo(ReplicaCreation.Outcome.REPLACED);

    Allocation replaced = cp.manager.get("v2").orElseThrow();
    assertThat(replaced.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(refuser);
    assertThat(replaced.getReplicasCount()).isEqualTo(3);
    Replica target =
        replaced.getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .findFirst()
            .orElseThrow();
    assertThat(target.getSourceNodeId()).isEqualTo(primary);
    assertThat(replaced.getCreateRefusalsList())
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getNodeId()).isEqualTo(refuser);
              assertThat(c.getReason()).isEqualTo(why);
              assertThat(c.getAttempts()).isEqualTo(3);
              assertThat(c.getReplacedBy()).isEqualTo(target.getNodeId());
            });
    assertThat(replaced.getState()).isNotEqualTo(VolumeState.VOLUME_STATE_BOUND);
    // The reservation moved in the same transaction; the refusing node is told to clean up.
    assertThat(reserved(refuser)).isEqualTo(refuserBefore - GIB);
    assertThat(reserved(target.getNodeId())).isEqualTo(GIB);
    assertThat(cp.queue.pending(refuser)).anyMatch(NodeCommand::hasDeleteReplica);
    assertThat(cp.queue.pending(target.getNodeId()))
        .anyMatch(
            c -> c.hasRebuildReplica() && c.getRebuildReplica().getSourceNodeId().equals(primary));
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();

    // The rebuild completes on the agent's verified report: now every replica exists.
    assertThat(cp.replication.completeRebuild("v2", target.getNodeId(), target.getEpoch()))
        .isTrue();
    assertThat(cp.manager.get("v2").orElseThrow().getState())
        .isEqualTo(VolumeState.VOLUME_STATE_BOUND);
  }

  @Test
  void aRefusedFollowerWaitsForAnUnconfirmedPrimaryAndARefusedPrimaryIsCreatedElsewhere() {
    Allocation a = allocate("v3");
    String primary = a.getPrimaryNodeId();
    List<String> followers =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(primary))
            .toList();
    String refuser = followers.get(0);
    for (int i = 1; i <= 3; i++) {
      cp.creation.onResult(refuser, result(createFor(refuser, "v3"), false, "disk error " + i));
    }
    // The primary is not confirmed: it may have taken writes the new replica must copy, so the
    // re-placement waits; the refused replica is still not healthy.
    assertThat(replicaOn("v3", refuser).getState()).isEqualTo(ReplicaState.REPLICA_STATE_CREATING);
    assertThat(cp.creation.replaceRefused()).isEmpty();
    // The primary itself is refused too: it never held data, so it is created anew elsewhere and
    // the primary role moves to a replica that is still there.
    for (int i = 1; i <= 3; i++) {
      cp.creation.onResult(primary, result(createFor(primary, "v3"), false, "no space " + i));
    }
    Allocation b = cp.manager.get("v3").orElseThrow();
    assertThat(b.getReplicasList()).extracting(Replica::getNodeId).doesNotContain(primary);
    assertThat(b.getPrimaryNodeId()).isNotEqualTo(primary);
    assertThat(b.getReplicasList())
        .noneMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY);
    assertThat(b.getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void aRebuildWhoseSourceHoldsNoReplicaMarksBothLostInsteadOfRetryingForever() {
    allocate("v5");
    cp.confirmCreates();
    Allocation a = cp.manager.get("v5").orElseThrow();
    assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_BOUND);
    String stale = a.getReplicas(2).getNodeId();
    cp.replication.replicaFailedAudit("v5", stale);
    cp.registry.list().forEach(n -> cp.registry.heartbeat(n.getNodeId()));
    // The stale replica's node is eligible: it is taken back by catch-up on its own node.
    ReplicationManager.Pass pass = cp.replication.reconcile();
    assertThat(pass.rebuildsStarted().size() + pass.replicasTakenBack().size()).isEqualTo(1);
    Replica target =
        cp.manager.get("v5").orElseThrow().getReplicasList().stream()
            .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_REBUILDING)
            .findFirst()
            .orElseThrow();
    String source = target.getSourceNodeId();
    String bystander =
        a.getReplicasList().stream()
            .map(Replica::getNodeId)
            .filter(n -> !n.equals(source) && !n.equals(stale) && !n.equals(a.getPrimaryNodeId()))
            .findFirst()
            .orElse(null);
    if (bystander != null) {
      // The target may only name its own source or the primary.
      assertThat(
              cp.creation.rebuildSourceMissing(
                  "v5", target.getNodeId(), bystander, target.getEpoch()))
          .isFalse();
    }
    assertThat(
            cp.creation.rebuildSourceMissing("v5", target.getNodeId(), source, target.getEpoch()))
        .isTrue();
    Allocation after = cp.manager.get("v5").orElseThrow();
    assertThat(replicaOn("v5", source).getState()).isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    assertThat(replicaOn("v5", target.getNodeId()).getState())
        .isEqualTo(ReplicaState.REPLICA_STATE_LOST);
    // Replayed: nothing changes.
    assertThat(
            cp.creation.rebuildSourceMissing("v5", target.getNodeId(), source, target.getEpoch()))
        .isFalse();
    assertThat(cp.manager.get("v5").orElseThrow()).isEqualTo(after);
  }

  @Test
  void aCreatingReplicaThatMissedAWriteIsStaleAndItsLateResultDoesNotMakeItHealthy() {
    Allocation a = allocate("v4");
    String follower = a.getReplicas(1).getNodeId();
    assertThat(cp.creation.replicaOutOfSync("v4", follower)).isTrue();
    assertThat(cp.creation.onResult(follower, result(createFor(follower, "v4"), true, "created")))
        .isEqualTo(ReplicaCreation.Outcome.IGNORED);
    assertThat(replicaOn("v4", follower).getState()).isEqualTo(ReplicaState.REPLICA_STATE_STALE);
  }
}
