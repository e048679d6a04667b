package io.mycnet.storage.agent.data;

import static io.mycnet.storage.agent.data.VolumeIoServiceTest.bytes;
import static io.mycnet.storage.agent.data.VolumeIoServiceTest.refused;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AttachRequest;
import io.mycnet.storage.api.v1.ChunkDigestsRequest;
import io.mycnet.storage.api.v1.ChunkDigestsResponse;
import io.mycnet.storage.api.v1.ReadChunkRequest;
import io.mycnet.storage.api.v1.ReadChunkResponse;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc.ReplicaPeerBlockingStub;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicaWrite;
import io.mycnet.storage.api.v1.RevocationList;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ReplicaPeer} over real gRPC calls (in-process transport) against a real replica store:
 * forwarded writes only from the assignment's primary, chunk copies and ReadIndex only for members,
 * attach only on the primary at its epoch, and the statuses volume.proto documents for the rest.
 */
class ReplicaPeerServiceTest {
  static final String VOLUME = "app.data";
  @TempDir Path dir;
  InProcessDataPort port;

  @AfterEach
  void stop() throws Exception {
    if (port != null) {
      port.close();
    }
  }

  /** This node (n2) follows n1 at epoch 1; n3 is the third member. */
  ReplicatedVolume follower() throws Exception {
    port = new InProcessDataPort(dir, "n2", RevocationList.getDefaultInstance());
    return port.replica(
        VOLUME, InProcessDataPort.assignment(VOLUME, "app", 1, "n1", "n1", "n2", "n3").build());
  }

  static ReplicaWrite write(long epoch, long seq, long offset, byte[] data) {
    return ReplicaWrite.newBuilder()
        .setVolumeId(VOLUME)
        .setEpoch(epoch)
        .setSequence(seq)
        .setOffset(offset)
        .setData(ByteString.copyFrom(data))
        .build();
  }

  @Test
  void thePrimarysWritesApplyAndMembersCopyChunks() throws Exception {
    ReplicatedVolume v = follower();
    ReplicaPeerBlockingStub primary = port.peer(port.node("n1"));
    assertThat(primary.apply(write(1, 1, 0, bytes(4096, 6))).getAppliedSequence()).isEqualTo(1);
    assertThat(
            primary
                .apply(
                    ReplicaWrite.newBuilder()
                        .setVolumeId(VOLUME)
                        .setEpoch(1)
                        .setSequence(2)
                        .setOffset(100)
                        .setZeroLength(10)
                        .build())
                .getAppliedSequence())
        .isEqualTo(2);
    assertThat(v.replica().read(99, 12)).containsExactly(6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6);

    ReplicaPeerBlockingStub member = port.peer(port.node("n3"));
    ReadChunkResponse chunk =
        member.readChunk(
            ReadChunkRequest.newBuilder()
                .setVolumeId(VOLUME)
                .setEpoch(1)
                .setOffset(0)
                .setLength(8192)
                .setMinSequence(2)
                .build());
    assertThat(chunk.getUnchanged()).isFalse();
    assertThat(chunk.getData().toByteArray()).isEqualTo(v.replica().read(0, 8192));
    assertThat(chunk.getBlockChecksumsList()).hasSize(2);
    assertThat(chunk.getBlockChecksums(0) >>> 32).isEqualTo(0x4D594331L);
    assertThat(chunk.getBlockChecksums(1)).isZero();

    ByteBuffer entries = ByteBuffer.allocate(16);
    chunk.getBlockChecksumsList().forEach(entries::putLong);
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(entries.array());
    ReadChunkRequest again =
        ReadChunkRequest.newBuilder()
            .setVolumeId(VOLUME)
            .setEpoch(1)
            .setLength(8192)
            .setHaveDigest(ByteString.copyFrom(digest))
            .build();
    assertThat(member.readChunk(again).getUnchanged()).isTrue();
    primary.apply(write(1, 3, 4096, bytes(1, 1)));
    assertThat(member.readChunk(again).getUnchanged()).isFalse();

    ReadIndexResponse index =
        member.readIndex(ReadIndexRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build());
    assertThat(index.getEpoch()).isEqualTo(1);
    assertThat(index.getPrimaryNodeId()).isEqualTo("n1");
    assertThat(index.getPrimary()).isFalse();
  }

  @Test
  void chunkDigestsAreTheDigestsReadChunkComparesAndFollowWrites() throws Exception {
    ReplicatedVolume v = follower();
    ReplicaPeerBlockingStub member = port.peer(port.node("n3"));
    ChunkDigestsRequest ask =
        ChunkDigestsRequest.newBuilder()
            .setVolumeId(VOLUME)
            .setEpoch(1)
            .setLength(InProcessDataPort.SIZE)
            .build();
    ChunkDigestsResponse empty = member.chunkDigests(ask);
    assertThat(empty.getChunkSize()).isEqualTo(1 << 20);
    assertThat(empty.getDigestsList()).hasSize(1);
    // A never written chunk: the digest of all-zero entries, as on any other replica.
    ByteBuffer zeros = ByteBuffer.allocate(8 * 256);
    assertThat(empty.getDigests(0).toByteArray())
        .isEqualTo(MessageDigest.getInstance("SHA-256").digest(zeros.array()))
        .isEqualTo(v.replica().chunkDigest(0, 1 << 20));

    ReplicaPeerBlockingStub primary = port.peer(port.node("n1"));
    primary.apply(write(1, 1, 8192, bytes(4096, 3)));
    ChunkDigestsResponse after = member.chunkDigests(ask.toBuilder().setMinSequence(1).build());
    assertThat(after.getDigests(0)).isNotEqualTo(empty.getDigests(0));
    assertThat(after.getDigests(0).toByteArray()).isEqualTo(v.replica().chunkDigest(0, 1 << 20));
    // The same digest makes ReadChunk answer "unchanged".
    assertThat(
            member
                .readChunk(
                    ReadChunkRequest.newBuilder()
                        .setVolumeId(VOLUME)
                        .setEpoch(1)
                        .setLength(1 << 20)
                        .setHaveDigest(after.getDigests(0))
                        .build())
                .getUnchanged())
        .isTrue();

    // With the requester's entries, only the blocks that differ come back.
    primary.apply(write(1, 2, 5 * 4096, bytes(4096, 4)));
    long[] mine = v.replica().chunkEntries(0, 1 << 20);
    ReadChunkRequest.Builder withEntries =
        ReadChunkRequest.newBuilder()
            .setVolumeId(VOLUME)
            .setEpoch(1)
            .setLength(1 << 20)
            .setMinSequence(2);
    for (int i = 0; i < mine.length; i++) {
      withEntries.addHaveEntries(i == 2 || i == 5 ? 0 : mine[i]); // blocks 2 and 5 "missing"
    }
    ReadChunkResponse blocks = member.readChunk(withEntries.build());
    assertThat(blocks.getUnchanged()).isFalse();
    assertThat(blocks.getBlockIndexesList()).containsExactly(2, 5);
    assertThat(blocks.getBlockChecksumsList()).containsExactly(mine[2], mine[5]);
    assertThat(blocks.getData().toByteArray())
        .isEqualTo(
            java.nio.ByteBuffer.allocate(8192)
                .put(v.replica().read(2 * 4096, 4096))
                .put(v.replica().read(5 * 4096, 4096))
                .array());
    withEntries.clearHaveEntries();
    for (long e : mine) {
      withEntries.addHaveEntries(e);
    }
    assertThat(member.readChunk(withEntries.build()).getUnchanged()).isTrue();

    refused(
        () -> member.chunkDigests(ask.toBuilder().setOffset(4096).setLength(4096).build()),
        Status.Code.INVALID_ARGUMENT,
        "multiple of the chunk size");
    refused(
        () -> member.chunkDigests(ask.toBuilder().setLength(0).build()),
        Status.Code.INVALID_ARGUMENT,
        "length must be positive");
    refused(
        () -> member.chunkDigests(ask.toBuilder().setLength(InProcessDataPort.SIZE + 1).build()),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond");
    refused(
        () -> port.peer(port.node("n9")).chunkDigests(ask),
        Status.Code.PERMISSION_DENIED,
        "n9 holds no replica");
  }

  @Test
  void aMemberThatIsNotThePrimaryWritesNothingAndIsReported() throws Exception {
    ReplicatedVolume v = follower();
    refused(
        () -> port.peer(port.node("n3")).apply(write(1, 1, 0, bytes(4096, 9))),
        Status.Code.PERMISSION_DENIED,
        "not its primary");
    assertThat(v.replica().read(0, 4096)).isEqualTo(bytes(4096, 0));
    assertThat(port.reports)
        .anySatisfy(
            r -> {
              assertThat(r.getKind()).isEqualTo(ReplicaReport.Kind.PEER_PROTOCOL_VIOLATION);
              assertThat(r.getNodeId()).isEqualTo("n3");
            });
  }

  @Test
  void aDeposedPrimaryIsStale() throws Exception {
    ReplicatedVolume v = follower();
    v.assign(InProcessDataPort.assignment(VOLUME, "app", 2, "n3", "n2", "n3").build());
    refused(
        () -> port.peer(port.node("n1")).apply(write(1, 1, 0, bytes(4096, 9))),
        Status.Code.FAILED_PRECONDITION,
        "stale epoch");
    assertThat(v.replica().read(0, 4096)).isEqualTo(bytes(4096, 0));
  }

  @Test
  void clientsAndStrangersAreRefused() throws Exception {
    follower();
    ReadChunkRequest chunk =
        ReadChunkRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).setLength(4096).build();
    refused(
        () -> port.peer(port.client("app")).readChunk(chunk),
        Status.Code.PERMISSION_DENIED,
        "for agents");
    refused(
        () -> port.peer(port.node("n9")).readChunk(chunk),
        Status.Code.PERMISSION_DENIED,
        "n9 holds no replica");
    refused(
        () ->
            port.peer(port.node("n9"))
                .readIndex(ReadIndexRequest.newBuilder().setVolumeId(VOLUME).build()),
        Status.Code.PERMISSION_DENIED,
        "n9 holds no replica");
  }

  @Test
  void badRequestsAreInvalidArgumentOrNotFound() throws Exception {
    ReplicatedVolume v = follower();
    ReplicaPeerBlockingStub primary = port.peer(port.node("n1"));
    refused(
        () -> primary.apply(write(1, 1, InProcessDataPort.SIZE - 1, bytes(2, 1))),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond");
    refused(
        () ->
            primary.readChunk(
                ReadChunkRequest.newBuilder()
                    .setVolumeId(VOLUME)
                    .setOffset(100)
                    .setLength(4096)
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "multiple of 4096");
    refused(
        () ->
            primary.readChunk(
                ReadChunkRequest.newBuilder()
                    .setVolumeId(VOLUME)
                    .setOffset(InProcessDataPort.SIZE)
                    .setLength(4096)
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond");
    refused(
        () -> primary.apply(write(1, 1, 0, bytes(1, 1)).toBuilder().setVolumeId("x/y").build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_id");
    refused(
        () ->
            primary.apply(write(1, 1, 0, bytes(1, 1)).toBuilder().setVolumeId("app.gone").build()),
        Status.Code.NOT_FOUND,
        "app.gone");
    assertThat(v.appliedSequence()).isZero();
  }

  @Test
  void attachIsAnsweredByThePrimaryAtItsEpochOnly() throws Exception {
    port = new InProcessDataPort(dir, "n1", RevocationList.getDefaultInstance());
    port.replica(
        VOLUME,
        InProcessDataPort.assignment(VOLUME, "app", 1, "n1", "n1")
            .addPeers(
                ReplicaMember.newBuilder()
                    .setNodeId("n2")
                    .setAddress("127.0.0.1:1")
                    .setState(ReplicaState.REPLICA_STATE_REBUILDING))
            .build());
    ReplicaPeerBlockingStub target = port.peer(port.node("n2"));
    AttachRequest at1 = AttachRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build();
    assertThat(target.attach(at1).getFromSequence()).isZero();
    refused(
        () -> target.attach(at1.toBuilder().setEpoch(2).build()),
        Status.Code.UNAVAILABLE,
        "has not learned epoch 2");
    refused(
        () -> target.attach(at1.toBuilder().setEpoch(0).build()),
        Status.Code.FAILED_PRECONDITION,
        "stale epoch 0");
    refused(
        () -> port.peer(port.node("n7")).attach(at1),
        Status.Code.UNAVAILABLE,
        "n7 is not in the replica set");

    ReadIndexResponse index =
        target.readIndex(ReadIndexRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build());
    assertThat(index.getPrimary()).isTrue();
    assertThat(index.getInSyncNodeIdsList()).containsExactly("n1");
  }
}
