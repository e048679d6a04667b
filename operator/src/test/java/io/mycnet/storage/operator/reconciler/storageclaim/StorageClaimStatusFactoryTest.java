package io.mycnet.storage.operator.reconciler.storageclaim;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.CreateRefusal;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StorageClaimStatus;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.reconciler.CommonReason;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.TestClock;
import io.mycnet.storage.operator.runtime.EngineTrustSource;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustPolicy;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.util.List;
import org.junit.jupiter.api.Test;

class StorageClaimStatusFactoryTest {
  private final TestClock clock = new TestClock();
  private final StorageClaimStatusFactory factory =
      new StorageClaimStatusFactory(
          new Conditions(clock),
          new EngineTrustSource(new TrustEngine(TrustPolicy.defaults(), clock)));

  private static StorageClaim claim(long generation) {
    StorageClaim c = new StorageClaim();
    c.setMetadata(
        new ObjectMetaBuilder()
            .withName("db")
            .withNamespace("team-a")
            .withGeneration(generation)
            .build());
    return c;
  }

  private static Allocation.Builder volume(VolumeState state, ReplicaState... replicas) {
    Allocation.Builder a =
        Allocation.newBuilder()
            .setVolumeId("team-a.db")
            .setPool("edge")
            .setSizeBytes(1L << 30)
            .setClassification(ProtoMapping.toProto(Classification.SENSITIVE))
            .setConsistency(ProtoMapping.toProto(ConsistencyLevel.STRONG))
            .setStrategy(ProtoMapping.toProto(ReplicationStrategy.HIERARCHY_AWARE))
            .setReplicaCount(replicas.length)
            .setEpoch(7)
            .setPlacementNote("spread over zone")
            .setState(state);
    for (int i = 0; i < replicas.length; i++) {
      a.addReplicas(
          Replica.newBuilder()
              .setNodeId("n" + i)
              .setState(replicas[i])
              .setTopologyPath("region=eu/zone=z" + i + "/rack=r/node=n" + i));
    }
    return a;
  }

  private static Condition condition(StorageClaimStatus s, String type) {
    return Conditions.find(s.getConditions(), type).orElseThrow();
  }

  @Test
  void aBoundVolumeIsReadyAndReplicated() {
    Allocation a =
        volume(
                VolumeState.VOLUME_STATE_BOUND,
                ReplicaState.REPLICA_STATE_HEALTHY,
                ReplicaState.REPLICA_STATE_HEALTHY)
            .build();
    StorageClaimStatus s = factory.bound(claim(2), a, null);

    assertThat(s.getPhase()).isEqualTo(ClaimPhase.Bound);
    assertThat(s.getVolumeId()).isEqualTo("team-a.db");
    assertThat(s.getPool()).isEqualTo("edge");
    assertThat(s.getSizeBytes()).isEqualTo(1L << 30);
    assertThat(s.getClassification()).isEqualTo(ClassificationName.SENSITIVE);
    assertThat(s.getEpoch()).isEqualTo(7L);
    assertThat(s.getPlacement()).isEqualTo("spread over zone");
    assertThat(s.getReplicasReady()).isEqualTo("2/2");
    assertThat(s.getReplicas()).hasSize(2);
    assertThat(s.getReplicas().get(1).getNode()).isEqualTo("n1");
    assertThat(s.getReplicas().get(1).getState()).isEqualTo("HEALTHY");
    // The engine has no evidence of n1: its trust is unknown, score 0.
    assertThat(s.getReplicas().get(1).getTrustScore()).isZero();
    assertThat(s.getObservedGeneration()).isEqualTo(2L);
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("Bound");
    assertThat(ready.getMessage()).isEqualTo("volume team-a.db is allocated in pool edge");
    Condition replicated = condition(s, StorageClaimStatusFactory.REPLICATED);
    assertThat(replicated.getStatus()).isEqualTo("True");
    assertThat(replicated.getReason()).isEqualTo("Bound");
    assertThat(replicated.getMessage()).isEqualTo("2 of 2 replicas healthy");
  }

  @Test
  void aVolumeWhoseReplicasAreBeingCreatedIsNotReadyAndNamesTheLastRefusal() {
    Allocation a =
        volume(
                VolumeState.VOLUME_STATE_CREATING,
                ReplicaState.REPLICA_STATE_HEALTHY,
                ReplicaState.REPLICA_STATE_CREATING)
            .addCreateRefusals(
                CreateRefusal.newBuilder()
                    .setNodeId("n9")
                    .setReason("disk full")
                    .setReplacedBy("n1"))
            .build();
    StorageClaimStatus s = factory.bound(claim(1), a, null);

    assertThat(s.getPhase()).isEqualTo(ClaimPhase.Pending);
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("ReplicasCreating");
    assertThat(ready.getMessage())
        .isEqualTo(
            "volume team-a.db is allocated in pool edge; 1 of 2 replicas confirmed by their"
                + " agents; node n9 refused its replica (disk full), re-placed on n1");
  }

  @Test
  void aLostVolumeIsNotReadyAndAPausedReplicationIsNamed() {
    Allocation lost =
        volume(VolumeState.VOLUME_STATE_LOST, ReplicaState.REPLICA_STATE_LOST).build();
    Allocation paused =
        volume(
                VolumeState.VOLUME_STATE_DEGRADED,
                ReplicaState.REPLICA_STATE_HEALTHY,
                ReplicaState.REPLICA_STATE_STALE)
            .setRepairNote("replication paused: 3 nodes DOWN at once")
            .build();

    StorageClaimStatus l = factory.bound(claim(1), lost, null);
    StorageClaimStatus p = factory.bound(claim(1), paused, null);

    assertThat(l.getPhase()).isEqualTo(ClaimPhase.Lost);
    assertThat(condition(l, Conditions.READY).getStatus()).isEqualTo("False");
    assertThat(condition(l, Conditions.READY).getReason()).isEqualTo("Lost");
    assertThat(condition(l, Conditions.READY).getMessage())
        .isEqualTo("volume team-a.db has no healthy replica left");
    assertThat(p.getPhase()).isEqualTo(ClaimPhase.Degraded);
    assertThat(condition(p, Conditions.READY).getStatus()).isEqualTo("True");
    assertThat(condition(p, Conditions.READY).getReason()).isEqualTo("Degraded");
    Condition replicated = condition(p, StorageClaimStatusFactory.REPLICATED);
    assertThat(replicated.getStatus()).isEqualTo("False");
    assertThat(replicated.getReason()).isEqualTo("ReplicationPaused");
    assertThat(replicated.getMessage())
        .isEqualTo("1 of 2 replicas healthy; replication paused: 3 nodes DOWN at once");
  }

  @Test
  void aProblemWithTheSpecOfABoundVolumeKeepsTheVolumeAndSaysWhy() {
    Allocation a =
        volume(VolumeState.VOLUME_STATE_BOUND, ReplicaState.REPLICA_STATE_HEALTHY).build();
    StorageClaimStatus s =
        factory.bound(
            claim(3),
            a,
            new StorageClaimStatusFactory.Problem(
                CommonReason.INVALID_SPEC, "spec.size: volumes grow, never shrink"));

    assertThat(s.getPhase()).isEqualTo(ClaimPhase.Bound);
    assertThat(s.getVolumeId()).isEqualTo("team-a.db");
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("InvalidSpec");
    assertThat(ready.getMessage()).isEqualTo("spec.size: volumes grow, never shrink");
    assertThat(condition(s, StorageClaimStatusFactory.REPLICATED).getStatus()).isEqualTo("True");
  }

  @Test
  void aClaimWithoutAVolumeIsPendingWithTheGivenReason() {
    StorageClaimStatus s =
        factory.pending(claim(1), StorageClaimReason.QUOTA_EXCEEDED, "quota 1Gi exceeded");

    assertThat(s.getPhase()).isEqualTo(ClaimPhase.Pending);
    assertThat(s.getReplicas()).isEmpty();
    assertThat(s.getVolumeId()).isNull();
    Condition ready = condition(s, Conditions.READY);
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("QuotaExceeded");
    assertThat(ready.getMessage()).isEqualTo("quota 1Gi exceeded");
    Condition replicated = condition(s, StorageClaimStatusFactory.REPLICATED);
    assertThat(replicated.getReason()).isEqualTo("Pending");
    assertThat(replicated.getMessage()).isEqualTo("no volume is allocated");
  }

  @Test
  void aReleasedClaimRemembersItsVolume() {
    StorageClaim c = claim(1);
    c.setStatus(
        factory.bound(
            c,
            volume(VolumeState.VOLUME_STATE_BOUND, ReplicaState.REPLICA_STATE_HEALTHY).build(),
            null));

    StorageClaimStatus s = factory.released(c, "released with its namespace");

    assertThat(s.getPhase()).isEqualTo(ClaimPhase.Released);
    assertThat(s.getVolumeId()).isEqualTo("team-a.db");
    assertThat(s.getPool()).isEqualTo("edge");
    assertThat(condition(s, Conditions.READY).getReason()).isEqualTo("VolumeReleased");
    assertThat(condition(s, StorageClaimStatusFactory.REPLICATED).getReason())
        .isEqualTo("Released");
  }

  @Test
  void everyPhaseHasAReasonOfTheSameName() {
    for (ClaimPhase p : ClaimPhase.values()) {
      assertThat(StorageClaimReason.of(p).text()).isEqualTo(p.name());
    }
    assertThat(List.of(StorageClaimReason.values()))
        .extracting(StorageClaimReason::text)
        .doesNotHaveDuplicates();
  }
}
