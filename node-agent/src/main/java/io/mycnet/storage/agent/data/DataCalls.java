package io.mycnet.storage.agent.data;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.ReplicaReport;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What both data services share: the lookup of a volume, the range check, integrity-fault reports,
 * and the one mapping of a call's outcome to its status (docs/data-path.md, volume.proto).
 */
final class DataCalls {
  private static final Logger LOG = LoggerFactory.getLogger(DataCalls.class);

  /** The largest read, write or trim of one call. */
  static final int MAX_IO_BYTES = 4 * 1024 * 1024;

  private final ReplicaStore store;
  private final ReplicaReporter reporter;

  DataCalls(ReplicaStore store, ReplicaReporter reporter) {
    this.store = store;
    this.reporter = reporter;
  }

  /** The replica of {@code volumeId} here: INVALID_ARGUMENT for a malformed id, else NOT_FOUND. */
  ReplicatedVolume volume(String volumeId) {
    if (ReplicaStore.volumeIdProblem(volumeId) != null) {
      throw Status.INVALID_ARGUMENT
          .withDescription("volume_id: " + ReplicaStore.volumeIdProblem(volumeId))
          .asRuntimeException();
    }
    ReplicatedVolume v = store.volume(volumeId);
    if (v == null) {
      throw ReplicatedVolume.notFound(volumeId);
    }
    return v;
  }

  /** A client's range: inside the volume and at most {@link #MAX_IO_BYTES}. */
  static void range(ReplicatedVolume v, long offset, long length) {
    inside(v, offset, length);
    if (length > MAX_IO_BYTES) {
      throw Status.INVALID_ARGUMENT
          .withDescription("length " + length + " is more than the maximum of " + MAX_IO_BYTES)
          .asRuntimeException();
    }
  }

  /** INVALID_ARGUMENT unless {@code [offset, offset+length)} lies inside the volume. */
  static void inside(ReplicatedVolume v, long offset, long length) {
    String p = v.replica().rangeProblem(offset, length);
    if (p != null) {
      throw Status.INVALID_ARGUMENT.withDescription(p).asRuntimeException();
    }
  }

  /** Reports a block that failed its checksum on a read (the control plane repairs it). */
  void corrupt(ReplicatedVolume v, VolumeReplica.CorruptBlockException e) {
    reporter.report(
        ReplicaReport.newBuilder()
            .setVolumeId(v.replica().volumeId())
            .setEpoch(v.epoch())
            .setKind(ReplicaReport.Kind.INTEGRITY_FAULT)
            .setOffset(e.offset())
            .setMessage("read: " + e.getMessage())
            .build());
  }

  /** One unary call's work. */
  interface IoCall<T> {
    T call() throws IOException;
  }

  /**
   * Runs a unary call and answers it: its result, or its status; a corrupt block is DATA_LOSS, a
   * full file system RESOURCE_EXHAUSTED, any other I/O error INTERNAL.
   */
  static <T> void run(StreamObserver<T> out, IoCall<T> call) {
    try {
      out.onNext(call.call());
      out.onCompleted();
    } catch (StatusRuntimeException e) {
      out.onError(e);
    } catch (VolumeReplica.CorruptBlockException e) {
      out.onError(Status.DATA_LOSS.withDescription(e.getMessage()).asRuntimeException());
    } catch (IOException e) {
      LOG.warn("I/O error: {}", e.toString());
      if (outOfSpace(e)) {
        // Overcommit is a promise about written bytes: when the file system holding the sparse
        // replicas really is full, the write is refused, nothing else breaks.
        out.onError(
            Status.RESOURCE_EXHAUSTED
                .withDescription("the node's data directory is full: " + e.getMessage())
                .asRuntimeException());
        return;
      }
      out.onError(
          Status.INTERNAL.withDescription("I/O error: " + e.getMessage()).asRuntimeException());
    }
  }

  /** True when {@code e} says the file system ran out of space (ENOSPC, EDQUOT). */
  static boolean outOfSpace(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null
          && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
        return true;
      }
    }
    return false;
  }
}
