package io.mycnet.storage.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Follower-side epoch fencing of {@link ReplicatedVolume#apply}. */
class ReplicatedVolumeTest {
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
          public PeerChannels peers() {
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

  static AssignReplica assign(long epoch, String primary, String... members) {
    AssignReplica.Builder b =
        AssignReplica.newBuilder()
            .setVolumeId("v1")
            .setEpoch(epoch)
            .setSizeBytes(1 << 20)
            .setConsistency(ConsistencyLevel.CONSISTENCY_LEVEL_STRONG)
            .setPrimaryNodeId(primary)
            .setNamespace("app");
    for (String m : members) {
      b.addPeers(
          ReplicaMember.newBuilder()
              .setNodeId(m)
              .setAddress("127.0.0.1:1")
              .setState(ReplicaState.REPLICA_STATE_HEALTHY));
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
}
