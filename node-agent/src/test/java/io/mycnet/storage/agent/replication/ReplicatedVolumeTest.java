package io.mycnet.storage.agent.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Follower-side epoch fencing of {@link ReplicatedVolume#apply}, and the read gate: what a replica
 * decides alone (its own state, a rebuild, a restart) and from its primary's ReadIndex answer.
 */
public class ReplicatedVolumeTest {
  @TempDir Path dir;
  final List<ReplicaReport> reports = new ArrayList<>();

  ReplicatedVolume follower(String nodeId) throws Exception {
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return nodeId;
          }

          @Override
          public ReplicaLink link() {
            return null;
          }

          @Override
          public void report(ReplicaReport r) {
            reports.add(r);
          }

          @Override
          public void recordEpoch(String volumeId, long epoch) {}
        };
    return new ReplicatedVolume(VolumeReplica.open("v1", dir.resolve("v1"), 1 << 20), 1, ctx);
  }

  public static AssignReplica assign(long epoch, String primary, String... members) {
    ReplicaState[] states = new ReplicaState[members.length];
    java.util.Arrays.fill(states, ReplicaState.REPLICA_STATE_HEALTHY);
    return assign(epoch, primary, members, states);
  }

  public static AssignReplica assign(
      long epoch, String primary, String[] members, ReplicaState[] states) {
    AssignReplica.Builder b =
        AssignReplica.newBuilder()
            .setVolumeId("v1")
            .setEpoch(epoch)
            .setSizeBytes(1 << 20)
            .setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_STRONG)
            .setPrimaryNodeId(primary)
            .setNamespace("app");
    for (int i = 0; i < members.length; i++) {
      b.addPeers(
          ReplicaMember.newBuilder()
              .setNodeId(members[i])
              .setAddress("127.0.0.1:1")
              .setState(states[i]));
    }
    return b.build();
  }

  static ReplicaWrite write(long epoch, long seq, byte fill) {
    byte[] b = new byte[4096];
    java.util.Arrays.fill(b, fill);
    return ReplicaWrite.newBuilder()
        .setVolumeId("v1")
        .setEpoch(epoch)
        .setSequence(seq)
        .setOffset(0)
        .setData(ByteString.copyFrom(b))
        .build();
  }

  @Test
  void theSamePrimaryBehindOnANewEpochIsNotFencedButADeposedOneIs() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assign(assign(1, "p1", "p1", "f1", "f2"));
      assertThat(v.apply("p1", write(1, 1, (byte) 1))).isEqualTo(1);
      // This follower learns epoch 2 (a member added, same primary) before the primary does.
      v.assign(assign(2, "p1", "p1", "f1", "f2", "f3"));
      assertThat(v.apply("p1", write(1, 2, (byte) 2))).isEqualTo(2);
      assertThat(v.replica().read(0, 1)[0]).isEqualTo((byte) 2);
      // Epoch 3 makes f2 the primary: p1's writes at an older epoch are refused as stale.
      v.assign(assign(3, "f2", "f2", "f1", "f3"));
      assertThatThrownBy(() -> v.apply("p1", write(2, 3, (byte) 3)))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                assertThat(e.getStatus().getDescription()).startsWith("stale epoch");
              });
      assertThat(v.replica().read(0, 1)[0]).isEqualTo((byte) 2);
      assertThat(v.apply("f2", write(3, 3, (byte) 4))).isEqualTo(3);
      assertThat(v.replica().read(0, 1)[0]).isEqualTo((byte) 4);
    }
  }

  @Test
  void writesThatOvertakeEachOtherWaitWithoutHoldingTheCallerAndApplyInOrder() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assign(assign(1, "p1", "p1", "f1"));
      // Writes 2..64 arrive first, newest first: each is parked and the call returns at once (a
      // waiting thread per write would exhaust the data port's pool).
      List<com.google.common.util.concurrent.ListenableFuture<Long>> answers = new ArrayList<>();
      for (long seq = 64; seq >= 2; seq--) {
        var f =
            v.applyAsync("p1", write(1, seq, (byte) seq).toBuilder().setOffset(seq << 12).build());
        assertThat(f.isDone()).isFalse();
        answers.add(f);
      }
      assertThat(v.appliedSequence()).isZero();
      // Write 1 makes every one of them due: applied in sequence order, answered once durable.
      assertThat(v.apply("p1", write(1, 1, (byte) 1).toBuilder().setOffset(1 << 12).build()))
          .isEqualTo(1);
      for (int i = 0; i < answers.size(); i++) {
        assertThat(answers.get(i).get(5, TimeUnit.SECONDS)).isEqualTo(64 - i);
      }
      assertThat(v.appliedSequence()).isEqualTo(64);
      for (long seq = 1; seq <= 64; seq++) {
        assertThat(v.replica().read(seq << 12, 4096)).containsOnly((byte) seq);
      }
    }
  }

  @Test
  void aWriteWhosePredecessorNeverComesIsRefusedAfterTheOrderWaitWritingNothing() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assign(assign(1, "p1", "p1", "f1"));
      long start = System.nanoTime();
      var f = v.applyAsync("p1", write(1, 3, (byte) 3));
      assertThatThrownBy(() -> f.get(ReplicatedVolume.ORDER_WAIT_MS + 5_000, TimeUnit.MILLISECONDS))
          .hasCauseInstanceOf(StatusRuntimeException.class)
          .cause()
          .satisfies(
              e -> {
                Status s = ((StatusRuntimeException) e).getStatus();
                assertThat(s.getCode()).isEqualTo(Status.Code.ABORTED);
                assertThat(s.getDescription()).contains("write 3 arrived but 1 never did");
              });
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
          .isGreaterThanOrEqualTo(ReplicatedVolume.ORDER_WAIT_MS);
      assertThat(v.appliedSequence()).isZero();
      assertThat(v.replica().read(0, 4096)).containsOnly((byte) 0);
      // The missing writes then come in order: the volume goes on from write 1.
      assertThat(v.apply("p1", write(1, 1, (byte) 1))).isEqualTo(1);
    }
  }

  static final ReplicaState H = ReplicaState.REPLICA_STATE_HEALTHY;

  static void assertRefused(ReplicatedVolume v, String... contains) {
    assertThatThrownBy(v::checkReadable)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getStatus().getDescription())
                  .contains("not in sync")
                  .contains("read from the primary")
                  .contains(contains);
            });
  }

  @Test
  void aReplicaNotHealthyInItsOwnAssignmentRefusesReadsWithoutAskingAnyone() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      assertRefused(v, "no assignment yet");
      for (ReplicaState s :
          List.of(
              ReplicaState.REPLICA_STATE_STALE,
              ReplicaState.REPLICA_STATE_REBUILDING,
              ReplicaState.REPLICA_STATE_LOST)) {
        v.assign(assign(2, "p1", new String[] {"p1", "f1", "f2"}, new ReplicaState[] {H, s, H}));
        // The context has no peer channels: a refusal here was decided locally.
        assertRefused(v, "counts it " + s.name().replace("REPLICA_STATE_", ""), "primary p1");
      }
      v.assign(assign(3, "p1", "p1", "f2"));
      assertRefused(v, "counts it not a member");
    }
  }

  @Test
  void anAssignmentOfTheSameEpochAndAnOlderRevisionIsIgnored() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      ReplicaState s = ReplicaState.REPLICA_STATE_STALE;
      v.assign(
          assign(2, "p1", new String[] {"p1", "f1"}, new ReplicaState[] {H, s}).toBuilder()
              .setRevision(7)
              .build());
      assertThat(v.assign(assign(2, "p1", "p1", "f1").toBuilder().setRevision(6).build()))
          .contains("older than the one applied");
      assertRefused(v, "counts it STALE");
      // A newer revision at the same epoch applies.
      v.assign(assign(2, "p1", "p1", "f1").toBuilder().setRevision(8).build());
      assertThat(ReplicatedVolume.memberState(v.assignment(), "f1")).isEqualTo(H);
    }
  }

  @Test
  void aPrimaryServesReadsAndAnswersReadIndexWithItsPositionAndInSyncSet() throws Exception {
    try (ReplicatedVolume v = follower("p1")) {
      // f1 STALE and f2 REBUILDING: neither is forwarded to nor in sync.
      v.assign(
          assign(
              4,
              "p1",
              new String[] {"p1", "f1", "f2"},
              new ReplicaState[] {
                H, ReplicaState.REPLICA_STATE_STALE, ReplicaState.REPLICA_STATE_REBUILDING
              }));
      v.primaryWrite(0, new byte[4096], 0);
      v.primaryWrite(4096, new byte[4096], 0);
      v.checkReadable();
      var r = v.readIndex("f1");
      assertThat(r.getPrimary()).isTrue();
      assertThat(r.getEpoch()).isEqualTo(4);
      assertThat(r.getPrimaryNodeId()).isEqualTo("p1");
      assertThat(r.getCommittedSequence()).isEqualTo(2);
      assertThat(r.getInSyncNodeIdsList()).containsExactly("p1");
    }
  }

  @Test
  void aNewPrimarysWriteThatOvertakesItsAssignmentWaitsForItAndIsApplied() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assignmentWaitMs = 120_000; // the assignment below comes long before that
      v.assign(assign(2, "p1", "p1", "f1", "f2"));
      assertThat(v.apply("p1", write(2, 1, (byte) 1))).isEqualTo(1);
      // f2 became primary at epoch 3; its write arrives before this replica's assignment does.
      CompletableFuture<Long> applied =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return v.apply("f2", write(3, 2, (byte) 2));
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      v.assign(assign(3, "f2", "f2", "f1", "p1"));
      assertThat(applied.get(60, TimeUnit.SECONDS)).isEqualTo(2);
      assertThat(v.replica().read(0, 1)[0]).isEqualTo((byte) 2);
      var r = v.readIndex("p1");
      assertThat(r.getPrimary()).isFalse();
      assertThat(r.getEpoch()).isEqualTo(3);
      assertThat(r.getPrimaryNodeId()).isEqualTo("f2");
      assertThat(reports).isEmpty();
    }
  }

  static void assertRefusedWrite(
      ReplicatedVolume v, String caller, ReplicaWrite w, Status.Code code, String contains)
      throws Exception {
    byte[] before = v.replica().read(0, 4096);
    long seq = v.appliedSequence();
    assertThatThrownBy(() -> v.apply(caller, w))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(code);
              assertThat(e.getStatus().getDescription()).contains(contains);
            });
    assertThat(v.replica().read(0, 4096)).isEqualTo(before);
    assertThat(v.appliedSequence()).isEqualTo(seq);
  }

  void assertReported(int index, String sender, long epoch, String contains) {
    assertThat(reports).hasSizeGreaterThan(index);
    ReplicaReport r = reports.get(index);
    assertThat(r.getKind()).isEqualTo(ReplicaReport.Kind.PEER_PROTOCOL_VIOLATION);
    assertThat(r.getNodeId()).isEqualTo(sender);
    assertThat(r.getVolumeId()).isEqualTo("v1");
    assertThat(r.getEpoch()).isEqualTo(epoch);
    assertThat(r.getMessage()).contains(contains);
  }

  @Test
  void aMemberClaimingAnEpochItIsNotPrimaryOfIsRefusedAndReported() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assignmentWaitMs = 200;
      v.assign(assign(1, "p1", "p1", "f1", "f2"));
      assertThat(v.apply("p1", write(1, 1, (byte) 1))).isEqualTo(1);
      // The current epoch names p1: f2 may not write at it.
      assertRefusedWrite(
          v, "f2", write(1, 2, (byte) 9), Status.Code.PERMISSION_DENIED, "not its primary");
      assertReported(0, "f2", 1, "names p1 primary");
      // A newer epoch that no assignment brings: refused after the wait, not as "stale epoch"
      // (that would fence a legitimate primary whose assignment is merely late here).
      assertRefusedWrite(
          v, "f2", write(2, 2, (byte) 9), Status.Code.FAILED_PRECONDITION, "no assignment of");
      assertReported(1, "f2", 2, "no assignment of epoch 2");
      // Epoch 0 is never assigned.
      assertRefusedWrite(
          v, "f2", write(0, 2, (byte) 9), Status.Code.PERMISSION_DENIED, "never assigned");
      assertReported(2, "f2", 0, "epoch 0 is never assigned");
      assertThat(reports).hasSize(3);
      // More of the same: refused, not reported again within the interval; a newer epoch from the
      // same sender is refused without a second wait until a newer assignment arrives.
      for (int i = 0; i < 20; i++) {
        assertRefusedWrite(
            v, "f2", write(1, 2, (byte) 9), Status.Code.PERMISSION_DENIED, "not its primary");
        assertRefusedWrite(
            v, "f2", write(5 + i, 2, (byte) 9), Status.Code.FAILED_PRECONDITION, "no assignment");
      }
      assertThat(reports).hasSize(3);
      // The primary's writes go on.
      assertThat(v.apply("p1", write(1, 2, (byte) 3))).isEqualTo(2);
      assertThat(v.replica().read(0, 1)[0]).isEqualTo((byte) 3);
    }
  }

  @Test
  void aNewerEpochWhoseAssignmentNamesAnotherPrimaryIsRefusedWhenItArrives() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assignmentWaitMs = 120_000;
      v.assign(assign(1, "p1", "p1", "f1", "f2", "f3"));
      CompletableFuture<Long> forged =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return v.apply("f2", write(2, 1, (byte) 9));
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      // Epoch 2 is real, but makes f3 the primary.
      v.assign(assign(2, "f3", "f3", "f1", "f2"));
      assertThatThrownBy(() -> forged.get(60, TimeUnit.SECONDS))
          .hasCauseInstanceOf(StatusRuntimeException.class)
          .cause()
          .satisfies(
              e ->
                  assertThat(((StatusRuntimeException) e).getStatus().getCode())
                      .isEqualTo(Status.Code.PERMISSION_DENIED));
      assertThat(v.replica().read(0, 1)[0]).isEqualTo((byte) 0);
      assertReported(0, "f2", 2, "names f3 primary");
      assertThat(v.apply("f3", write(2, 1, (byte) 4))).isEqualTo(1);
    }
  }

  @Test
  void anOlderEpochIsStaleFromItsPrimaryAndForgedFromAnyoneElse() throws Exception {
    try (ReplicatedVolume v = follower("f1")) {
      v.assign(assign(1, "p1", "p1", "f1", "f2", "f3"));
      v.assign(assign(2, "f2", "f2", "f1", "f3"));
      // p1 was the primary of epoch 1: deposed, fenced by "stale epoch", not accused.
      assertRefusedWrite(
          v, "p1", write(1, 1, (byte) 9), Status.Code.FAILED_PRECONDITION, "stale epoch");
      assertThat(reports).isEmpty();
      // f3 never was.
      assertRefusedWrite(
          v, "f3", write(1, 1, (byte) 9), Status.Code.PERMISSION_DENIED, "named p1 primary");
      assertReported(0, "f3", 1, "named p1 primary");
    }
  }

  @Test
  void theDecisionTakesEpochsFromTheAssignmentsOnly() {
    var primaries = new java.util.TreeMap<Long, String>(java.util.Map.of(3L, "p1", 4L, "p2"));
    AssignReplica a4 = assign(4, "p2", "p1", "p2", "f1");
    // No assignment, or a newer epoch than held: wait for the control plane.
    assertThat(ReplicatedVolume.decide(null, 1, primaries, "p2", 1))
        .isEqualTo(ReplicatedVolume.Verdict.WAIT);
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "p2", 5))
        .isEqualTo(ReplicatedVolume.Verdict.WAIT);
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "p2", 4))
        .isEqualTo(ReplicatedVolume.Verdict.ACCEPT);
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "f1", 4))
        .isEqualTo(ReplicatedVolume.Verdict.FORGED_CURRENT);
    // A create command of epoch 5 arrived, its assignment not yet: epoch 4 is stale.
    assertThat(ReplicatedVolume.decide(a4, 5, primaries, "p2", 4))
        .isEqualTo(ReplicatedVolume.Verdict.STALE);
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "p1", 3))
        .isEqualTo(ReplicatedVolume.Verdict.STALE);
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "f1", 3))
        .isEqualTo(ReplicatedVolume.Verdict.FORGED_OLDER);
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "f1", 0))
        .isEqualTo(ReplicatedVolume.Verdict.FORGED_OLDER);
    // An epoch older than any held here: stale (cannot tell a deposed primary from a liar).
    assertThat(ReplicatedVolume.decide(a4, 4, primaries, "f1", 2))
        .isEqualTo(ReplicatedVolume.Verdict.STALE);
    // The primary of the newest epoch, behind on a membership change, is not deposed.
    AssignReplica a5 = assign(5, "p2", "p2", "f1");
    assertThat(ReplicatedVolume.decide(a5, 5, primaries, "p2", 4))
        .isEqualTo(ReplicatedVolume.Verdict.ACCEPT);
  }

  @Test
  void outOfSyncMarksSurviveARestartOfThePrimaryAndAreReportedAgain() throws Exception {
    try (ReplicatedVolume v = follower("p1")) {
      v.assign(
          assign(
              2,
              "p1",
              new String[] {"p1", "f1"},
              new ReplicaState[] {H, ReplicaState.REPLICA_STATE_REBUILDING}));
    }
    // What markOutOfSync wrote before acknowledging a write without f1.
    java.nio.file.Files.writeString(
        dir.resolve("v1").resolve(ReplicatedVolume.OUT_OF_SYNC_FILE), "f1\n");
    try (ReplicatedVolume v = follower("p1")) {
      assertThat(v.outOfSync()).containsExactly("f1");
      assertThat(reports)
          .anySatisfy(
              r -> {
                assertThat(r.getKind()).isEqualTo(ReplicaReport.Kind.REPLICA_OUT_OF_SYNC);
                assertThat(r.getNodeId()).isEqualTo("f1");
              });
      // Assigned in this lifetime (f1 HEALTHY as far as the control plane knows): still not in
      // sync.
      v.assign(assign(2, "p1", "p1", "f1"));
      assertThat(v.readIndex("f1").getInSyncNodeIdsList()).containsExactly("p1");
    }
  }

  @Test
  void aFollowerServesOnlyWhenThePrimaryCountsItInSyncAndItHasEveryWrite() {
    AssignReplica a = assign(5, "p1", "p1", "f1", "f2");
    ReadIndexResponse ok =
        ReadIndexResponse.newBuilder()
            .setEpoch(5)
            .setPrimaryNodeId("p1")
            .setPrimary(true)
            .setCommittedSequence(10)
            .addAllInSyncNodeIds(List.of("p1", "f1"))
            .setAckedSequence(10)
            .build();
    assertThat(ReplicatedVolume.followerReadProblem(a, "f1", 5, 10, ok)).isNull();
    // Restarted (applied 0 in memory) but every write up to 10 acknowledged: durable here.
    assertThat(ReplicatedVolume.followerReadProblem(a, "f1", 5, 0, ok)).isNull();
    // Behind: neither applied nor acknowledged write 10.
    assertThat(
            ReplicatedVolume.followerReadProblem(
                a, "f1", 5, 9, ok.toBuilder().setAckedSequence(8).build()))
        .contains("up to 9, the primary up to 10");
    assertThat(ReplicatedVolume.followerReadProblem(a, "f2", 5, 10, ok))
        .contains("counts it out of sync");
    assertThat(
            ReplicatedVolume.followerReadProblem(
                a, "f1", 5, 10, ok.toBuilder().setEpoch(6).build()))
        .contains("primary is at epoch 6");
    assertThat(
            ReplicatedVolume.followerReadProblem(
                a, "f1", 5, 10, ok.toBuilder().setPrimary(false).setPrimaryNodeId("f2").build()))
        .contains("does not act as its primary (it names f2)");
  }

  @Test
  void anEventualPrimaryHoldsNewWritesBackWhileItsFollowersOweTooManyAcks() throws Exception {
    // A follower that has not answered yet: its acks are held until the test releases them.
    List<com.google.common.util.concurrent.SettableFuture<io.mycnet.storage.api.v1.ReplicaAck>>
        owed = java.util.Collections.synchronizedList(new ArrayList<>());
    ReplicaLink slow =
        new ReplicaLink() {
          @Override
          public com.google.common.util.concurrent.ListenableFuture<
                  io.mycnet.storage.api.v1.ReplicaAck>
              apply(ReplicaMember to, ReplicaWrite w, long deadlineMs) {
            var f =
                com.google.common.util.concurrent.SettableFuture
                    .<io.mycnet.storage.api.v1.ReplicaAck>create();
            owed.add(f);
            return f;
          }

          @Override
          public com.google.common.util.concurrent.ListenableFuture<ReadIndexResponse> readIndex(
              ReplicaMember to, io.mycnet.storage.api.v1.ReadIndexRequest r, long deadlineMs) {
            throw new UnsupportedOperationException();
          }
        };
    ReplicatedVolume.Context ctx =
        new ReplicatedVolume.Context() {
          @Override
          public String nodeId() {
            return "p1";
          }

          @Override
          public ReplicaLink link() {
            return slow;
          }

          @Override
          public void report(ReplicaReport r) {
            reports.add(r);
          }

          @Override
          public void recordEpoch(String volumeId, long epoch) {}
        };
    long size = 256L << 20;
    try (ReplicatedVolume v =
        new ReplicatedVolume(VolumeReplica.open("v1", dir.resolve("v1"), size), 1, ctx)) {
      v.assign(
          assign(1, "p1", "p1", "f1").toBuilder()
              .setSizeBytes(size)
              .setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_EVENTUAL)
              .build());
      v.forwardDeadlineMs = 200;
      byte[] mib = new byte[1 << 20];
      int budget = ReplicatedVolume.FORWARD_BUDGET_KIB / 1024;
      for (int i = 0; i < budget; i++) {
        v.primaryWrite((long) i << 20, mib, 0); // EVENTUAL: acknowledged before the follower
      }
      assertThat(owed).hasSize(budget);
      // The budget is spent: the next write waits for an answer, and is refused when none comes.
      assertThatThrownBy(() -> v.primaryWrite((long) budget << 20, mib, 0))
          .isInstanceOf(StatusRuntimeException.class)
          .hasMessageContaining("UNAVAILABLE")
          .hasMessageContaining("followers have not answered");
      assertThat(owed).hasSize(budget);
      // One answer frees a MiB: the write goes through.
      owed.get(0)
          .set(io.mycnet.storage.api.v1.ReplicaAck.newBuilder().setAppliedSequence(1).build());
      assertThat(v.primaryWrite((long) budget << 20, mib, 0).sequence()).isEqualTo(budget + 1);
    }
  }
}
