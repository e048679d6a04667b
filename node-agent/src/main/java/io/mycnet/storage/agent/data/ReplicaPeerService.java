package io.mycnet.storage.agent.data;

import static io.mycnet.storage.agent.data.DataCalls.run;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachRequest;
import io.mycnet.storage.api.v1.AttachResponse;
import io.mycnet.storage.api.v1.ChunkDigestsRequest;
import io.mycnet.storage.api.v1.ChunkDigestsResponse;
import io.mycnet.storage.api.v1.ReadChunkRequest;
import io.mycnet.storage.api.v1.ReadChunkResponse;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaAck;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.util.Arrays;

/**
 * {@code ReplicaPeer} for other agents (node certificates): forwarded writes, which the volume
 * admits only from the primary its own assignment names, the rebuild's attach, chunk digests and
 * chunk copy, and the ReadIndex of a follower's read; only for members of the volume's replica set.
 */
final class ReplicaPeerService extends ReplicaPeerGrpc.ReplicaPeerImplBase {
  private final DataCalls calls;

  ReplicaPeerService(DataCalls calls) {
    this.calls = calls;
  }

  /** PERMISSION_DENIED unless {@code caller} is the primary or a peer in the assignment held. */
  private static void member(ReplicatedVolume v, String caller) {
    AssignReplica a = v.assignment();
    if (a == null
        || (!a.getPrimaryNodeId().equals(caller)
            && a.getPeersList().stream().noneMatch(m -> m.getNodeId().equals(caller)))) {
      throw Status.PERMISSION_DENIED
          .withDescription(
              "node " + caller + " holds no replica of " + v.replica().volumeId() + " here known")
          .asRuntimeException();
    }
  }

  @Override
  public void readIndex(ReadIndexRequest r, StreamObserver<ReadIndexResponse> out) {
    run(
        out,
        () -> {
          String caller = CallerIdentity.peerNode();
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          member(v, caller);
          return v.readIndex(caller);
        });
  }

  @Override
  public void apply(ReplicaWrite w, StreamObserver<ReplicaAck> out) {
    ListenableFuture<Long> applied;
    try {
      String caller = CallerIdentity.peerNode();
      ReplicatedVolume v = calls.volume(w.getVolumeId());
      long len = w.getZeroLength() > 0 ? w.getZeroLength() : w.getData().size();
      DataCalls.inside(v, w.getOffset(), len);
      // Answered when the write is durable; a write waiting for an earlier one holds no thread.
      applied = v.applyAsync(caller, w);
    } catch (RuntimeException e) {
      run(
          out,
          () -> {
            throw e;
          });
      return;
    }
    applied.addListener(
        () ->
            run(
                out,
                () ->
                    ReplicaAck.newBuilder()
                        .setAppliedSequence(ReplicatedVolume.appliedPosition(applied))
                        .build()),
        MoreExecutors.directExecutor());
  }

  @Override
  public void attach(AttachRequest r, StreamObserver<AttachResponse> out) {
    run(
        out,
        () -> {
          String caller = CallerIdentity.peerNode();
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          if (r.getEpoch() < v.epoch()) {
            v.checkEpoch(r.getEpoch());
          }
          if (r.getEpoch() > v.epoch()) {
            throw Status.UNAVAILABLE
                .withDescription(
                    "the primary has not learned epoch " + r.getEpoch() + " yet; retry shortly")
                .asRuntimeException();
          }
          return AttachResponse.newBuilder().setFromSequence(v.attach(caller)).build();
        });
  }

  /** The most chunk digests one {@code ChunkDigests} answer carries. */
  static final int MAX_DIGESTS = 256;

  @Override
  public void chunkDigests(ChunkDigestsRequest r, StreamObserver<ChunkDigestsResponse> out) {
    run(
        out,
        () -> {
          String caller = CallerIdentity.peerNode();
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          member(v, caller);
          String p = v.replica().rangeProblem(r.getOffset(), r.getLength());
          if (p == null && r.getLength() <= 0) {
            p = "length must be positive";
          }
          if (p != null || r.getOffset() % VolumeReplica.CHUNK != 0) {
            throw Status.INVALID_ARGUMENT
                .withDescription(
                    p != null
                        ? p
                        : "offset must be a multiple of the chunk size " + VolumeReplica.CHUNK)
                .asRuntimeException();
          }
          v.awaitApplied(r.getMinSequence(), 10_000);
          ChunkDigestsResponse.Builder b =
              ChunkDigestsResponse.newBuilder().setChunkSize(VolumeReplica.CHUNK);
          long end = r.getOffset() + r.getLength();
          for (long off = r.getOffset();
              off < end && b.getDigestsCount() < MAX_DIGESTS;
              off += VolumeReplica.CHUNK) {
            int len = (int) Math.min(VolumeReplica.CHUNK, end - off);
            b.addDigests(ByteString.copyFrom(v.replica().chunkDigest(off, len)));
          }
          return b.build();
        });
  }

  /**
   * The blocks of a chunk whose entry differs from the requester's: "unchanged" when none does, the
   * whole chunk when all do, else those blocks with their indexes.
   */
  static ReadChunkResponse onlyDiffering(ReadChunkRequest r, byte[] data, long[] entries) {
    java.util.List<Integer> differ = new java.util.ArrayList<>();
    for (int i = 0; i < entries.length; i++) {
      if (r.getHaveEntries(i) != entries[i]) {
        differ.add(i);
      }
    }
    if (differ.isEmpty()) {
      return ReadChunkResponse.newBuilder().setUnchanged(true).build();
    }
    ReadChunkResponse.Builder b = ReadChunkResponse.newBuilder();
    if (differ.size() == entries.length) {
      b.setData(ByteString.copyFrom(data));
      for (long e : entries) {
        b.addBlockChecksums(e);
      }
      return b.build();
    }
    ByteString.Output bytes = ByteString.newOutput(differ.size() * VolumeReplica.BLOCK);
    for (int i : differ) {
      int from = i * VolumeReplica.BLOCK;
      bytes.write(data, from, Math.min(VolumeReplica.BLOCK, data.length - from));
      b.addBlockIndexes(i).addBlockChecksums(entries[i]);
    }
    return b.setData(bytes.toByteString()).build();
  }

  @Override
  public void readChunk(ReadChunkRequest r, StreamObserver<ReadChunkResponse> out) {
    run(
        out,
        () -> {
          String caller = CallerIdentity.peerNode();
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          member(v, caller);
          String p = v.replica().rangeProblem(r.getOffset(), r.getLength());
          if (p != null || r.getOffset() % VolumeReplica.BLOCK != 0) {
            throw Status.INVALID_ARGUMENT
                .withDescription(p != null ? p : "offset must be a multiple of 4096")
                .asRuntimeException();
          }
          v.awaitApplied(r.getMinSequence(), 10_000);
          int len = (int) Math.min(r.getLength(), VolumeReplica.CHUNK * 4L);
          if (!r.getHaveDigest().isEmpty()
              && Arrays.equals(
                  r.getHaveDigest().toByteArray(), v.replica().chunkDigest(r.getOffset(), len))) {
            return ReadChunkResponse.newBuilder().setUnchanged(true).build();
          }
          long[] entries = new long[(len + VolumeReplica.BLOCK - 1) / VolumeReplica.BLOCK];
          byte[] data;
          try {
            data = v.replica().readChunk(r.getOffset(), len, entries);
          } catch (VolumeReplica.CorruptBlockException e) {
            calls.corrupt(v, e);
            throw e;
          }
          if (r.getHaveEntriesCount() == entries.length) {
            return onlyDiffering(r, data, entries);
          }
          ReadChunkResponse.Builder b =
              ReadChunkResponse.newBuilder().setData(ByteString.copyFrom(data));
          for (long e : entries) {
            b.addBlockChecksums(e);
          }
          return b.build();
        });
  }
}
