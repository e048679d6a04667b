package io.mycnet.storage.agent.replication;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachRequest;
import io.mycnet.storage.api.v1.ChunkDigestsRequest;
import io.mycnet.storage.api.v1.ChunkDigestsResponse;
import io.mycnet.storage.api.v1.ReadChunkRequest;
import io.mycnet.storage.api.v1.ReadChunkResponse;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds this node's replica from a source replica (RebuildReplica): attaches to the primary so
 * every write from then on is forwarded here and applied, then copies the volume chunk by chunk
 * from the source, each chunk once the source has applied every write applied here when it was
 * asked for, verifying every block's checksum, and re-applies over a stored chunk the forwarded
 * writes that arrived while it was on its way ({@link ReplicatedVolume#asking}; bounded, past the
 * bound the chunk is asked for again). A chunk whose checksums already match the source's is not
 * transferred, so an interrupted rebuild resumes where it was (and a sparse volume copies only what
 * was written). The source's chunk digests come 256 at a time ({@code ChunkDigests}): a chunk equal
 * on both sides (a hole on both, or data the replica already has) costs no call of its own, so a
 * sparse or mostly current replica is scanned at the speed of its checksum entries, not one round
 * trip per chunk. The chunks that differ are asked for {@link #WINDOW} at a time, each with this
 * replica's checksum entries, so the source sends only the blocks that differ (a replica that
 * missed one 4 KiB write receives 4 KiB) and the transfer of one chunk overlaps the verification
 * and storing of the one before. Done: reported REBUILD_COMPLETE; the control plane then counts the
 * replica healthy. Failures retry with backoff until the replica is deleted, except a peer that
 * answers NOT_FOUND {@link #MAX_NOT_FOUND} times in a row: it holds no replica, so the rebuild
 * stops and reports REBUILD_FAILED naming it ({@code node_id}). A source that is behind or cannot
 * be reached is replaced by the primary ({@link #fallBackToPrimary}). The agent keeps the command
 * on disk while the rebuild runs ({@code ReplicaStore#recordRebuild}), so an agent restarted in the
 * middle resumes it.
 */
public final class Rebuilder implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(Rebuilder.class);

  private final ReplicatedVolume volume;
  private final RebuildReplica cmd;
  private final PeerChannels peers;
  private final RateLimiter limiter;
  private final ReplicatedVolume.Context ctx;
  private final AtomicLong done = new AtomicLong();
  private volatile boolean cancelled;

  /**
   * Consecutive answers "no replica of this volume here" (NOT_FOUND) from the same peer after which
   * the rebuild gives up: that peer's replica does not exist, and retrying cannot make it.
   */
  static final int MAX_NOT_FOUND = 5;

  /** Bytes of chunks actually transferred (the rest was equal on both sides). */
  private final AtomicLong copied = new AtomicLong();

  /** Chunks asked for again because writes to them went beyond the catch-up bound. */
  private final AtomicLong askedAgain = new AtomicLong();

  /** The source's chunk digests from {@link #windowStart} on; empty before the first ask. */
  private byte[][] window = new byte[0][];

  private long windowStart;

  /** False once the source answered UNIMPLEMENTED to ChunkDigests: ask chunk by chunk. */
  private boolean batchedDigests = true;

  /** The peer of the call in progress (primary for attach, source for copies). */
  private volatile String calling = "";

  /**
   * The replica copied from: the command's source, or the primary once the source proved behind the
   * attach point ({@link #fallBackToPrimary}).
   */
  private volatile String sourceId;

  private volatile String sourceAddress;

  /** The primary of the assignment the last attempt attached to. */
  private volatile ReplicaMember primary;

  /** Rebuild bandwidth of the whole node, bytes per second (0: unlimited). */
  public static final class RateLimiter {
    private final long bytesPerSecond;
    private long nextFreeNanos = System.nanoTime();

    public RateLimiter(long bytesPerSecond) {
      this.bytesPerSecond = bytesPerSecond;
    }

    void acquire(long bytes) throws InterruptedException {
      if (bytesPerSecond <= 0) {
        return;
      }
      long wait;
      synchronized (this) {
        long now = System.nanoTime();
        nextFreeNanos = Math.max(nextFreeNanos, now) + bytes * 1_000_000_000L / bytesPerSecond;
        wait = nextFreeNanos - now - bytes * 1_000_000_000L / bytesPerSecond;
      }
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
    }
  }

  public Rebuilder(
      ReplicatedVolume volume,
      RebuildReplica cmd,
      PeerChannels peers,
      RateLimiter limiter,
      ReplicatedVolume.Context ctx) {
    this.volume = volume;
    this.cmd = cmd;
    this.peers = peers;
    this.limiter = limiter;
    this.ctx = ctx;
    this.sourceId = cmd.getSourceNodeId();
    this.sourceAddress = cmd.getSourceAddress();
  }

  /** The node copied from now (the command's source unless it fell behind). */
  public String source() {
    return sourceId;
  }

  public long bytesDone() {
    return done.get();
  }

  public long bytesTotal() {
    return volume.replica().sizeBytes();
  }

  void cancel() {
    cancelled = true;
  }

  /** Whether {@link #run} returned because the rebuild completed or was given up, not cancelled. */
  private volatile boolean ended;

  public boolean ended() {
    return ended;
  }

  @Override
  public void run() {
    long backoff = 200;
    int notFound = 0;
    String notFoundAt = "";
    while (!cancelled) {
      try {
        copyOnce();
        volume.endRebuild(true);
        volume.rebuild = null;
        report(ReplicaReport.Kind.REBUILD_COMPLETE, "every chunk copied and verified, in sync");
        LOG.info(
            "rebuild of {} complete ({} bytes, {} of them copied, the rest equal already;"
                + " forwarded writes kept at most {} bytes, {} chunks asked for again)",
            cmd.getVolumeId(),
            bytesTotal(),
            copied.get(),
            volume.catchUpPeakBytes(),
            askedAgain.get());
        ended = true;
        return;
      } catch (Exception e) {
        if (cancelled) {
          break;
        }
        String why =
            e instanceof io.grpc.StatusRuntimeException s
                ? s.getStatus().getCode() + ": " + s.getStatus().getDescription()
                : e.toString();
        String peer = calling;
        if (e instanceof io.grpc.StatusRuntimeException s
            && s.getStatus().getCode() == Status.Code.NOT_FOUND) {
          notFound = peer.equals(notFoundAt) ? notFound + 1 : 1;
          notFoundAt = peer;
        } else {
          notFound = 0;
        }
        boolean revoked = !peer.isEmpty() && peers.revoked(peer);
        if (revoked) {
          // Never a rebuild from (or through) a node the control plane revoked: give up now and
          // name it, as for a peer without a replica; the control plane picks another source.
          why = "PERMISSION_DENIED: peer node " + peer + " is revoked";
        }
        if (revoked || notFound >= MAX_NOT_FOUND) {
          // The peer says it holds no replica: report it by name and stop; the control plane
          // marks that replica and this one lost and rebuilds from another source.
          String msg =
              revoked
                  ? "gave up: " + why
                  : "gave up: "
                      + peer
                      + " has no replica of "
                      + cmd.getVolumeId()
                      + " ("
                      + why
                      + ", "
                      + notFound
                      + " times)";
          LOG.warn("rebuild of {} {}", cmd.getVolumeId(), msg);
          volume.rebuild = null;
          volume.endRebuild(false);
          ctx.report(
              ReplicaReport.newBuilder()
                  .setVolumeId(cmd.getVolumeId())
                  .setEpoch(cmd.getEpoch())
                  .setKind(ReplicaReport.Kind.REBUILD_FAILED)
                  .setBytesDone(done.get())
                  .setBytesTotal(bytesTotal())
                  .setNodeId(peer)
                  .setMessage(msg)
                  .build());
          ended = true;
          return;
        }
        fallBackToPrimary(e, peer);
        LOG.info("rebuild of {} interrupted, resuming: {}", cmd.getVolumeId(), why);
        report(ReplicaReport.Kind.REBUILD_FAILED, why);
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException ie) {
          return;
        }
        backoff = Math.min(5000, backoff * 2);
      }
    }
    volume.endRebuild(false);
  }

  /**
   * Attempts in a row after which a source that cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED:
   * its agent was killed or is cut off) is given up for the primary.
   */
  static final int MAX_SOURCE_FAILURES = 4;

  /** Attempts in a row that ended because the source could not be reached. */
  private int sourceFailures;

  /**
   * Copies from the primary of the current assignment instead of the source when the source cannot
   * deliver, since the primary holds every write:
   *
   * <ul>
   *   <li>a source that did not apply, within the wait it allows (10 s), a write the primary had
   *       numbered when this target attached is behind, not slow: a follower of an EVENTUAL volume
   *       that missed the last writes of a primary that died, still healthy at the control plane
   *       because no write since found the gap. Asking it again would wait for a write that never
   *       comes;
   *   <li>a source that could not be reached {@link #MAX_SOURCE_FAILURES} attempts in a row (its
   *       agent was killed, its node cut off, or it was the primary and lost the role): asking it
   *       again would retry until its node came back, if ever. When the source was the primary, the
   *       new primary of the handover is asked once the assignment names it.
   * </ul>
   */
  private void fallBackToPrimary(Exception e, String peer) {
    Status s = e instanceof io.grpc.StatusRuntimeException x ? x.getStatus() : null;
    boolean fromSource = s != null && peer.equals(sourceId);
    boolean behind =
        fromSource
            && s.getCode() == Status.Code.UNAVAILABLE
            && s.getDescription() != null
            && s.getDescription().contains(ReplicatedVolume.NOT_APPLIED);
    boolean unreachable =
        fromSource
            && !behind
            && (s.getCode() == Status.Code.UNAVAILABLE
                || s.getCode() == Status.Code.DEADLINE_EXCEEDED);
    sourceFailures = unreachable ? sourceFailures + 1 : 0;
    AssignReplica a = volume.assignment();
    ReplicaMember p = primary;
    if (a != null) {
      for (ReplicaMember m : a.getPeersList()) {
        if (m.getNodeId().equals(a.getPrimaryNodeId())) {
          p = m;
        }
      }
    }
    if (!(behind || sourceFailures >= MAX_SOURCE_FAILURES)
        || p == null
        || p.getNodeId().equals(sourceId)) {
      return;
    }
    LOG.warn(
        "rebuild of {}: the source {} {} ({}); copying from the primary {} instead",
        cmd.getVolumeId(),
        sourceId,
        behind
            ? "is behind the primary"
            : "cannot be reached " + sourceFailures + " times in a row",
        s.getDescription(),
        p.getNodeId());
    sourceId = p.getNodeId();
    sourceAddress = p.getAddress();
    sourceFailures = 0;
  }

  private void copyOnce() throws Exception {
    AssignReplica a = awaitAssignment();
    ReplicaMember primary = member(a, a.getPrimaryNodeId());
    this.primary = primary;
    volume.beginAttach();
    long from;
    calling = primary.getNodeId();
    try {
      from =
          peers
              .blocking(primary.getNodeId(), primary.getAddress())
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .attach(
                  AttachRequest.newBuilder()
                      .setVolumeId(cmd.getVolumeId())
                      .setEpoch(a.getEpoch())
                      .build())
              .getFromSequence();
    } catch (RuntimeException e) {
      volume.endRebuild(false);
      volume.beginAttach();
      throw e;
    }
    volume.attached(from);
    calling = sourceId;
    done.set(0);
    copied.set(0);
    askedAgain.set(0);
    window = new byte[0][];
    long size = volume.replica().sizeBytes();
    lastReport = 0;
    ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    try {
      for (long off = 0; off < size && !cancelled; off += VolumeReplica.CHUNK) {
        int len = (int) Math.min(VolumeReplica.CHUNK, size - off);
        long[] have = volume.replica().chunkEntries(off, len);
        byte[] haveDigest = VolumeReplica.chunkDigestOf(have);
        byte[] theirs = sourceDigest(a.getEpoch(), from, off, size);
        if (theirs != null && Arrays.equals(theirs, haveDigest)) {
          // Equal to a source state that includes every write before the attach point, with the
          // forwarded writes since applied here: nothing to store, nothing overwritten.
          progress(len);
          continue;
        }
        while (inFlight.size() >= WINDOW) {
          complete(inFlight.removeFirst(), inFlight, a.getEpoch());
        }
        inFlight.addLast(request(a.getEpoch(), off, len, have, haveDigest));
      }
      while (!inFlight.isEmpty() && !cancelled) {
        complete(inFlight.removeFirst(), inFlight, a.getEpoch());
      }
    } finally {
      inFlight.forEach(f -> f.answer().cancel(true));
    }
    if (cancelled) {
      throw new InterruptedException("cancelled");
    }
    volume.replica().sync();
  }

  /** ReadChunk calls in flight at once (each answers at most one 1 MiB chunk). */
  static final int WINDOW = 8;

  private long lastReport;

  /** A chunk asked for and not yet stored. */
  private record InFlight(long offset, int length, ListenableFuture<ReadChunkResponse> answer) {}

  /**
   * Asks the source for one chunk: with this replica's entries, so only the blocks that differ come
   * back.
   */
  private InFlight request(long epoch, long off, int len, long[] have, byte[] digest) {
    // The answer must include every write applied here so far: only later ones are kept for it.
    long includes = volume.asking(off, len);
    ReadChunkRequest.Builder q =
        ReadChunkRequest.newBuilder()
            .setVolumeId(cmd.getVolumeId())
            .setEpoch(epoch)
            .setOffset(off)
            .setLength(len)
            .setMinSequence(includes)
            .setHaveDigest(ByteString.copyFrom(digest));
    for (long e : have) {
      q.addHaveEntries(e);
    }
    return new InFlight(
        off,
        len,
        peers
            .stub(sourceId, sourceAddress)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .readChunk(q.build()));
  }

  /**
   * Waits for the oldest chunk asked for and stores what came (nothing when it is unchanged); a
   * chunk that must be asked for again (writes to it beyond the catch-up bound) is, at the end of
   * the queue.
   */
  private void complete(InFlight f, ArrayDeque<InFlight> queue, long epoch) throws Exception {
    ReadChunkResponse r;
    try {
      r = f.answer().get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause; // a StatusRuntimeException: the retry loop reads its status
      }
      throw e;
    }
    if (r.getUnchanged()) {
      volume.equalChunk(f.offset());
    } else {
      limiter.acquire(r.getData().size());
      long[] entries = new long[r.getBlockChecksumsCount()];
      for (int i = 0; i < entries.length; i++) {
        entries[i] = r.getBlockChecksums(i);
      }
      boolean stored =
          r.getBlockIndexesCount() > 0
              ? volume.storeCopiedBlocks(
                  f.offset(),
                  f.length(),
                  r.getBlockIndexesList(),
                  r.getData().toByteArray(),
                  entries)
              : volume.storeCopied(f.offset(), r.getData().toByteArray(), entries);
      if (!stored) {
        askedAgain.incrementAndGet();
        long[] have = volume.replica().chunkEntries(f.offset(), f.length());
        queue.addLast(
            request(epoch, f.offset(), f.length(), have, VolumeReplica.chunkDigestOf(have)));
        return;
      }
      copied.addAndGet(r.getData().size());
    }
    progress(f.length());
  }

  /** Counts a chunk done; about once a second syncs what was stored and reports progress. */
  private void progress(int len) throws java.io.IOException {
    done.addAndGet(len);
    if (System.nanoTime() - lastReport > 1_000_000_000L) {
      lastReport = System.nanoTime();
      volume.replica().sync();
      report(ReplicaReport.Kind.REBUILD_PROGRESS, "copying from " + sourceId);
    }
  }

  /**
   * The source's digest of the chunk at {@code off}, from a window of up to 256 asked for at once
   * (after the source applied {@code from}); null when the source cannot say (an agent without
   * ChunkDigests), and the chunk is then compared by ReadChunk alone.
   */
  private byte[] sourceDigest(long epoch, long from, long off, long size) {
    if (!batchedDigests) {
      return null;
    }
    long index = (off - windowStart) / VolumeReplica.CHUNK;
    if (off < windowStart || index >= window.length) {
      ChunkDigestsResponse r;
      try {
        r =
            peers
                .blocking(sourceId, sourceAddress)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .chunkDigests(
                    ChunkDigestsRequest.newBuilder()
                        .setVolumeId(cmd.getVolumeId())
                        .setEpoch(epoch)
                        .setOffset(off)
                        .setLength(size - off)
                        .setMinSequence(from)
                        .build());
      } catch (io.grpc.StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
          LOG.info(
              "rebuild of {}: {} answers no chunk digests; comparing chunk by chunk",
              cmd.getVolumeId(),
              sourceId);
          batchedDigests = false;
          return null;
        }
        throw e;
      }
      if (r.getChunkSize() != VolumeReplica.CHUNK || r.getDigestsCount() == 0) {
        batchedDigests = false; // another chunking: ReadChunk compares each chunk itself
        return null;
      }
      window = r.getDigestsList().stream().map(ByteString::toByteArray).toArray(byte[][]::new);
      windowStart = off;
      index = 0;
    }
    return window[(int) index];
  }

  private AssignReplica awaitAssignment() throws InterruptedException {
    long deadline = System.currentTimeMillis() + 30_000;
    while (!cancelled) {
      AssignReplica a = volume.assignment();
      if (a != null && a.getEpoch() >= cmd.getEpoch()) {
        return a;
      }
      if (System.currentTimeMillis() > deadline) {
        throw Status.UNAVAILABLE
            .withDescription("no assignment at epoch " + cmd.getEpoch() + " arrived")
            .asRuntimeException();
      }
      Thread.sleep(100);
    }
    throw new InterruptedException("cancelled");
  }

  private static ReplicaMember member(AssignReplica a, String node) {
    for (ReplicaMember m : a.getPeersList()) {
      if (m.getNodeId().equals(node)) {
        return m;
      }
    }
    throw Status.UNAVAILABLE
        .withDescription("the primary " + node + " is not among the peers of the assignment")
        .asRuntimeException();
  }

  private void report(ReplicaReport.Kind kind, String message) {
    ctx.report(
        ReplicaReport.newBuilder()
            .setVolumeId(cmd.getVolumeId())
            .setEpoch(cmd.getEpoch())
            .setKind(kind)
            .setBytesDone(done.get())
            .setBytesTotal(bytesTotal())
            .setMessage(message)
            .build());
  }
}
