package io.mycnet.storage.agent.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.Extent;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.MapRequest;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc.VolumeIoBlockingStub;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Arrays;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code VolumeIo} over real gRPC calls (in-process transport) against a real replica store: what
 * the owner, a grantee and a stranger may do, and every refusal with the status volume.proto
 * documents; a refused request changes nothing.
 */
class VolumeIoServiceTest {
  static final String VOLUME = "app.data";
  @TempDir Path dir;
  InProcessDataPort port;
  ReplicatedVolume volume;
  VolumeIoBlockingStub owner;

  @BeforeEach
  void start() throws Exception {
    port = new InProcessDataPort(dir, "n1", RevocationList.getDefaultInstance());
    volume =
        port.replica(
            VOLUME,
            InProcessDataPort.assignment(VOLUME, "app", 1, "n1", "n1")
                .addGrants(AccessGrant.newBuilder().setNamespace("reader").setReadOnly(true))
                .addGrants(AccessGrant.newBuilder().setNamespace("writer").setReadOnly(false))
                .build());
    owner = port.io(port.client("app"));
  }

  @AfterEach
  void stop() throws Exception {
    port.close();
  }

  static byte[] bytes(int n, int fill) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) fill);
    return b;
  }

  static WriteRequest write(long epoch, long offset, byte[] data) {
    return WriteRequest.newBuilder()
        .setVolumeId(VOLUME)
        .setEpoch(epoch)
        .setOffset(offset)
        .setData(ByteString.copyFrom(data))
        .build();
  }

  static ReadRequest read(long epoch, long offset, long length) {
    return ReadRequest.newBuilder()
        .setVolumeId(VOLUME)
        .setEpoch(epoch)
        .setOffset(offset)
        .setLength(length)
        .build();
  }

  static void refused(ThrowingCallable call, Status.Code code, String... says) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(code);
              assertThat(e.getStatus().getDescription()).contains(says);
            });
  }

  byte[] onDisk(long offset, int length) throws Exception {
    return volume.replica().read(offset, length);
  }

  @Test
  void theOwnerWritesReadsTrimsFlushesAndStats() throws Exception {
    WriteResponse w = owner.write(write(1, 5000, bytes(10_000, 7)));
    assertThat(w.getSequence()).isEqualTo(1);
    assertThat(w.getDurableReplicas()).isEqualTo(1);
    assertThat(onDisk(5000, 10_000)).isEqualTo(bytes(10_000, 7));
    assertThat(owner.read(read(1, 4999, 3)).getData().toByteArray()).containsExactly(0, 7, 7);

    WriteResponse t =
        owner.trim(
            TrimRequest.newBuilder()
                .setVolumeId(VOLUME)
                .setEpoch(1)
                .setOffset(6000)
                .setLength(100)
                .build());
    assertThat(t.getSequence()).isEqualTo(2);
    assertThat(owner.read(read(1, 5999, 102)).getData().toByteArray())
        .startsWith(7, 0)
        .endsWith(0, 7);
    owner.flush(FlushRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build());

    VolumeStat s = owner.stat(StatRequest.newBuilder().setVolumeId(VOLUME).build());
    assertThat(s.getEpoch()).isEqualTo(1);
    assertThat(s.getSizeBytes()).isEqualTo(InProcessDataPort.SIZE);
    assertThat(s.getPrimaryNodeId()).isEqualTo("n1");
    assertThat(s.getRole()).isEqualTo(ReplicaRole.REPLICA_ROLE_PRIMARY);
    assertThat(s.getNamespace()).isEqualTo("app");
    assertThat(s.getAppliedSequence()).isEqualTo(2);
  }

  @Test
  void sharesReadOrWriteAsGrantedAndStrangersNothing() throws Exception {
    owner.write(write(1, 0, bytes(4096, 1)));
    VolumeIoBlockingStub reader = port.io(port.client("reader"));
    VolumeIoBlockingStub writer = port.io(port.client("writer"));
    VolumeIoBlockingStub stranger = port.io(port.client("other"));

    assertThat(reader.read(read(1, 0, 1)).getData().byteAt(0)).isEqualTo((byte) 1);
    refused(
        () -> reader.write(write(1, 0, bytes(1, 9))),
        Status.Code.PERMISSION_DENIED,
        "read-only share");
    refused(
        () -> reader.flush(FlushRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build()),
        Status.Code.PERMISSION_DENIED,
        "read-only share");
    writer.write(write(1, 1, bytes(1, 2)));
    refused(() -> stranger.read(read(1, 0, 1)), Status.Code.PERMISSION_DENIED, "not shared");
    refused(
        () -> stranger.stat(StatRequest.newBuilder().setVolumeId(VOLUME).build()),
        Status.Code.PERMISSION_DENIED,
        "not shared");
    // A node certificate is admitted only for a node attached to the volume.
    refused(
        () -> port.io(port.node("n2")).read(read(1, 0, 1)),
        Status.Code.PERMISSION_DENIED,
        "node n2 is not attached to app.data");
    assertThat(onDisk(0, 2)).containsExactly(1, 2);
  }

  @Test
  void badRequestsAreInvalidArgumentAndWriteNothing() throws Exception {
    refused(
        () -> owner.read(read(1, InProcessDataPort.SIZE - 1, 2)),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond the volume's size");
    refused(() -> owner.read(read(1, -1, 1)), Status.Code.INVALID_ARGUMENT, "negative");
    refused(() -> owner.read(read(1, 0, -1)), Status.Code.INVALID_ARGUMENT, "negative");
    refused(
        () -> owner.write(write(1, InProcessDataPort.SIZE - 10, bytes(11, 5))),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond");
    refused(
        () ->
            owner.trim(
                TrimRequest.newBuilder()
                    .setVolumeId(VOLUME)
                    .setEpoch(1)
                    .setOffset(InProcessDataPort.SIZE)
                    .setLength(1)
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond");
    refused(
        () -> owner.read(ReadRequest.newBuilder().setVolumeId("../x").setLength(1).build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_id");
    refused(
        () -> owner.read(ReadRequest.newBuilder().setVolumeId("app.gone").setLength(1).build()),
        Status.Code.NOT_FOUND,
        "app.gone");
    assertThat(onDisk(InProcessDataPort.SIZE - 11, 11)).isEqualTo(bytes(11, 0));
    assertThat(volume.appliedSequence()).isZero();
  }

  @Test
  void aLengthAboveTheMaximumOfOneCallIsInvalidArgument() throws Exception {
    InProcessDataPort big =
        new InProcessDataPort(dir.resolve("big"), "n1", RevocationList.getDefaultInstance());
    try {
      // A volume larger than one call's maximum: the range fits, the length does not.
      big.store.create("app.big", 1, 8L << 20, 1L << 30);
      big.store
          .volume("app.big")
          .assign(
              InProcessDataPort.assignment("app.big", "app", 1, "n1", "n1")
                  .setSizeBytes(8L << 20)
                  .build());
      refused(
          () ->
              big.io(big.client("app"))
                  .read(
                      ReadRequest.newBuilder()
                          .setVolumeId("app.big")
                          .setEpoch(1)
                          .setLength(DataCalls.MAX_IO_BYTES + 1L)
                          .build()),
          Status.Code.INVALID_ARGUMENT,
          "more than the maximum of " + DataCalls.MAX_IO_BYTES);
    } finally {
      big.close();
    }
  }

  @Test
  void aStaleOrUnknownEpochIsFailedPreconditionAndWritesNothing() throws Exception {
    volume.assign(InProcessDataPort.assignment(VOLUME, "app", 3, "n1", "n1").build());
    refused(
        () -> owner.write(write(2, 0, bytes(4096, 3))),
        Status.Code.FAILED_PRECONDITION,
        "stale epoch 2");
    refused(() -> owner.read(read(4, 0, 1)), Status.Code.FAILED_PRECONDITION, "newer");
    assertThat(onDisk(0, 4096)).isEqualTo(bytes(4096, 0));
    owner.write(write(3, 0, bytes(4096, 3)));
    assertThat(onDisk(0, 1)).containsExactly(3);
  }

  @Test
  void aFollowerTakesNoClientWriteAndAReplicaNotInSyncNoRead() throws Exception {
    volume.assign(
        InProcessDataPort.assignment(VOLUME, "app", 2, "n2", "n2")
            .addPeers(
                ReplicaMember.newBuilder()
                    .setNodeId("n1")
                    .setAddress("127.0.0.1:1")
                    .setState(ReplicaState.REPLICA_STATE_STALE))
            .build());
    refused(
        () -> owner.write(write(2, 0, bytes(1, 1))),
        Status.Code.FAILED_PRECONDITION,
        "not the primary",
        "n2");
    refused(() -> owner.read(read(2, 0, 1)), Status.Code.UNAVAILABLE, "not in sync", "STALE");
    assertThat(
            owner.stat(StatRequest.newBuilder().setVolumeId(VOLUME).setEpoch(2).build()).getRole())
        .isEqualTo(ReplicaRole.REPLICA_ROLE_FOLLOWER);
  }

  @Test
  void aReplicaWithoutAssignmentIsUnavailable() throws Exception {
    port.store.create("app.new", 1, InProcessDataPort.SIZE, 1L << 30);
    refused(
        () ->
            owner.read(
                ReadRequest.newBuilder().setVolumeId("app.new").setEpoch(1).setLength(1).build()),
        Status.Code.UNAVAILABLE,
        "no assignment");
  }

  @Test
  void aCorruptBlockIsDataLossAndReported() throws Exception {
    owner.write(write(1, 8192, bytes(4096, 4)));
    try (RandomAccessFile f =
        new RandomAccessFile(volume.replica().dir().resolve("data").toFile(), "rw")) {
      f.seek(8192 + 100);
      f.write(5);
    }
    refused(() -> owner.read(read(1, 8192, 10)), Status.Code.DATA_LOSS, "block 2", "checksum");
    assertThat(port.reports)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getKind()).isEqualTo(ReplicaReport.Kind.INTEGRITY_FAULT);
              assertThat(r.getVolumeId()).isEqualTo(VOLUME);
              assertThat(r.getOffset()).isEqualTo(8192);
              assertThat(r.getEpoch()).isEqualTo(1);
            });
    // The other blocks still read.
    assertThat(owner.read(read(1, 0, 1)).getData().byteAt(0)).isZero();
  }

  @Test
  void attachedNodesUseTheVolumeAsAttachedAndOtherNodesAreRefused() throws Exception {
    volume.assign(
        InProcessDataPort.assignment(VOLUME, "app", 1, "n1", "n1")
            .addAttachments(
                Attachment.newBuilder().setNodeId("n7").setReadOnly(false).setGeneration(1))
            .addAttachments(
                Attachment.newBuilder().setNodeId("n8").setReadOnly(true).setGeneration(2))
            .build());
    VolumeIoBlockingStub rw = port.io(port.node("n7"));
    VolumeIoBlockingStub ro = port.io(port.node("n8"));
    VolumeIoBlockingStub other = port.io(port.node("n9"));

    rw.write(write(1, 10, bytes(5000, 3)));
    assertThat(rw.read(read(1, 9, 3)).getData().toByteArray()).containsExactly(0, 3, 3);
    rw.flush(FlushRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build());
    assertThat(rw.stat(StatRequest.newBuilder().setVolumeId(VOLUME).build()).getEpoch())
        .isEqualTo(1);
    assertThat(ro.read(read(1, 10, 1)).getData().byteAt(0)).isEqualTo((byte) 3);
    assertThat(ro.map(map(1, 0, 8192)).getExtentsList())
        .extracting(Extent::getHole)
        .containsExactly(false);
    refused(
        () -> ro.write(write(1, 10, bytes(1, 9))),
        Status.Code.PERMISSION_DENIED,
        "node n8 has a read-only attachment of app.data");
    refused(() -> ro.trim(trim(1, 0, 4096)), Status.Code.PERMISSION_DENIED, "read-only attachment");
    refused(
        () -> other.read(read(1, 0, 1)),
        Status.Code.PERMISSION_DENIED,
        "node n9 is not attached to app.data",
        "fenced");
    refused(() -> other.write(write(1, 0, bytes(1, 9))), Status.Code.PERMISSION_DENIED, "n9");

    // Fenced: the attachment is removed with an epoch raise; the node is refused at any epoch.
    volume.assign(InProcessDataPort.assignment(VOLUME, "app", 2, "n1", "n1").build());
    for (long epoch : new long[] {1, 2}) {
      refused(
          () -> rw.write(write(epoch, 10, bytes(1, 9))),
          Status.Code.PERMISSION_DENIED,
          "node n7 is not attached to app.data at epoch 2");
    }
    assertThat(onDisk(10, 2)).containsExactly(3, 3);
  }

  @Test
  void mapReportsNeverWrittenAndTrimmedBlocksAsHoles() throws Exception {
    assertThat(owner.map(map(1, 0, InProcessDataPort.SIZE)).getExtentsList())
        .containsExactly(
            Extent.newBuilder().setLength(InProcessDataPort.SIZE).setHole(true).build());
    owner.write(write(1, 4096 * 2 + 7, bytes(4096 * 3, 5)));
    owner.trim(trim(1, 4096 * 3, 4096 + 1));
    // Blocks 2..5 were written; block 3 trimmed whole is a hole again, block 4 zeroed in part.
    assertThat(owner.map(map(1, 100, 4096 * 7)).getExtentsList())
        .containsExactly(
            extent(4096 * 2 - 100, true),
            extent(4096, false),
            extent(4096, true),
            extent(4096 * 2, false),
            extent(4096 + 100, true));
    assertThat(owner.read(read(1, 4096 * 3 - 1, 4096 + 4)).getData().toByteArray())
        .startsWith(5, 0)
        .endsWith(0, 5, 5);
    refused(
        () -> owner.map(map(1, InProcessDataPort.SIZE - 1, 2)),
        Status.Code.INVALID_ARGUMENT,
        "ends beyond");
    refused(() -> owner.map(map(2, 0, 1)), Status.Code.FAILED_PRECONDITION, "epoch 2");
    refused(
        () -> port.io(port.client("other")).map(map(1, 0, 1)),
        Status.Code.PERMISSION_DENIED,
        "not shared");
  }

  static Extent extent(long length, boolean hole) {
    return Extent.newBuilder().setLength(length).setHole(hole).build();
  }

  static MapRequest map(long epoch, long offset, long length) {
    return MapRequest.newBuilder()
        .setVolumeId(VOLUME)
        .setEpoch(epoch)
        .setOffset(offset)
        .setLength(length)
        .build();
  }

  static TrimRequest trim(long epoch, long offset, long length) {
    return TrimRequest.newBuilder()
        .setVolumeId(VOLUME)
        .setEpoch(epoch)
        .setOffset(offset)
        .setLength(length)
        .build();
  }
}
