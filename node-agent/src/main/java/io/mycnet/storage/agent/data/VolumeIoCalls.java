package io.mycnet.storage.agent.data;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.agent.replication.Rebuilder;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.Extent;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.FlushResponse;
import io.mycnet.storage.api.v1.MapRequest;
import io.mycnet.storage.api.v1.MapResponse;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReadResponse;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;
import java.io.IOException;

/**
 * The {@code VolumeIo} calls as this agent serves them, whoever asks: over the data port ({@link
 * VolumeIoService}, the caller from the connection's certificate) and in-process, from this node's
 * own block frontend when it holds the primary (no gRPC on that path, the same admission). Who may
 * do what: the owning namespace reads and writes, a grant reads, or writes too when read-write; the
 * agent of a node listed in the assignment's attachments reads, and writes unless its attachment is
 * read-only. Every request's epoch is checked; a read is served only by a replica in sync for the
 * current epoch (docs/data-path.md). A refusal is a {@link StatusRuntimeException} with the code
 * volume.proto documents; an I/O failure an {@link IOException} ({@link #statusOf}).
 */
public final class VolumeIoCalls {
  /** The largest read or write of one call (a longer one is INVALID_ARGUMENT). */
  public static final int MAX_IO_BYTES = DataCalls.MAX_IO_BYTES;

  private final DataCalls calls;

  VolumeIoCalls(DataCalls calls) {
    this.calls = calls;
  }

  public VolumeIoCalls(ReplicaStore store, ReplicaReporter reporter) {
    this(new DataCalls(store, reporter));
  }

  /** Who asks: a client namespace ({@code client:<namespace>}) or a node's agent. */
  public record Caller(String namespace, String nodeId) {
    public static Caller node(String nodeId) {
      return new Caller(null, nodeId);
    }

    /** The caller a certificate's CN names. */
    static Caller of(String cn) {
      if (cn != null
          && cn.startsWith(CallerIdentity.CLIENT_PREFIX)
          && cn.length() > CallerIdentity.CLIENT_PREFIX.length()) {
        return new Caller(cn.substring(CallerIdentity.CLIENT_PREFIX.length()), null);
      }
      if (cn == null || cn.isEmpty() || cn.startsWith(CallerIdentity.CLIENT_PREFIX)) {
        throw Status.PERMISSION_DENIED
            .withDescription(
                "volume I/O needs a client certificate (CN client:<namespace>) or the node"
                    + " certificate of an attached node; presented: "
                    + cn)
            .asRuntimeException();
      }
      return node(cn);
    }
  }

  /** The status a failed call is answered with (what the data port sends for it). */
  public static Status statusOf(Throwable e) {
    if (e instanceof StatusRuntimeException s) {
      return s.getStatus();
    }
    if (e instanceof VolumeReplica.CorruptBlockException) {
      return Status.DATA_LOSS.withDescription(e.getMessage());
    }
    if (e instanceof IOException io && DataCalls.outOfSpace(io)) {
      return Status.RESOURCE_EXHAUSTED.withDescription(
          "the node's data directory is full: " + e.getMessage());
    }
    return Status.INTERNAL.withDescription("I/O error: " + e.getMessage());
  }

  /**
   * PERMISSION_DENIED unless the caller may read (or write) the volume; UNAVAILABLE while the
   * replica has no assignment.
   */
  private static void access(ReplicatedVolume v, Caller c, boolean write) {
    AssignReplica a = v.assignment();
    String p =
        c.namespace() != null
            ? ReplicatedVolume.accessProblem(a, c.namespace(), write)
            : ReplicatedVolume.attachmentProblem(a, c.nodeId(), write);
    if (p != null) {
      throw (a == null ? Status.UNAVAILABLE : Status.PERMISSION_DENIED)
          .withDescription(p)
          .asRuntimeException();
    }
  }

  public ReadResponse read(Caller c, ReadRequest r) throws IOException {
    ReplicatedVolume v = calls.volume(r.getVolumeId());
    access(v, c, false);
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
  }

  public WriteResponse write(Caller c, WriteRequest r) throws IOException {
    ReplicatedVolume v = calls.volume(r.getVolumeId());
    access(v, c, true);
    DataCalls.range(v, r.getOffset(), r.getData().size());
    v.checkEpoch(r.getEpoch());
    ReplicatedVolume.Written w = v.primaryWrite(r.getOffset(), r.getData().toByteArray(), 0);
    return WriteResponse.newBuilder()
        .setSequence(w.sequence())
        .setDurableReplicas(w.durable())
        .build();
  }

  public WriteResponse trim(Caller c, TrimRequest r) throws IOException {
    ReplicatedVolume v = calls.volume(r.getVolumeId());
    access(v, c, true);
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
  }

  public FlushResponse flush(Caller c, FlushRequest r) throws IOException {
    ReplicatedVolume v = calls.volume(r.getVolumeId());
    access(v, c, true);
    v.checkEpoch(r.getEpoch());
    v.replica().sync();
    return FlushResponse.getDefaultInstance();
  }

  /** Holes and data of a range, served like a read (in sync for the current epoch). */
  public MapResponse map(Caller c, MapRequest r) throws IOException {
    ReplicatedVolume v = calls.volume(r.getVolumeId());
    access(v, c, false);
    DataCalls.inside(v, r.getOffset(), r.getLength());
    v.checkEpoch(r.getEpoch());
    v.checkReadable();
    MapResponse.Builder b = MapResponse.newBuilder();
    for (VolumeReplica.Extent e : v.replica().map(r.getOffset(), r.getLength())) {
      b.addExtents(Extent.newBuilder().setLength(e.length()).setHole(e.hole()));
    }
    return b.build();
  }

  public VolumeStat stat(Caller c, StatRequest r) {
    ReplicatedVolume v = calls.volume(r.getVolumeId());
    access(v, c, false);
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
                a == null ? ConsistencyLevel.CONSISTENCY_LEVEL_UNSPECIFIED : a.getConsistency())
            .setNamespace(a == null ? "" : a.getNamespace())
            .setAppliedSequence(v.appliedSequence())
            .addAllOutOfSync(v.outOfSync())
            .setRebuildKeptBytes(v.catchUpBytes())
            .setRebuildKeptPeakBytes(v.catchUpPeakBytes())
            .setRebuildKeptLimitBytes(v.catchUpMaxBytes());
    if (rb != null) {
      b.setRebuildBytesDone(rb.bytesDone()).setRebuildBytesTotal(rb.bytesTotal());
    }
    return b.build();
  }
}
