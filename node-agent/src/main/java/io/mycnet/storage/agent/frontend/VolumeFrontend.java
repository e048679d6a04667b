package io.mycnet.storage.agent.frontend;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.data.VolumeIoCalls;
import io.mycnet.storage.agent.nbd.BlockDevice;
import io.mycnet.storage.agent.nbd.BlockIoException;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.MapRequest;
import io.mycnet.storage.api.v1.MapResponse;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The block frontend of one volume attached to this node: a client of the volume's replica set that
 * serves the NBD server's requests (docs/block-export.md, "The frontend and failover").
 *
 * <p>Every request goes to the current primary: in-process ({@link VolumeIoCalls}, the same
 * admission as the data port, no gRPC) when this node holds it, else {@code VolumeIo} on the
 * primary's data port over the agent-to-agent channels ({@link PeerChannels}, this node's
 * certificate; the replicas admit it while the assignment lists this node's attachment). When the
 * primary refuses for its epoch or role (FAILED_PRECONDITION), is UNAVAILABLE, unreachable, or no
 * longer holds the volume, the request is not failed: it waits for a newer assignment (pushed by
 * the control plane, {@link #assign}, or learned from the replicas' {@code Stat}) and is sent
 * again, until the retry window ({@code frontend-retry-window}) has passed; then EIO.
 * PERMISSION_DENIED (detached, fenced, share revoked) fails at once with EPERM, except before the
 * attachment's first answered request: the replicas may not have heard of a new attachment yet.
 *
 * <p>Every acknowledged write is already durable on the volume's consistency level (the replicas
 * fsync before they answer), so FUA needs nothing more, FLUSH is the primary's Flush for safety,
 * and a flush covers the writes of every connection. Each NBD connection gets an {@link #open
 * opening}, read-only when the caller may only read.
 */
public final class VolumeFrontend implements BlockDevice {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeFrontend.class);

  /** The longest one call to a primary may take before it counts as unreachable. */
  static final Duration CALL_DEADLINE = Duration.ofSeconds(10);

  /** The longest call to a replica's Stat while looking for the primary. */
  static final Duration STAT_DEADLINE = Duration.ofSeconds(2);

  /** The first and the longest pause between two tries of one request. */
  static final long FIRST_PAUSE_MS = 50;

  static final long MAX_PAUSE_MS = 1_000;

  /** The most a trim or write-zeroes sends in one call. */
  static final long ZERO_CALL_BYTES = 64L << 20;

  /** How long a clean detach waits for the requests in flight (the command loop waits for it). */
  static final Duration DRAIN = Duration.ofSeconds(10);

  private final String nodeId;
  private final String volumeId;
  private final ReplicaStore store;
  private final VolumeIoCalls local;
  private final PeerChannels peers;
  private final long retryWindowNanos;
  private final VolumeIoCalls.Caller self;
  private final Object monitor = new Object();
  // Cancelled when the attachment ends: fails the calls to other agents in flight.
  private final Context.CancellableContext calls = Context.ROOT.withCancellation();
  private final Set<Opening> openings = ConcurrentHashMap.newKeySet();

  // Guarded by monitor.
  private AssignReplica assignment;
  private Attachment attachment;
  // A newer epoch and its primary, learned from a replica's Stat before the control plane's
  // assignment arrived here.
  private long learnedEpoch;
  private String learnedPrimary = "";
  private long lastStatPollNanos;
  private int inFlight;
  // Null while attached; else why not, and whether the ending was a fence.
  private String ended;
  private boolean fenced;
  // True once a request of this attachment was answered by a replica (admitted).
  private volatile boolean admitted;

  public VolumeFrontend(
      String nodeId,
      String volumeId,
      Attachment attachment,
      AssignReplica assignment,
      ReplicaStore store,
      VolumeIoCalls local,
      PeerChannels peers,
      Duration retryWindow) {
    this.nodeId = nodeId;
    this.volumeId = volumeId;
    this.attachment = attachment;
    this.assignment = assignment;
    this.store = store;
    this.local = local;
    this.peers = peers;
    this.retryWindowNanos = retryWindow.toNanos();
    this.self = VolumeIoCalls.Caller.node(nodeId);
  }

  public String volumeId() {
    return volumeId;
  }

  public Attachment attachment() {
    synchronized (monitor) {
      return attachment;
    }
  }

  public AssignReplica assignment() {
    synchronized (monitor) {
      return assignment;
    }
  }

  /** The epoch requests are sent with now. */
  public long epoch() {
    synchronized (monitor) {
      return Math.max(assignment.getEpoch(), learnedEpoch);
    }
  }

  /** The node requests are sent to now (the primary as this frontend knows it). */
  public String primary() {
    synchronized (monitor) {
      return learnedEpoch > assignment.getEpoch() ? learnedPrimary : assignment.getPrimaryNodeId();
    }
  }

  /**
   * A newer attachment of this node (another generation or mode): requests go on; a new generation
   * must be admitted by the replicas again.
   */
  void reattach(Attachment a) {
    synchronized (monitor) {
      if (a.getGeneration() != attachment.getGeneration()) {
        admitted = false;
      }
      attachment = a;
    }
  }

  /**
   * Takes a newer assignment of the volume (epoch, primary, replica set); an older one is ignored.
   * Requests waiting for a primary are sent again at once.
   *
   * @return true when it was newer and taken
   */
  public boolean assign(AssignReplica a) {
    synchronized (monitor) {
      AssignReplica cur = assignment;
      boolean newer =
          a.getEpoch() > cur.getEpoch()
              || (a.getEpoch() == cur.getEpoch() && a.getRevision() >= cur.getRevision());
      if (newer) {
        assignment = a;
        if (learnedEpoch <= a.getEpoch()) {
          learnedEpoch = 0;
          learnedPrimary = "";
        }
        monitor.notifyAll();
      }
      return newer;
    }
  }

  /** An opening for one NBD connection; read-only when {@code readOnly} or the attachment is. */
  public BlockDevice open(boolean readOnly) throws BlockIoException {
    synchronized (monitor) {
      if (ended != null) {
        throw ended();
      }
      Opening o = new Opening(readOnly || attachment.getReadOnly());
      openings.add(o);
      return o;
    }
  }

  /** The requests being served now. */
  int inFlight() {
    synchronized (monitor) {
      return inFlight;
    }
  }

  /** The number of openings (NBD connections) of this volume. */
  public int openings() {
    return openings.size();
  }

  /**
   * Ends the attachment. A clean detach waits for the requests in flight (at most {@link #DRAIN})
   * (every write it acknowledged is durable already); a fence fails them at once. Afterwards every
   * request of every opening fails: ESHUTDOWN after a detach, EPERM after a fence.
   */
  public void detach(boolean fence, String reason) {
    // No last flush: every write this frontend acknowledged is durable on the replicas already
    // (the group commit), and a flush would wait for a primary that may be gone with the volume
    // (a DeleteVolume right after ControllerUnpublish), holding up the agent's command loop.
    synchronized (monitor) {
      if (ended != null) {
        return;
      }
      if (!fence) {
        long deadline = System.nanoTime() + DRAIN.toNanos();
        while (inFlight > 0 && System.nanoTime() < deadline) {
          try {
            monitor.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            break;
          }
        }
      }
    }
    synchronized (monitor) {
      ended =
          (fence ? "fenced" : "detached")
              + (reason == null || reason.isEmpty() ? "" : ": " + reason);
      fenced = fence;
      monitor.notifyAll();
    }
    calls.cancel(null);
    openings.clear();
    LOG.info("block frontend of {} {}", volumeId, ended);
  }

  /** Ends the frontend with the agent (not a detach: the attachment stays recorded). */
  @Override
  public void close() {
    synchronized (monitor) {
      if (ended == null) {
        ended = "the agent is stopping";
      }
      monitor.notifyAll();
    }
    calls.cancel(null);
    openings.clear();
  }

  private BlockIoException ended() {
    return new BlockIoException(
        fenced ? BlockIoException.Kind.NOT_PERMITTED : BlockIoException.Kind.SHUTDOWN,
        "the attachment of " + volumeId + " to " + nodeId + " ended (" + ended + ")");
  }

  // ---- BlockDevice, in the attachment's own mode ----

  @Override
  public long sizeBytes() {
    synchronized (monitor) {
      return assignment.getSizeBytes();
    }
  }

  @Override
  public boolean readOnly() {
    synchronized (monitor) {
      return attachment.getReadOnly();
    }
  }

  @Override
  public boolean flushCoversAllConnections() {
    return true;
  }

  @Override
  public byte[] read(long offset, int length) throws IOException {
    byte[] out = new byte[length];
    int done = 0;
    while (done < length) {
      int n = Math.min(VolumeIoCalls.MAX_IO_BYTES, length - done);
      long at = offset + done;
      byte[] part =
          call(
              "read",
              (t, epoch) -> {
                ReadRequest r =
                    ReadRequest.newBuilder()
                        .setVolumeId(volumeId)
                        .setEpoch(epoch)
                        .setOffset(at)
                        .setLength(n)
                        .build();
                return (t == null ? local.read(self, r) : t.read(r)).getData().toByteArray();
              });
      if (part.length != n) {
        throw new BlockIoException(
            BlockIoException.Kind.IO,
            "read of " + volumeId + " at " + at + ": " + part.length + " bytes, not " + n);
      }
      System.arraycopy(part, 0, out, done, n);
      done += n;
    }
    return out;
  }

  @Override
  public void write(long offset, byte[] data, boolean fua) throws IOException {
    refuseIfReadOnly("write");
    int done = 0;
    while (done < data.length) {
      int n = Math.min(VolumeIoCalls.MAX_IO_BYTES, data.length - done);
      long at = offset + done;
      ByteString bytes = ByteString.copyFrom(data, done, n);
      call(
          "write",
          (t, epoch) -> {
            WriteRequest r =
                WriteRequest.newBuilder()
                    .setVolumeId(volumeId)
                    .setEpoch(epoch)
                    .setOffset(at)
                    .setData(bytes)
                    .build();
            return t == null ? local.write(self, r) : t.write(r);
          });
      done += n;
    }
    // fua: the write was durable on the volume's consistency level when it was answered.
  }

  @Override
  public void flush() throws IOException {
    if (readOnly()) {
      return; // nothing written through this attachment
    }
    call(
        "flush",
        (t, epoch) -> {
          FlushRequest r = FlushRequest.newBuilder().setVolumeId(volumeId).setEpoch(epoch).build();
          return t == null ? local.flush(self, r) : t.flush(r);
        });
  }

  @Override
  public void trim(long offset, long length, boolean fua) throws IOException {
    refuseIfReadOnly("trim");
    zeroRange(offset, length);
  }

  @Override
  public void writeZeroes(long offset, long length, boolean noHole, boolean fua)
      throws IOException {
    refuseIfReadOnly("write-zeroes");
    if (!noHole) {
      zeroRange(offset, length);
      return;
    }
    // NO_HOLE: the range stays allocated, so zeros are written as data.
    long done = 0;
    while (done < length) {
      int n = (int) Math.min(VolumeIoCalls.MAX_IO_BYTES, length - done);
      write(offset + done, new byte[n], false);
      done += n;
    }
  }

  private void zeroRange(long offset, long length) throws IOException {
    long done = 0;
    while (done < length) {
      long n = Math.min(ZERO_CALL_BYTES, length - done);
      long at = offset + done;
      call(
          "trim",
          (t, epoch) -> {
            TrimRequest r =
                TrimRequest.newBuilder()
                    .setVolumeId(volumeId)
                    .setEpoch(epoch)
                    .setOffset(at)
                    .setLength(n)
                    .build();
            return t == null ? local.trim(self, r) : t.trim(r);
          });
      done += n;
    }
  }

  @Override
  public List<Extent> map(long offset, long length) throws IOException {
    MapResponse m =
        call(
            "map",
            (t, epoch) -> {
              MapRequest r =
                  MapRequest.newBuilder()
                      .setVolumeId(volumeId)
                      .setEpoch(epoch)
                      .setOffset(offset)
                      .setLength(length)
                      .build();
              return t == null ? local.map(self, r) : t.map(r);
            });
    List<Extent> out = new ArrayList<>();
    long covered = 0;
    for (io.mycnet.storage.api.v1.Extent e : m.getExtentsList()) {
      if (e.getLength() <= 0 || covered + e.getLength() > length) {
        break;
      }
      out.add(new Extent(e.getLength(), e.getHole()));
      covered += e.getLength();
    }
    if (out.isEmpty()) {
      throw new BlockIoException(
          BlockIoException.Kind.IO, "the primary of " + volumeId + " mapped nothing at " + offset);
    }
    return out;
  }

  private void refuseIfReadOnly(String what) throws BlockIoException {
    if (readOnly()) {
      throw new BlockIoException(
          BlockIoException.Kind.NOT_PERMITTED,
          what + " refused: the attachment of " + volumeId + " to " + nodeId + " is read-only");
    }
  }

  // ---- one request, followed across primaries ----

  /** One call to the primary: {@code remote} is its VolumeIo, null when it is this node. */
  @FunctionalInterface
  interface Call<T> {
    T send(VolumeIoGrpc.VolumeIoBlockingStub remote, long epoch) throws IOException;
  }

  /** Where a try goes: the primary, its address (null when local), the epoch to send. */
  private record Route(String primary, String address, long epoch) {}

  /**
   * Sends a request to the primary until it is answered, following the primary across epochs within
   * the retry window (see the class comment).
   */
  <T> T call(String what, Call<T> call) throws IOException {
    return call(what, call, retryWindowNanos);
  }

  private <T> T call(String what, Call<T> call, long windowNanos) throws IOException {
    long start = System.nanoTime();
    long deadline = start + windowNanos;
    long pause = FIRST_PAUSE_MS;
    Status last = null;
    synchronized (monitor) {
      if (ended != null) {
        throw ended();
      }
      inFlight++;
    }
    try {
      for (int attempt = 1; ; attempt++) {
        Route route;
        synchronized (monitor) {
          if (ended != null) {
            throw ended();
          }
          route = route();
        }
        if (route != null) {
          try {
            T answer = send(route, call, deadline);
            admitted = true;
            if (attempt > 1) {
              LOG.info(
                  "{} of {} answered by {} at epoch {} after {} tries ({} ms)",
                  what,
                  volumeId,
                  route.primary(),
                  route.epoch(),
                  attempt,
                  TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            }
            return answer;
          } catch (StatusRuntimeException e) {
            last = e.getStatus();
          } catch (IOException e) {
            last = VolumeIoCalls.statusOf(e);
          }
          synchronized (monitor) {
            if (ended != null) {
              throw ended();
            }
          }
          BlockIoException fatal = fatal(what, route, last);
          if (fatal != null) {
            throw fatal;
          }
        } else {
          last = Status.UNAVAILABLE.withDescription("no reachable primary known");
        }
        if (System.nanoTime() - deadline >= 0) {
          throw new BlockIoException(
              BlockIoException.Kind.IO,
              what
                  + " of "
                  + volumeId
                  + " failed: no primary answered within the retry window of "
                  + TimeUnit.NANOSECONDS.toMillis(windowNanos)
                  + " ms; last: "
                  + describe(last));
        }
        if (attempt == 1 || attempt % 20 == 0) {
          LOG.info(
              "{} of {}: primary {} did not take it ({}); waiting for a newer primary",
              what,
              volumeId,
              route == null ? "-" : route.primary(),
              describe(last));
        }
        awaitNewerRoute(route, Math.min(pause, remainingMs(deadline)));
        pause = Math.min(MAX_PAUSE_MS, pause * 2);
        pollReplicas(route);
      }
    } finally {
      synchronized (monitor) {
        inFlight--;
        monitor.notifyAll();
      }
    }
  }

  private <T> T send(Route route, Call<T> call, long deadline) throws IOException {
    if (route.address() == null) {
      return call.send(null, route.epoch());
    }
    long ms = Math.max(1_000, Math.min(CALL_DEADLINE.toMillis(), remainingMs(deadline)));
    VolumeIoGrpc.VolumeIoBlockingStub stub =
        peers
            .volumeIo(route.primary(), route.address())
            .withDeadlineAfter(ms, TimeUnit.MILLISECONDS);
    try {
      return calls.call(() -> call.send(stub, route.epoch()));
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  /**
   * The error the request fails with at once, or null when it is to be sent again to a newer
   * primary.
   */
  private BlockIoException fatal(String what, Route route, Status s) {
    String why = what + " of " + volumeId + " refused by " + route.primary() + ": " + describe(s);
    switch (s.getCode()) {
      case FAILED_PRECONDITION:
      case UNAVAILABLE:
      case DEADLINE_EXCEEDED:
      case NOT_FOUND:
      case ABORTED:
      case CANCELLED:
      case UNKNOWN:
        return null;
      case PERMISSION_DENIED:
        String d = s.getDescription() == null ? "" : s.getDescription();
        if (d.startsWith("peer node ") && d.contains("is revoked")) {
          return null; // the primary's node was removed: a new primary comes
        }
        if (!admitted) {
          return null; // the replicas may not know of this attachment yet
        }
        return new BlockIoException(BlockIoException.Kind.NOT_PERMITTED, why);
      case INVALID_ARGUMENT:
      case OUT_OF_RANGE:
        return new BlockIoException(BlockIoException.Kind.INVALID, why);
      case RESOURCE_EXHAUSTED:
        return new BlockIoException(BlockIoException.Kind.NO_SPACE, why);
      default:
        return new BlockIoException(BlockIoException.Kind.IO, why);
    }
  }

  private static String describe(Status s) {
    if (s == null) {
      return "-";
    }
    return s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
  }

  private static long remainingMs(long deadlineNanos) {
    return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
  }

  /** The route to the primary as known now (monitor held), or null when none is reachable. */
  private Route route() {
    long epoch = Math.max(assignment.getEpoch(), learnedEpoch);
    String primary =
        learnedEpoch > assignment.getEpoch() ? learnedPrimary : assignment.getPrimaryNodeId();
    if (primary.isEmpty()) {
      return null;
    }
    if (primary.equals(nodeId) && store.volume(volumeId) != null) {
      return new Route(primary, null, epoch);
    }
    String address = addressOf(primary);
    return address == null ? null : new Route(primary, address, epoch);
  }

  private String addressOf(String node) {
    for (ReplicaMember m : assignment.getPeersList()) {
      if (m.getNodeId().equals(node) && !m.getAddress().isEmpty()) {
        return m.getAddress();
      }
    }
    return null;
  }

  /** Waits until the route differs from {@code tried} (a newer assignment), at most {@code ms}. */
  private void awaitNewerRoute(Route tried, long ms) throws BlockIoException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
    synchronized (monitor) {
      while (ended == null && java.util.Objects.equals(route(), tried)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return;
        }
        try {
          monitor.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new BlockIoException(
              BlockIoException.Kind.IO, "interrupted while waiting for a primary of " + volumeId);
        }
      }
      if (ended != null) {
        throw ended();
      }
    }
  }

  /**
   * Asks the replicas of the set for their epoch and primary (at most every {@link #FIRST_PAUSE_MS}
   * * 4, by one request at a time): a newer epoch whose primary's address is known becomes the
   * route before the control plane's assignment reaches this node.
   */
  private void pollReplicas(Route tried) {
    List<ReplicaMember> members;
    synchronized (monitor) {
      long now = System.nanoTime();
      if (ended != null
          || now - lastStatPollNanos < TimeUnit.MILLISECONDS.toNanos(FIRST_PAUSE_MS * 4)
          || !java.util.Objects.equals(route(), tried)) {
        return;
      }
      lastStatPollNanos = now;
      members = assignment.getPeersList();
    }
    long bestEpoch = 0;
    String bestPrimary = "";
    for (ReplicaMember m : members) {
      if (m.getAddress().isEmpty() || (tried != null && m.getNodeId().equals(tried.primary()))) {
        continue;
      }
      StatRequest r = StatRequest.newBuilder().setVolumeId(volumeId).build();
      try {
        VolumeStat s;
        if (m.getNodeId().equals(nodeId) && store.volume(volumeId) != null) {
          s = local.stat(self, r);
        } else {
          VolumeIoGrpc.VolumeIoBlockingStub stub =
              peers
                  .volumeIo(m.getNodeId(), m.getAddress())
                  .withDeadlineAfter(STAT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
          s = calls.call(() -> stub.stat(r));
        }
        if (s.getEpoch() > bestEpoch && !s.getPrimaryNodeId().isEmpty()) {
          bestEpoch = s.getEpoch();
          bestPrimary = s.getPrimaryNodeId();
        }
      } catch (Exception e) {
        // unreachable or refusing: the next replica, or the next round
      }
    }
    synchronized (monitor) {
      if (bestEpoch > Math.max(assignment.getEpoch(), learnedEpoch)
          && addressOf(bestPrimary) != null) {
        LOG.info(
            "{}: the replicas report epoch {} with primary {}; following it",
            volumeId,
            bestEpoch,
            bestPrimary);
        learnedEpoch = bestEpoch;
        learnedPrimary = bestPrimary;
        monitor.notifyAll();
      }
    }
  }

  /** One NBD connection's view: the frontend, read-only when the caller may only read. */
  private final class Opening implements BlockDevice {
    private final boolean readOnly;
    private volatile boolean closed;

    Opening(boolean readOnly) {
      this.readOnly = readOnly;
    }

    private void check() throws BlockIoException {
      if (closed || !openings.contains(this)) {
        synchronized (monitor) {
          if (ended != null) {
            throw ended();
          }
        }
        throw new BlockIoException(
            BlockIoException.Kind.SHUTDOWN, "this connection's opening of " + volumeId + " closed");
      }
    }

    private void checkWrite(String what) throws BlockIoException {
      check();
      if (readOnly) {
        throw new BlockIoException(
            BlockIoException.Kind.NOT_PERMITTED,
            what + " refused: this opening of " + volumeId + " is read-only");
      }
    }

    @Override
    public long sizeBytes() {
      return VolumeFrontend.this.sizeBytes();
    }

    @Override
    public boolean readOnly() {
      return readOnly;
    }

    @Override
    public boolean flushCoversAllConnections() {
      return true;
    }

    @Override
    public byte[] read(long offset, int length) throws IOException {
      check();
      return VolumeFrontend.this.read(offset, length);
    }

    @Override
    public void write(long offset, byte[] data, boolean fua) throws IOException {
      checkWrite("write");
      VolumeFrontend.this.write(offset, data, fua);
    }

    @Override
    public void flush() throws IOException {
      check();
      if (!readOnly) {
        VolumeFrontend.this.flush();
      }
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
      checkWrite("trim");
      VolumeFrontend.this.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fua)
        throws IOException {
      checkWrite("write-zeroes");
      VolumeFrontend.this.writeZeroes(offset, length, noHole, fua);
    }

    @Override
    public List<Extent> map(long offset, long length) throws IOException {
      check();
      return VolumeFrontend.this.map(offset, length);
    }

    @Override
    public void close() {
      closed = true;
      openings.remove(this);
    }
  }
}
