package io.mycnet.storage.agent.data;

import static io.mycnet.storage.agent.data.DataCalls.run;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.agent.replication.Rebuilder;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.FlushResponse;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReadResponse;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;

/**
 * {@code VolumeIo} for clients ({@code client:<namespace>} certificates): the owning namespace
 * reads and writes, a grant reads, or writes too when read-write; every request's epoch is checked;
 * a read is served only by a replica in sync for the current epoch (docs/data-path.md).
 */
final class VolumeIoService extends VolumeIoGrpc.VolumeIoImplBase {
  private final DataCalls calls;

  VolumeIoService(DataCalls calls) {
    this.calls = calls;
  }

  /** PERMISSION_DENIED unless the caller's namespace may read (or write) the volume. */
  private static void access(ReplicatedVolume v, boolean write) {
    String ns = CallerIdentity.clientNamespace();
    String p = ReplicatedVolume.accessProblem(v.assignment(), ns, write);
    if (p != null) {
      throw (v.assignment() == null ? Status.UNAVAILABLE : Status.PERMISSION_DENIED)
          .withDescription(p)
          .asRuntimeException();
    }
  }

  @Override
  public void read(ReadRequest r, StreamObserver<ReadResponse> out) {
    run(
        out,
        () -> {
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          access(v, false);
          DataCalls.range(v, r.getOffset(), r.getLength());
          v.checkEpoch(r.getEpoch());
          // Never bytes older than an acknowledged write: a replica not in sync refuses.
          v.checkReadable();
          try {
            return ReadResponse.newBuilder()
                .setData(ByteString.copyFrom(v.replica().read(r.getOffset(), (int) r.getLength())))
                .build();
          } catch (VolumeReplica.CorruptBlockException e) {
            calls.corrupt(v, e);
            throw e;
          }
        });
  }

  @Override
  public void write(WriteRequest r, StreamObserver<WriteResponse> out) {
    run(
        out,
        () -> {
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          access(v, true);
          DataCalls.range(v, r.getOffset(), r.getData().size());
          v.checkEpoch(r.getEpoch());
          ReplicatedVolume.Written w = v.primaryWrite(r.getOffset(), r.getData().toByteArray(), 0);
          return WriteResponse.newBuilder()
              .setSequence(w.sequence())
              .setDurableReplicas(w.durable())
              .build();
        });
  }

  @Override
  public void trim(TrimRequest r, StreamObserver<WriteResponse> out) {
    run(
        out,
        () -> {
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          access(v, true);
          DataCalls.inside(v, r.getOffset(), r.getLength());
          v.checkEpoch(r.getEpoch());
          ReplicatedVolume.Written w =
              r.getLength() == 0
                  ? new ReplicatedVolume.Written(v.appliedSequence(), 1)
                  : v.primaryWrite(r.getOffset(), null, r.getLength());
          return WriteResponse.newBuilder()
              .setSequence(w.sequence())
              .setDurableReplicas(w.durable())
              .build();
        });
  }

  @Override
  public void flush(FlushRequest r, StreamObserver<FlushResponse> out) {
    run(
        out,
        () -> {
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          access(v, true);
          v.checkEpoch(r.getEpoch());
          v.replica().sync();
          return FlushResponse.getDefaultInstance();
        });
  }

  @Override
  public void stat(StatRequest r, StreamObserver<VolumeStat> out) {
    run(
        out,
        () -> {
          ReplicatedVolume v = calls.volume(r.getVolumeId());
          access(v, false);
          if (r.getEpoch() != 0) {
            v.checkEpoch(r.getEpoch());
          }
          AssignReplica a = v.assignment();
          Rebuilder rb = v.rebuild;
          VolumeStat.Builder b =
              VolumeStat.newBuilder()
                  .setVolumeId(r.getVolumeId())
                  .setEpoch(v.epoch())
                  .setSizeBytes(v.replica().sizeBytes())
                  .setPrimaryNodeId(a == null ? "" : a.getPrimaryNodeId())
                  .setRole(
                      rb != null
                          ? ReplicaRole.REPLICA_ROLE_REBUILDING
                          : v.isPrimary()
                              ? ReplicaRole.REPLICA_ROLE_PRIMARY
                              : ReplicaRole.REPLICA_ROLE_FOLLOWER)
                  .setConsistency(
                      a == null
                          ? ConsistencyLevel.CONSISTENCY_LEVEL_UNSPECIFIED
                          : a.getConsistency())
                  .setNamespace(a == null ? "" : a.getNamespace())
                  .setAppliedSequence(v.appliedSequence())
                  .addAllOutOfSync(v.outOfSync());
          if (rb != null) {
            b.setRebuildBytesDone(rb.bytesDone()).setRebuildBytesTotal(rb.bytesTotal());
          }
          return b.build();
        });
  }
}
