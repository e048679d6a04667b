package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import org.junit.jupiter.api.Test;

/** Which peer-protocol-violation reports count against the sender. */
class ReplicaEventsTest {
  static Allocation allocation(long epoch, String primary, String... holders) {
    Allocation.Builder b =
        Allocation.newBuilder().setVolumeId("v1").setEpoch(epoch).setPrimaryNodeId(primary);
    for (String h : holders) {
      b.addReplicas(Replica.newBuilder().setNodeId(h).setState(ReplicaState.REPLICA_STATE_HEALTHY));
    }
    return b.build();
  }

  @Test
  void aViolationCountsUnlessTheAllocationShowsTheClaimWasTrueOrTheReporterHoldsNoReplica() {
    Allocation a = allocation(4, "p1", "p1", "f1", "f2");
    // A follower claiming the current epoch, an older one, a newer one: counted.
    assertThat(ReplicaEvents.violationDismissed(a, "f2", "f1", 4)).isNull();
    assertThat(ReplicaEvents.violationDismissed(a, "f2", "f1", 3)).isNull();
    assertThat(ReplicaEvents.violationDismissed(a, "f2", "f1", 5)).isNull();
    assertThat(ReplicaEvents.violationDismissed(a, "f2", "p1", 5)).isNull();
    // The sender is the primary at that very epoch: the reporter's assignment was late.
    assertThat(ReplicaEvents.violationDismissed(a, "f2", "p1", 4))
        .contains("p1 is its primary at epoch 4");
    // Only a replica holder can have been sent a write.
    assertThat(ReplicaEvents.violationDismissed(a, "x9", "f1", 4)).contains("x9 holds no replica");
    assertThat(ReplicaEvents.violationDismissed(null, "f2", "f1", 4)).isEqualTo("no such volume");
  }
}
