package io.mycnet.storage.agent.replication;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.SettableFuture;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.ConsistencyLevel;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaAck;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One volume replica with its place in the replica set: epoch fencing, the primary's ordered
 * forwarding to followers (STRONG: acknowledged when every in-sync follower made the write durable;
 * EVENTUAL: when the primary did), the follower's in-order apply, and the catch-up log of a replica
 * being rebuilt. Every call to another replica goes through the context's {@link ReplicaLink} (gRPC
 * between agents; replicas of one JVM in tests); its durable out-of-sync marks are {@link
 * OutOfSyncMarks}, its reports of forged epoch claims {@link ViolationReports}.
 *
 * <p>Writes carry a sequence number assigned by the primary; a follower applies them strictly in
 * order. A follower that fails or times out is marked out of sync (reported to the control plane,
 * never silently skipped); a STRONG write needs a majority of the replica set durable, so a primary
 * cut off from its peers stops acknowledging. A follower answering "stale epoch" fences the
 * primary: it stops serving.
 *
 * <p>Epochs come from the control plane only: a replica takes a write at an epoch only from the
 * primary its own assignment of that epoch names ({@link #decide}), waiting {@link
 * #ASSIGNMENT_WAIT_MS} for an assignment a new primary's write overtook; a claim the assignments
 * contradict is refused and reported as the sender's {@code PEER_PROTOCOL_VIOLATION}.
 */
public final class ReplicatedVolume implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicatedVolume.class);
  static final long FORWARD_DEADLINE_MS = 5_000;
  static final long ORDER_WAIT_MS = 5_000;

  /** How long a follower's ReadIndex call to its primary may take. */
  static final long READ_INDEX_DEADLINE_MS = 2_000;

  /** How long a follower behind the primary's write position waits before refusing a read. */
  static final long READ_CATCH_UP_MS = 1_000;

  /**
   * How long a write claiming an epoch newer than this replica's assignment waits for that epoch's
   * assignment to arrive over the agent's own control-plane session (a new primary's first writes
   * may overtake it) before it is refused. Shorter than {@link #FORWARD_DEADLINE_MS}, so the sender
   * gets the refusal, not a timeout.
   */
  static final long ASSIGNMENT_WAIT_MS = 3_000;

  /**
   * At most one {@code PEER_PROTOCOL_VIOLATION} report per sender and kind of claim (older,
   * current, newer epoch) in this interval; the ones held back are counted in the next.
   */
  static final long VIOLATION_REPORT_INTERVAL_MS = 60_000;

  /**
   * How many past epochs' primaries a replica remembers (to tell a deposed primary from a liar).
   */
  static final int PRIMARIES_KEPT = 64;

  /** The primary's durable out-of-sync marks (one node id a line). */
  static final String OUT_OF_SYNC_FILE = "out-of-sync";

  /** What a volume needs from the agent. */
  public interface Context {
    String nodeId();

    /** The calls to the other replicas of the set. */
    ReplicaLink link();

    void report(ReplicaReport r);

    void recordEpoch(String volumeId, long epoch);
  }

  private final VolumeReplica replica;
  private final Context ctx;
  private final Object order = new Object();
  private volatile long epoch;
  private volatile AssignReplica assignment;
  private volatile boolean fenced;
  private volatile String fencedWhy = "";
  // Whether this process applied an assignment, or (primary) had its role confirmed by a majority
  // of the replica set: an assignment read from disk after a restart may be outdated.
  private volatile boolean assignedThisRun;
  private volatile boolean confirmedThisRun;
  // Primary state, guarded by `order`:
  private long lastSequence;
  private final Map<String, ReplicaMember> attached = new LinkedHashMap<>();
  // Persisted (OUT_OF_SYNC_FILE) before a write is acknowledged without the node.
  private final OutOfSyncMarks outOfSync;
  // The last write each follower acknowledged in this process's lifetime.
  private final Map<String, Long> acked = new ConcurrentHashMap<>();
  // Follower state, guarded by `order`:
  private long applied;
  // The replica's durability ticket of the last write applied (VolumeReplica.awaitDurable): a
  // write is acknowledged only once durable, a repeat only once every write applied is.
  private long appliedTicket;
  // The newest epoch of a write applied here (never newer than the assignment held: a write waits
  // for its epoch's assignment): a ReadIndex answers with it, so a deposed primary is not
  // confirmed.
  private volatile long writeEpoch;
  // The primary named by each assignment this replica held (this process's lifetime and the one on
  // disk), newest PRIMARIES_KEPT epochs.
  private final java.util.NavigableMap<Long, String> primaries =
      new java.util.concurrent.ConcurrentSkipListMap<>();
  // Senders whose newer epoch never arrived here within ASSIGNMENT_WAIT_MS, with the epoch of the
  // assignment held then: their writes at newer epochs are refused at once until a newer
  // assignment arrives (a flood of forged epochs does not hold a data-port thread each).
  private final Map<String, Long> unassignedSenders = new ConcurrentHashMap<>();
  private final ViolationReports violations;
  // ASSIGNMENT_WAIT_MS (unit tests change it).
  volatile long assignmentWaitMs = ASSIGNMENT_WAIT_MS;
  // FORWARD_DEADLINE_MS (unit tests change it).
  volatile long forwardDeadlineMs = FORWARD_DEADLINE_MS;
  // CATCH_UP_MAX_BYTES (unit tests change it).
  volatile long catchUpMaxBytes = CATCH_UP_MAX_BYTES;
  // Rebuild state, guarded by `order`: catchUp null when not rebuilding. Forwarded writes are kept
  // only while a chunk asked for before them is on its way (to be re-applied over it), at most
  // CATCH_UP_MAX_BYTES; inFlight: the chunks asked for, by offset.
  private List<ReplicaWrite> catchUp;
  private long catchUpBytes;
  private long catchUpPeak;
  private final Map<Long, Asked> inFlight = new java.util.HashMap<>();
  private boolean attaching;
  public volatile Rebuilder rebuild;

  public ReplicatedVolume(VolumeReplica replica, long epoch, Context ctx) {
    this.replica = replica;
    this.epoch = epoch;
    this.ctx = ctx;
    this.violations = new ViolationReports(replica.volumeId(), r -> this.ctx.report(r));
    try {
      if (java.nio.file.Files.exists(replica.dir().resolve("assignment.pb"))) {
        AssignReplica a =
            AssignReplica.parseFrom(
                java.nio.file.Files.readAllBytes(replica.dir().resolve("assignment.pb")));
        this.assignment = a;
        this.epoch = Math.max(epoch, a.getEpoch());
        rememberPrimary(a);
      }
    } catch (IOException e) {
      LOG.warn("cannot read the assignment of {}: {}", replica.volumeId(), e.toString());
    }
    AssignReplica a = assignment;
    if (a != null) {
      try {
        replica.bindNamespace(a.getNamespace());
      } catch (IOException e) {
        // The replica refuses I/O with this message; it is not reported corrupt.
        LOG.error("cannot use the replica of {}: {}", replica.volumeId(), e.getMessage());
      }
    }
    // Marks made before a restart are reported again (the report may have been lost with the
    // process).
    this.outOfSync =
        new OutOfSyncMarks(replica.dir().resolve(OUT_OF_SYNC_FILE), replica.volumeId());
    if (ctx != null) {
      for (String n : outOfSync.nodes()) {
        reportOutOfSync(n, "marked out of sync before this agent restarted");
      }
    }
  }

  public VolumeReplica replica() {
    return replica;
  }

  public long epoch() {
    return epoch;
  }

  public AssignReplica assignment() {
    return assignment;
  }

  public boolean isPrimary() {
    AssignReplica a = assignment;
    return a != null && a.getPrimaryNodeId().equals(ctx.nodeId()) && !fenced;
  }

  public boolean fenced() {
    return fenced;
  }

  public Set<String> outOfSync() {
    return outOfSync.nodes();
  }

  public long appliedSequence() {
    synchronized (order) {
      return Math.max(applied, lastSequence);
    }
  }

  public void learnEpoch(long e) {
    if (e > epoch) {
      epoch = e;
    }
  }

  /** Applies an assignment (idempotent; an older epoch than known is refused). */
  public String assign(AssignReplica a) throws IOException {
    if (a.getEpoch() < epoch && assignment != null && assignment.getEpoch() > a.getEpoch()) {
      throw new IOException(
          "stale assignment: the replica of "
              + a.getVolumeId()
              + " is at epoch "
              + epoch
              + ", newer than "
              + a.getEpoch());
    }
    AssignReplica current = assignment;
    if (current != null
        && current.getEpoch() == a.getEpoch()
        && a.getRevision() < current.getRevision()) {
      // Commands of one node arrive in order; this one was overtaken (e.g. a second control plane).
      return "assignment of "
          + a.getVolumeId()
          + " at epoch "
          + a.getEpoch()
          + " revision "
          + a.getRevision()
          + " is older than the one applied (revision "
          + current.getRevision()
          + "): ignored";
    }
    // An encrypted replica needs its owning namespace's key, and keeps that namespace.
    replica.bindNamespace(a.getNamespace());
    DurableFiles.write(replica.dir().resolve("assignment.pb"), a.toByteArray(), true);
    synchronized (order) {
      boolean wasPrimary = isPrimary();
      if (assignment == null || a.getEpoch() > assignment.getEpoch()) {
        // Fenced means a newer epoch exists; only a newer assignment lifts it.
        fenced = false;
      }
      assignment = a;
      epoch = Math.max(epoch, a.getEpoch());
      assignedThisRun = true;
      rememberPrimary(a);
      // Writes waiting for this epoch's assignment decide now.
      order.notifyAll();
      if (a.getPrimaryNodeId().equals(ctx.nodeId())) {
        if (!wasPrimary) {
          lastSequence = Math.max(lastSequence, applied);
        }
        // Attached rebuild targets that are now members stay; out-of-sync marks persist until the
        // control plane replaced the replica.
        for (ReplicaMember m : a.getPeersList()) {
          if (m.getState() == ReplicaState.REPLICA_STATE_REBUILDING) {
            continue;
          }
          if (m.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
            attached.remove(m.getNodeId());
          }
        }
        attached.keySet().removeIf(n -> memberState(a, n) == null);
        outOfSync.liftIf(n -> memberState(a, n) == null);
        for (ReplicaMember m : a.getPeersList()) {
          if (m.getState() == ReplicaState.REPLICA_STATE_HEALTHY
              && outOfSync.contains(m.getNodeId())) {
            // Marked while it was being rebuilt (or before this epoch): the control plane now
            // counts it healthy, so say again that it is not.
            reportOutOfSync(m.getNodeId(), "still out of sync at epoch " + a.getEpoch());
          }
        }
      } else {
        attached.clear();
        applied = Math.max(applied, lastSequence);
      }
    }
    releaseParked();
    ctx.recordEpoch(a.getVolumeId(), a.getEpoch());
    return "replica of "
        + a.getVolumeId()
        + " at epoch "
        + a.getEpoch()
        + (a.getPrimaryNodeId().equals(ctx.nodeId())
            ? " (primary)"
            : " (follower of " + a.getPrimaryNodeId() + ")");
  }

  /**
   * A replica that takes every write: HEALTHY, or CREATING (placed, its create not confirmed to the
   * control plane yet). A CREATING replica that misses a write is reported out of sync like any
   * member, so it is never confirmed without the data.
   */
  static boolean member(ReplicaMember m) {
    return m.getState() == ReplicaState.REPLICA_STATE_HEALTHY
        || m.getState() == ReplicaState.REPLICA_STATE_CREATING;
  }

  static ReplicaState memberState(AssignReplica a, String nodeId) {
    for (ReplicaMember m : a.getPeersList()) {
      if (m.getNodeId().equals(nodeId)) {
        return m.getState();
      }
    }
    return null;
  }

  /** Checks the request's epoch against this replica's. */
  public void checkEpoch(long requestEpoch) {
    if (requestEpoch < epoch) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "stale epoch "
                  + requestEpoch
                  + ": the replica of "
                  + replica.volumeId()
                  + " is at epoch "
                  + epoch
                  + "; ask Stat for the current epoch and primary")
          .asRuntimeException();
    }
    if (requestEpoch > epoch) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "epoch "
                  + requestEpoch
                  + " is newer than this replica of "
                  + replica.volumeId()
                  + " knows (epoch "
                  + epoch
                  + "): it was replaced or has not heard of the change yet; retry shortly")
          .asRuntimeException();
    }
    if (fenced) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "this replica of " + replica.volumeId() + " lost its role (fenced): " + fencedWhy)
          .asRuntimeException();
    }
  }

  // ---- primary: writes ----

  /** An acknowledged write: its place in the write order and how many replicas made it durable. */
  public record Written(long sequence, int durable) {}

  /** A write on the primary. */
  public Written primaryWrite(long offset, byte[] data, long zeroLength) throws IOException {
    AssignReplica a = assignment;
    if (a == null || !a.getPrimaryNodeId().equals(ctx.nodeId())) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "this node is not the primary of "
                  + replica.volumeId()
                  + (a == null ? "" : "; the primary is " + a.getPrimaryNodeId()))
          .asRuntimeException();
    }
    Forwarded f = writeAndForward(a, offset, data, zeroLength);
    // The followers have the write already: the local fdatasync (shared with the concurrent writes,
    // VolumeReplica.awaitDurable) runs while they apply theirs.
    IOException local = null;
    try {
      replica.awaitDurable(f.ticket());
    } catch (IOException e) {
      local = e;
    }
    boolean strong = a.getConsistency() == ConsistencyLevel.CONSISTENCY_LEVEL_STRONG;
    int durable = 1;
    for (Map.Entry<ReplicaMember, ListenableFuture<ReplicaAck>> e : f.inSync().entrySet()) {
      if (strong) {
        if (await(e.getKey(), e.getValue(), f.sequence())) {
          durable++;
        }
      } else {
        e.getValue()
            .addListener(() -> await(e.getKey(), e.getValue(), f.sequence()), Runnable::run);
      }
    }
    f.rebuilding().forEach((m, ack) -> detachOnFailure(m, ack, f.sequence()));
    if (local != null) {
      throw local; // not durable here: not acknowledged, whatever the followers did
    }
    if (fenced) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "write refused: this node lost the primary role of "
                  + replica.volumeId()
                  + ": "
                  + fencedWhy)
          .asRuntimeException();
    }
    if (strong) {
      requireMajority(a, durable);
    }
    return new Written(f.sequence(), strong ? durable : 1);
  }

  /**
   * A write in the primary's order: its sequence number, its local durability ticket ({@link
   * VolumeReplica#awaitDurable}), and the acknowledgements to come from the members it was
   * forwarded to and from the rebuild targets attached.
   */
  /** The bound of {@link #forwardBudget}, in KiB. */
  static final int FORWARD_BUDGET_KIB = 64 * 1024;

  /** KiB forwarded and not yet answered by every follower (see {@link #takeForwardBudget}). */
  private final java.util.concurrent.Semaphore forwardBudget =
      new java.util.concurrent.Semaphore(FORWARD_BUDGET_KIB, true);

  private record Forwarded(
      long sequence,
      long ticket,
      Map<ReplicaMember, ListenableFuture<ReplicaAck>> inSync,
      Map<ReplicaMember, ListenableFuture<ReplicaAck>> rebuilding) {}

  /**
   * Takes the next sequence number, writes locally (not yet durable) and forwards the write to
   * every member not out of sync and every attached rebuild target: one step under the write order,
   * so followers see the writes in the order of their numbers. The local fdatasync is awaited
   * outside the order, so concurrent writes share it.
   */
  private Forwarded writeAndForward(AssignReplica a, long offset, byte[] data, long zeroLength)
      throws IOException {
    int kib =
        data == null ? 1 : Math.max(1, Math.min(FORWARD_BUDGET_KIB, (data.length + 1023) / 1024));
    takeForwardBudget(kib);
    Forwarded f;
    try {
      f = numberWriteAndForward(a, offset, data, zeroLength);
    } catch (IOException | RuntimeException | Error e) {
      forwardBudget.release(kib);
      throw e;
    }
    List<ListenableFuture<ReplicaAck>> acks = new ArrayList<>(f.inSync().values());
    acks.addAll(f.rebuilding().values());
    Futures.whenAllComplete(acks)
        .run(() -> forwardBudget.release(kib), MoreExecutors.directExecutor());
    return f;
  }

  /**
   * Waits for room in the forward budget: the bytes this primary has forwarded and not yet had
   * answered by every follower are bounded, so followers that lag behind an EVENTUAL primary (which
   * acknowledges before them) hold new writes back instead of filling the agent's memory. Every
   * forward ends within its deadline, so the wait does too; past it the write is refused
   * UNAVAILABLE (retry), nothing written.
   */
  private void takeForwardBudget(int kib) {
    try {
      if (forwardBudget.tryAcquire(kib, 2 * forwardDeadlineMs + 1000, TimeUnit.MILLISECONDS)) {
        return;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    throw Status.UNAVAILABLE
        .withDescription(
            "write to "
                + replica.volumeId()
                + " refused: the followers have not answered the "
                + (FORWARD_BUDGET_KIB / 1024)
                + " MiB forwarded before it; retry")
        .asRuntimeException();
  }

  private Forwarded numberWriteAndForward(
      AssignReplica a, long offset, byte[] data, long zeroLength) throws IOException {
    Map<ReplicaMember, ListenableFuture<ReplicaAck>> inSync = new LinkedHashMap<>();
    Map<ReplicaMember, ListenableFuture<ReplicaAck>> rebuilding = new LinkedHashMap<>();
    synchronized (order) {
      long ticket =
          zeroLength > 0
              ? replica.punchAsync(offset, zeroLength)
              : replica.writeAsync(offset, data);
      long seq = ++lastSequence;
      ReplicaWrite w =
          ReplicaWrite.newBuilder()
              .setVolumeId(replica.volumeId())
              .setEpoch(a.getEpoch())
              .setSequence(seq)
              .setOffset(offset)
              .setData(zeroLength > 0 ? ByteString.EMPTY : ByteString.copyFrom(data))
              .setZeroLength(Math.max(0, zeroLength))
              .build();
      Set<String> forwarded = new java.util.HashSet<>();
      for (ReplicaMember m : a.getPeersList()) {
        if (!m.getNodeId().equals(ctx.nodeId())
            && !outOfSync.contains(m.getNodeId())
            && member(m)) {
          forwarded.add(m.getNodeId());
          inSync.put(m, forward(m, w));
        }
      }
      for (ReplicaMember m : attached.values()) {
        if (!outOfSync.contains(m.getNodeId()) && forwarded.add(m.getNodeId())) {
          rebuilding.put(m, forward(m, w));
        }
      }
      return new Forwarded(seq, ticket, inSync, rebuilding);
    }
  }

  /**
   * A rebuild target that misses a write is detached and marked out of sync: never skipped
   * silently, it is not forwarded to (and is reported) until it attaches again or the control plane
   * replaces it.
   */
  private void detachOnFailure(ReplicaMember m, ListenableFuture<ReplicaAck> ack, long seq) {
    ack.addListener(
        () -> {
          try {
            ack.get();
          } catch (Exception e) {
            synchronized (order) {
              attached.remove(m.getNodeId());
            }
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            Status s = Status.fromThrowable(cause);
            markOutOfSync(
                m.getNodeId(),
                seq,
                "rebuild target missed the write, detached: "
                    + s.getCode()
                    + ": "
                    + s.getDescription());
          }
        },
        Runnable::run);
  }

  /** Refuses to acknowledge a STRONG write durable on fewer than a majority of the members. */
  private void requireMajority(AssignReplica a, int durable) {
    int members = 0;
    for (ReplicaMember m : a.getPeersList()) {
      if (member(m)) {
        members++;
      }
    }
    members = Math.max(members, 1);
    int majority = members / 2 + 1;
    if (durable < majority) {
      throw Status.UNAVAILABLE
          .withDescription(
              "write to "
                  + replica.volumeId()
                  + " is durable on "
                  + durable
                  + " of "
                  + members
                  + " replicas, fewer than the majority of "
                  + majority
                  + " a STRONG volume needs; not acknowledged")
          .asRuntimeException();
    }
  }

  private ListenableFuture<ReplicaAck> forward(ReplicaMember m, ReplicaWrite w) {
    return ctx.link().apply(m, w, forwardDeadlineMs);
  }

  /** Waits for one follower's ack; on failure marks it out of sync (or fences this primary). */
  private boolean await(ReplicaMember m, ListenableFuture<ReplicaAck> f, long seq) {
    try {
      f.get(forwardDeadlineMs + 1000, TimeUnit.MILLISECONDS);
      acked.merge(m.getNodeId(), seq, Math::max);
      return true;
    } catch (ExecutionException e) {
      Status s = Status.fromThrowable(e.getCause());
      if (s.getCode() == Status.Code.FAILED_PRECONDITION
          && s.getDescription() != null
          && s.getDescription().startsWith("stale epoch")) {
        fenced = true;
        fencedWhy = "replica on " + m.getNodeId() + " is at a newer epoch: " + s.getDescription();
        LOG.warn("fenced as primary of {}: {}", replica.volumeId(), fencedWhy);
        return false;
      }
      markOutOfSync(m.getNodeId(), seq, s.getCode() + ": " + s.getDescription());
    } catch (TimeoutException e) {
      markOutOfSync(m.getNodeId(), seq, "no acknowledgement in time");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }

  private void markOutOfSync(String node, long seq, String why) {
    // Durable before the write is acknowledged: a restarted primary must not count it in sync.
    if (outOfSync.mark(node)) {
      LOG.warn(
          "replica of {} on {} is out of sync at write {}: {}", replica.volumeId(), node, seq, why);
      reportOutOfSync(node, "write " + seq + " not made durable there: " + why);
    }
  }

  private void reportOutOfSync(String node, String message) {
    ctx.report(
        ReplicaReport.newBuilder()
            .setVolumeId(replica.volumeId())
            .setEpoch(epoch)
            .setKind(ReplicaReport.Kind.REPLICA_OUT_OF_SYNC)
            .setNodeId(node)
            .setMessage(message)
            .build());
  }

  /** Primary: a rebuild target asks for every write from now on. */
  public long attach(String nodeId) {
    AssignReplica a = assignment;
    if (!isPrimary()) {
      throw Status.FAILED_PRECONDITION
          .withDescription("this node is not the primary of " + replica.volumeId())
          .asRuntimeException();
    }
    ReplicaMember member = null;
    for (ReplicaMember m : a.getPeersList()) {
      if (m.getNodeId().equals(nodeId)) {
        member = m;
      }
    }
    if (member == null) {
      throw Status.UNAVAILABLE
          .withDescription(
              nodeId
                  + " is not in the replica set of "
                  + replica.volumeId()
                  + " at epoch "
                  + a.getEpoch()
                  + " that this primary knows; retry shortly")
          .asRuntimeException();
    }
    synchronized (order) {
      outOfSync.lift(nodeId);
      attached.put(nodeId, member);
      return lastSequence;
    }
  }

  // ---- follower ----

  /** What a replica does with a peer's write, given the assignments it holds. */
  enum Verdict {
    /** From the primary of the assignment held at the write's epoch. */
    ACCEPT,
    /**
     * An older epoch, from its primary or of an epoch not known here: refused "stale epoch", which
     * fences a deposed primary.
     */
    STALE,
    /** Newer than the assignment held (or none held): wait for the assignment. */
    WAIT,
    /** An older epoch whose assignment named another primary, or epoch 0 (never assigned). */
    FORGED_OLDER,
    /** The epoch of the assignment held, which names another primary. */
    FORGED_CURRENT,
    /** A newer epoch whose assignment never reached this replica within the wait. */
    FORGED_NEWER
  }

  /**
   * The decision on a write at {@code writeEpoch} from {@code caller}, by the assignment {@code a}
   * held (null: none), the newest epoch {@code epoch} this replica knows (an assignment, or a
   * create or rebuild command) and the primaries of the epochs it held assignments of. Epochs come
   * from the control plane only: never from the write.
   */
  static Verdict decide(
      AssignReplica a,
      long epoch,
      java.util.NavigableMap<Long, String> primaries,
      String caller,
      long writeEpoch) {
    if (a == null || writeEpoch > a.getEpoch()) {
      return Verdict.WAIT;
    }
    if (writeEpoch == a.getEpoch()) {
      if (!a.getPrimaryNodeId().equals(caller)) {
        return Verdict.FORGED_CURRENT;
      }
      // A create or rebuild command of a newer epoch arrived, its assignment not yet.
      return writeEpoch < epoch ? Verdict.STALE : Verdict.ACCEPT;
    }
    String then = primaries.get(writeEpoch);
    if (writeEpoch == 0 || (then != null && !then.equals(caller))) {
      return Verdict.FORGED_OLDER;
    }
    // The node that is still the primary at the newest epoch known here, behind on a membership
    // change: assignments reach the nodes in no particular order, and it is not deposed.
    if (a.getPrimaryNodeId().equals(caller) && a.getEpoch() == epoch) {
      return Verdict.ACCEPT;
    }
    return Verdict.STALE;
  }

  private void rememberPrimary(AssignReplica a) {
    primaries.put(a.getEpoch(), a.getPrimaryNodeId());
    while (primaries.size() > PRIMARIES_KEPT) {
      primaries.pollFirstEntry();
    }
  }

  /**
   * Admits a write from {@code caller} at {@code writeEpoch}, or throws the refusal (nothing is
   * written then). A newer epoch than the assignment held waits up to {@link #ASSIGNMENT_WAIT_MS}
   * for that assignment; a claim the assignments contradict (or one that never arrives) is reported
   * as the sender's {@code PEER_PROTOCOL_VIOLATION}.
   */
  void admit(String caller, long writeEpoch) {
    Verdict v = decide(assignment, epoch, primaries, caller, writeEpoch);
    if (v == Verdict.WAIT) {
      v = awaitAssignment(caller, writeEpoch);
    }
    refuseUnlessAccepted(v, caller, writeEpoch);
  }

  /**
   * Waits up to {@link #assignmentWaitMs} for the assignment a write at a newer epoch than held
   * claims, and decides again; FORGED_NEWER when it does not come (at once for a sender whose newer
   * epoch did not come before, when nothing arrived since).
   */
  private Verdict awaitAssignment(String caller, long writeEpoch) {
    AssignReplica held = assignment;
    Long refusedAt = unassignedSenders.get(caller);
    long heldEpoch = held == null ? 0 : held.getEpoch();
    if (refusedAt != null && refusedAt == heldEpoch) {
      return Verdict.FORGED_NEWER;
    }
    Verdict v;
    long deadline = System.currentTimeMillis() + assignmentWaitMs;
    synchronized (order) {
      while ((v = decide(assignment, epoch, primaries, caller, writeEpoch)) == Verdict.WAIT) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          v = Verdict.FORGED_NEWER;
          break;
        }
        try {
          order.wait(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw Status.CANCELLED.asRuntimeException();
        }
      }
    }
    if (v == Verdict.FORGED_NEWER) {
      AssignReplica now = assignment;
      unassignedSenders.put(caller, now == null ? 0L : now.getEpoch());
    }
    return v;
  }

  /**
   * Throws the refusal of a write the verdict {@code v} does not accept (and reports a forgery).
   */
  private void refuseUnlessAccepted(Verdict v, String caller, long writeEpoch) {
    AssignReplica a = assignment;
    String vol = replica.volumeId();
    switch (v) {
      case ACCEPT -> {}
      case STALE -> checkEpoch(writeEpoch);
      case FORGED_OLDER -> {
        String why =
            writeEpoch == 0
                ? "epoch 0 is never assigned"
                : "the assignment of epoch "
                    + writeEpoch
                    + " named "
                    + primaries.get(writeEpoch)
                    + " primary";
        violations.refused(caller, "older", writeEpoch, epoch, why);
        throw Status.PERMISSION_DENIED
            .withDescription(
                "write to "
                    + vol
                    + " refused: "
                    + caller
                    + " claims epoch "
                    + writeEpoch
                    + " but "
                    + why
                    + " (this replica is at epoch "
                    + epoch
                    + "); reported to the control plane")
            .asRuntimeException();
      }
      case FORGED_CURRENT -> {
        String why = "the assignment of epoch " + writeEpoch + " names " + a.getPrimaryNodeId();
        violations.refused(caller, "current", writeEpoch, epoch, why + " primary");
        throw Status.PERMISSION_DENIED
            .withDescription(
                "write to "
                    + vol
                    + " refused: "
                    + caller
                    + " is not its primary at epoch "
                    + writeEpoch
                    + " ("
                    + why
                    + "); only the primary the control plane assigned may write; reported to the"
                    + " control plane")
            .asRuntimeException();
      }
      case FORGED_NEWER -> {
        String why =
            "no assignment of epoch "
                + writeEpoch
                + " reached this replica within "
                + assignmentWaitMs
                + " ms (it holds "
                + (a == null ? "none" : "epoch " + a.getEpoch())
                + ")";
        violations.refused(caller, "newer", writeEpoch, epoch, why);
        // Not "stale epoch": a legitimate new primary whose assignment is late here is not fenced,
        // it marks this replica out of sync (which the control plane rebuilds).
        throw Status.FAILED_PRECONDITION
            .withDescription(
                "write to "
                    + vol
                    + " from "
                    + caller
                    + " at epoch "
                    + writeEpoch
                    + " refused: "
                    + why
                    + "; epochs come from the control plane only (check this agent's control-plane"
                    + " session); reported to the control plane")
            .asRuntimeException();
      }
      case WAIT -> throw new IllegalStateException("undecided");
    }
  }

  /**
   * Follower: applies a forwarded write in sequence order, and acknowledges it (returns) once it is
   * durable here ({@link #applyAsync}, waited for).
   */
  public long apply(String caller, ReplicaWrite w) throws IOException {
    ListenableFuture<Long> applied = applyAsync(caller, w);
    try {
      applied.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.asRuntimeException();
    } catch (ExecutionException e) {
      // appliedPosition throws what the write failed with
    }
    return appliedPosition(applied);
  }

  /**
   * The position a completed {@link #applyAsync} answered, or what it failed with: the I/O error or
   * the status, as {@link #apply} throws them.
   */
  public static long appliedPosition(ListenableFuture<Long> applied) throws IOException {
    try {
      return Futures.getDone(applied);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException(e.getCause());
    }
  }

  /**
   * A forwarded write that arrived before an earlier one: parked here (not a thread waiting) until
   * its turn, or until {@link #ORDER_WAIT_MS} passed without it.
   */
  private record Parked(String caller, ReplicaWrite write, SettableFuture<Long> done) {}

  /** A write applied in its turn, to be acknowledged with {@code position} once durable. */
  private record InTurn(SettableFuture<Long> done, long position, long ticket) {}

  /**
   * The bytes of writes that may wait here for an earlier one (a primary forwards at most 64 MiB).
   */
  static final long MAX_PARKED_BYTES = FORWARD_BUDGET_KIB * 1024L;

  // Forwarded writes waiting for an earlier sequence, by sequence; guarded by `order`.
  private final java.util.TreeMap<Long, List<Parked>> parked = new java.util.TreeMap<>();
  private long parkedBytes;

  /** Ends the waits of parked writes whose predecessor never came (one thread for every volume). */
  private static final java.util.concurrent.ScheduledThreadPoolExecutor ORDER_TIMEOUTS =
      orderTimeouts();

  private static java.util.concurrent.ScheduledThreadPoolExecutor orderTimeouts() {
    java.util.concurrent.ScheduledThreadPoolExecutor t =
        new java.util.concurrent.ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread th = new Thread(r, "apply-order-timeout");
              th.setDaemon(true);
              return th;
            });
    t.setRemoveOnCancelPolicy(true);
    return t;
  }

  /**
   * Follower: applies a forwarded write in sequence order; the answer (the position applied) comes
   * once the write is durable here. A write that arrives before an earlier one is parked, holding
   * no thread: forwards overtake each other on the way (the data port runs calls on a bounded
   * pool), and a thread waiting for each of them would exhaust that pool while the write they wait
   * for sits in its queue. The call that applies a write applies every parked successor whose turn
   * it makes, then waits once for the group commit covering all of them: only the applies hold the
   * order, the fdatasync is awaited outside it, so later writes apply meanwhile and share it.
   */
  public ListenableFuture<Long> applyAsync(String caller, ReplicaWrite w) {
    SettableFuture<Long> done = SettableFuture.create();
    List<InTurn> inTurn = new ArrayList<>();
    try {
      admit(caller, w.getEpoch());
      synchronized (order) {
        if (outOfTurn(w.getSequence())) {
          park(caller, w, done);
          return done;
        }
        inTurn.add(applyInTurn(w, done));
        applyParked(inTurn);
      }
    } catch (IOException | RuntimeException e) {
      done.setException(e);
    }
    acknowledge(inTurn);
    return done;
  }

  /** Whether a write numbered {@code seq} must wait for an earlier one (guarded by `order`). */
  private boolean outOfTurn(long seq) {
    return attaching || (seq != applied + 1 && seq > applied && seq != 1);
  }

  private void park(String caller, ReplicaWrite w, SettableFuture<Long> done) {
    long bytes = Math.max(1, w.getData().size());
    if (parkedBytes + bytes > MAX_PARKED_BYTES) {
      throw Status.ABORTED
          .withDescription(
              "write "
                  + w.getSequence()
                  + " arrived but "
                  + (applied + 1)
                  + " never did, and "
                  + (parkedBytes >> 20)
                  + " MiB of later writes wait for it already: this replica of "
                  + replica.volumeId()
                  + " is out of sync")
          .asRuntimeException();
    }
    parked
        .computeIfAbsent(w.getSequence(), k -> new ArrayList<>(1))
        .add(new Parked(caller, w, done));
    parkedBytes += bytes;
    java.util.concurrent.ScheduledFuture<?> expiry =
        ORDER_TIMEOUTS.schedule(
            () -> expire(w.getSequence(), done), ORDER_WAIT_MS, TimeUnit.MILLISECONDS);
    done.addListener(() -> expiry.cancel(false), MoreExecutors.directExecutor());
  }

  /** A parked write whose turn did not come in time is refused: this replica missed a write. */
  private void expire(long seq, SettableFuture<Long> done) {
    synchronized (order) {
      List<Parked> at = parked.get(seq);
      Parked gone = null;
      for (Parked p : at == null ? List.<Parked>of() : at) {
        if (p.done() == done) {
          gone = p;
        }
      }
      if (gone == null) {
        return; // applied (or refused) meanwhile
      }
      at.remove(gone);
      parkedBytes -= Math.max(1, gone.write().getData().size());
      if (at.isEmpty()) {
        parked.remove(seq);
      }
    }
    done.setException(
        Status.ABORTED
            .withDescription(
                "write "
                    + seq
                    + " arrived but "
                    + (appliedSequence() + 1)
                    + " never did within "
                    + ORDER_WAIT_MS
                    + " ms: this replica of "
                    + replica.volumeId()
                    + " is out of sync")
            .asRuntimeException());
  }

  /** Applies {@code w}, whose turn it is, or answers a repeat (guarded by `order`). */
  private InTurn applyInTurn(ReplicaWrite w, SettableFuture<Long> done) throws IOException {
    if (w.getSequence() <= applied && w.getSequence() != 1) {
      // A repeat: acknowledged once what was applied is durable (its first apply may still wait).
      return new InTurn(done, applied, appliedTicket);
    }
    long ticket = applyLocally(w);
    appliedTicket = ticket;
    applied = w.getSequence();
    if (w.getEpoch() > writeEpoch) {
      writeEpoch = w.getEpoch();
    }
    if (catchUp != null) {
      keepForCatchUp(w);
    }
    order.notifyAll();
    return new InTurn(done, applied, ticket);
  }

  /** Applies the parked writes whose turn has come, in order (guarded by `order`). */
  private void applyParked(List<InTurn> inTurn) {
    while (!parked.isEmpty() && !outOfTurn(parked.firstKey())) {
      for (Parked p : parked.pollFirstEntry().getValue()) {
        parkedBytes -= Math.max(1, p.write().getData().size());
        try {
          // A newer assignment may have come while the write waited for its turn (it was admitted
          // at an epoch held then, so this does not wait).
          admit(p.caller(), p.write().getEpoch());
          inTurn.add(applyInTurn(p.write(), p.done()));
        } catch (IOException | RuntimeException e) {
          p.done().setException(e);
        }
      }
    }
  }

  /**
   * Answers the writes applied in their turn once durable: one wait for the newest ticket covers
   * all (outside the order).
   */
  private void acknowledge(List<InTurn> inTurn) {
    if (inTurn.isEmpty()) {
      return;
    }
    long newest = 0;
    for (InTurn t : inTurn) {
      newest = Math.max(newest, t.ticket());
    }
    try {
      replica.awaitDurable(newest);
    } catch (IOException e) {
      inTurn.forEach(t -> t.done().setException(e));
      return;
    }
    inTurn.forEach(t -> t.done().set(t.position()));
  }

  /** Applies the parked writes that an attach or an assignment made due, and answers them. */
  private void releaseParked() {
    List<InTurn> inTurn = new ArrayList<>();
    synchronized (order) {
      applyParked(inTurn);
    }
    acknowledge(inTurn);
  }

  /** Refuses every parked write (the replica is closing). */
  private void refuseParked(String why) {
    List<Parked> refused = new ArrayList<>();
    synchronized (order) {
      parked.values().forEach(refused::addAll);
      parked.clear();
      parkedBytes = 0;
    }
    refused.forEach(
        p -> p.done().setException(Status.UNAVAILABLE.withDescription(why).asRuntimeException()));
  }

  /** Writes {@code w} into the replica (not yet durable); its durability ticket. */
  private long applyLocally(ReplicaWrite w) throws IOException {
    if (w.getZeroLength() > 0) {
      return replica.punchAsync(w.getOffset(), w.getZeroLength());
    }
    return replica.writeAsync(w.getOffset(), w.getData().toByteArray());
  }

  /**
   * What a rebuild source that did not reach the asked write sequence in time answers ({@code
   * UNAVAILABLE}): a rebuild target reading it knows the source is behind, not unreachable.
   */
  public static final String NOT_APPLIED = "has not applied write";

  /** Waits until this replica applied {@code seq} (rebuild sources). */
  public void awaitApplied(long seq, long timeoutMs) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    synchronized (order) {
      while (Math.max(applied, lastSequence) < seq) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          throw Status.UNAVAILABLE
              .withDescription(
                  "this replica of "
                      + replica.volumeId()
                      + " "
                      + NOT_APPLIED
                      + " "
                      + seq
                      + " within "
                      + timeoutMs
                      + " ms")
              .asRuntimeException();
        }
        try {
          order.wait(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw Status.CANCELLED.asRuntimeException();
        }
      }
    }
  }

  // ---- audits ----

  /**
   * The most bytes one audit covers ({@link #audit}): the digest is computed holding the write
   * order, so the range bounds how long writes wait. Measured once on the development machine (a
   * shared, loaded 2-core VM, plain replica, page cache warm, JIT warm): a 64 MiB range holds the
   * order for 75–135 ms (240–320 ms the first time), a 16 MiB range for 16–27 ms; hence 16 MiB. The
   * control plane audits a volume in ranges of at most this size (AuditCoordinator.MAX_RANGE). An
   * encrypted replica decrypts as it hashes and holds the order longer for the same range.
   */
  public static final long MAX_AUDIT_BYTES = 16L << 20;

  /**
   * An audit answer: the HMAC of a range over this replica's state after exactly {@code sequence}
   * writes of the primary's order, at {@code epoch} (the newest this replica knows).
   */
  public record AuditAnswer(byte[] digest, long epoch, long sequence) {}

  /**
   * The audit digest of {@code [offset, offset+length)} ({@link VolumeReplica#auditDigest}) and the
   * write sequence it covers, taken together: the write order is held while the digest is computed,
   * so no write is applied (follower) or numbered (primary) meanwhile, and the state hashed is the
   * one after write {@code sequence} exactly: a follower's last applied write, the primary's last
   * numbered one (its local write happens under the order too). Two replicas answering at the same
   * epoch and sequence hold the same bytes unless one is damaged; a replica merely behind answers
   * at a lower sequence. Writes wait while this runs, for as long as the range takes to read and
   * hash: 16–27 ms for a range of {@link #MAX_AUDIT_BYTES} (16 MiB) measured here, 75–135 ms for 64
   * MiB (the replica's own lock was already held that long before the pinning, over whole volumes),
   * hence the bound.
   *
   * @throws IllegalArgumentException when the range is longer than {@link #MAX_AUDIT_BYTES}
   */
  public AuditAnswer audit(byte[] nonce, long offset, long length) throws IOException {
    if (length > MAX_AUDIT_BYTES) {
      throw new IllegalArgumentException(
          "audit range "
              + offset
              + "+"
              + length
              + " is longer than the "
              + (MAX_AUDIT_BYTES >> 20)
              + " MiB one audit may cover (writes wait while it is hashed): audit it in parts");
    }
    synchronized (order) {
      long sequence = Math.max(applied, lastSequence);
      long e = epoch;
      return new AuditAnswer(replica.auditDigest(nonce, offset, length), e, sequence);
    }
  }

  // ---- reads ----

  /**
   * Refuses a read unless this replica is in sync for the current epoch: its own state in its
   * assignment is HEALTHY, it is not being rebuilt, and either it is the primary (holding an
   * assignment applied in this process's lifetime, or confirmed by a majority of the replica set)
   * or the primary confirms it (a ReadIndex): in the primary's in-sync set at the same epoch, with
   * every write up to the primary's last one applied. Refusals are {@code UNAVAILABLE} (retry on
   * the primary or later); never old bytes.
   */
  public void checkReadable() {
    AssignReplica a = assignment;
    if (rebuild != null || catchUpActive()) {
      throw notInSync("it is being rebuilt");
    }
    if (a == null) {
      throw notInSync("it has no assignment yet");
    }
    ReplicaState own = memberState(a, ctx.nodeId());
    if (own != ReplicaState.REPLICA_STATE_HEALTHY) {
      throw notInSync(
          "its assignment at epoch "
              + a.getEpoch()
              + " counts it "
              + (own == null ? "not a member" : stateName(own)));
    }
    if (a.getPrimaryNodeId().equals(ctx.nodeId())) {
      if (fenced) {
        throw notInSync("it lost the primary role: " + fencedWhy);
      }
      String p = confirmPrimary(a);
      if (p != null) {
        throw notInSync(p);
      }
      return;
    }
    ReplicaMember primary = null;
    for (ReplicaMember m : a.getPeersList()) {
      if (m.getNodeId().equals(a.getPrimaryNodeId())) {
        primary = m;
      }
    }
    if (primary == null || primary.getAddress().isEmpty()) {
      throw notInSync("its assignment names no reachable primary");
    }
    ReadIndexResponse r = askPrimary(primary);
    String p = followerReadProblem(a, ctx.nodeId(), epoch, appliedSequence(), r);
    if (p != null && p.startsWith(BEHIND)) {
      // An EVENTUAL follower lags by a write or two: wait briefly for them.
      awaitCaughtUp(r.getCommittedSequence(), READ_CATCH_UP_MS);
      p = followerReadProblem(a, ctx.nodeId(), epoch, appliedSequence(), r);
    }
    if (p != null) {
      throw notInSync(p);
    }
  }

  /** The primary's ReadIndex answer to this follower; refuses the read when there is none. */
  private ReadIndexResponse askPrimary(ReplicaMember primary) {
    try {
      return ctx.link()
          .readIndex(
              primary,
              ReadIndexRequest.newBuilder().setVolumeId(replica.volumeId()).setEpoch(epoch).build(),
              READ_INDEX_DEADLINE_MS)
          .get(READ_INDEX_DEADLINE_MS + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      Status s =
          e instanceof TimeoutException
              ? Status.DEADLINE_EXCEEDED
              : Status.fromThrowable(e.getCause());
      throw notInSync(
          "the primary "
              + primary.getNodeId()
              + " could not confirm it: "
              + s.getCode()
              + (s.getDescription() == null ? "" : ": " + s.getDescription()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Status.CANCELLED.asRuntimeException();
    }
  }

  /** Waits up to {@code waitMs} until this replica applied write {@code need}. */
  private void awaitCaughtUp(long need, long waitMs) {
    long deadline = System.currentTimeMillis() + waitMs;
    synchronized (order) {
      while (Math.max(applied, lastSequence) < need && System.currentTimeMillis() < deadline) {
        try {
          order.wait(Math.max(1, deadline - System.currentTimeMillis()));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw Status.CANCELLED.asRuntimeException();
        }
      }
    }
  }

  private static final String BEHIND = "it has applied";

  /**
   * Null when a follower at {@code epoch} that applied writes up to {@code applied} may serve a
   * read, given its primary's ReadIndex answer {@code r}; else why not.
   */
  static String followerReadProblem(
      AssignReplica a, String self, long epoch, long applied, ReadIndexResponse r) {
    if (!r.getPrimary() || !r.getPrimaryNodeId().equals(a.getPrimaryNodeId())) {
      return a.getPrimaryNodeId()
          + " does not act as its primary"
          + (r.getPrimaryNodeId().isEmpty() || r.getPrimaryNodeId().equals(a.getPrimaryNodeId())
              ? ""
              : " (it names " + r.getPrimaryNodeId() + ")");
    }
    if (r.getEpoch() != epoch) {
      return "the primary is at epoch " + r.getEpoch() + ", this replica at " + epoch;
    }
    if (!r.getInSyncNodeIdsList().contains(self)) {
      return "the primary " + a.getPrimaryNodeId() + " counts it out of sync";
    }
    long have = Math.max(applied, r.getAckedSequence());
    if (have < r.getCommittedSequence()) {
      return BEHIND + " writes up to " + have + ", the primary up to " + r.getCommittedSequence();
    }
    return null;
  }

  /** The answer to a ReadIndex from {@code caller}: the primary's position and in-sync set. */
  public ReadIndexResponse readIndex(String caller) {
    AssignReplica a = assignment;
    ReadIndexResponse.Builder b =
        ReadIndexResponse.newBuilder()
            .setEpoch(Math.max(epoch, writeEpoch))
            .setPrimaryNodeId(a == null ? "" : a.getPrimaryNodeId());
    if (a == null
        || !isPrimary()
        || memberState(a, ctx.nodeId()) != ReplicaState.REPLICA_STATE_HEALTHY
        || confirmPrimary(a) != null) {
      return b.build();
    }
    synchronized (order) {
      b.setPrimary(true)
          .setCommittedSequence(lastSequence)
          .setAckedSequence(acked.getOrDefault(caller, 0L));
      for (ReplicaMember m : a.getPeersList()) {
        if (m.getState() == ReplicaState.REPLICA_STATE_HEALTHY
            && !outOfSync.contains(m.getNodeId())) {
          b.addInSyncNodeIds(m.getNodeId());
        }
      }
    }
    return b.build();
  }

  /**
   * Null when this primary may act on its assignment {@code a}: one applied in this process's
   * lifetime, or one a majority of its HEALTHY replicas (itself included) confirm, each answering
   * that epoch and this node as primary (asked once after a restart); else why not.
   */
  private String confirmPrimary(AssignReplica a) {
    if (assignedThisRun || confirmedThisRun) {
      return null;
    }
    List<ReplicaMember> others = new ArrayList<>();
    int members = 0;
    for (ReplicaMember m : a.getPeersList()) {
      if (m.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
        members++;
        if (!m.getNodeId().equals(ctx.nodeId())) {
          others.add(m);
        }
      }
    }
    int majority = Math.max(members, 1) / 2 + 1;
    List<ListenableFuture<ReadIndexResponse>> asks = new ArrayList<>();
    for (ReplicaMember m : others) {
      asks.add(
          ctx.link()
              .readIndex(
                  m,
                  ReadIndexRequest.newBuilder()
                      .setVolumeId(replica.volumeId())
                      .setEpoch(a.getEpoch())
                      .build(),
                  READ_INDEX_DEADLINE_MS));
    }
    int confirmed = 1;
    String newer = null;
    for (int i = 0; i < asks.size(); i++) {
      try {
        ReadIndexResponse r = asks.get(i).get(READ_INDEX_DEADLINE_MS + 1000, TimeUnit.MILLISECONDS);
        if (r.getEpoch() == a.getEpoch() && r.getPrimaryNodeId().equals(ctx.nodeId())) {
          confirmed++;
        } else if (r.getEpoch() > a.getEpoch()) {
          newer = others.get(i).getNodeId() + " is at epoch " + r.getEpoch();
        }
      } catch (ExecutionException | TimeoutException e) {
        // Not confirmed by that replica.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.asRuntimeException();
      }
    }
    if (newer == null && confirmed >= majority) {
      confirmedThisRun = true;
      return null;
    }
    return "this agent restarted and its primary role at epoch "
        + a.getEpoch()
        + " is not confirmed ("
        + (newer != null ? newer : confirmed + " of " + members + " replicas agree")
        + ")";
  }

  private boolean catchUpActive() {
    synchronized (order) {
      return attaching || catchUp != null;
    }
  }

  private static String stateName(ReplicaState s) {
    return s.name().replace("REPLICA_STATE_", "");
  }

  private StatusRuntimeException notInSync(String why) {
    AssignReplica a = assignment;
    String primary = a == null ? "" : a.getPrimaryNodeId();
    return Status.UNAVAILABLE
        .withDescription(
            "replica of "
                + replica.volumeId()
                + " on "
                + ctx.nodeId()
                + " is not in sync for epoch "
                + epoch
                + " ("
                + why
                + "): read from the primary"
                + (primary.isEmpty() || primary.equals(ctx.nodeId()) ? "" : " " + primary)
                + " or retry later")
        .asRuntimeException();
  }

  // ---- rebuild target ----

  /** Bytes of forwarded writes a rebuild target keeps at most for re-applying, by default. */
  public static final long CATCH_UP_MAX_BYTES = 64L << 20;

  /**
   * A chunk a rebuild asked for: its range, the writes it includes, whether it must be asked again.
   */
  private static final class Asked {
    final long offset;
    final long end;
    final long includes;
    boolean again;

    Asked(long offset, long end, long includes) {
      this.offset = offset;
      this.end = end;
      this.includes = includes;
    }

    boolean overlaps(ReplicaWrite w) {
      return w.getOffset() < end && writeEnd(w) > offset;
    }
  }

  private static long writeEnd(ReplicaWrite w) {
    return w.getOffset() + (w.getZeroLength() > 0 ? w.getZeroLength() : w.getData().size());
  }

  void beginAttach() {
    synchronized (order) {
      attaching = true;
      resetCatchUp();
    }
  }

  void attached(long fromSequence) {
    synchronized (order) {
      attaching = false;
      applied = fromSequence;
      resetCatchUp();
      order.notifyAll();
    }
    releaseParked();
  }

  private void resetCatchUp() {
    catchUp = new ArrayList<>();
    catchUpBytes = 0;
    catchUpPeak = 0;
    inFlight.clear();
  }

  /** The bytes of forwarded writes this rebuild keeps now. */
  public long catchUpBytes() {
    synchronized (order) {
      return catchUpBytes;
    }
  }

  /** The most bytes of forwarded writes this rebuild kept at once. */
  public long catchUpPeakBytes() {
    synchronized (order) {
      return catchUpPeak;
    }
  }

  /** The bound on the bytes of forwarded writes a rebuild keeps. */
  public long catchUpMaxBytes() {
    return catchUpMaxBytes;
  }

  /** Sets the bound on the bytes of forwarded writes a rebuild keeps (the agent's setting). */
  public void catchUpMaxBytes(long bytes) {
    catchUpMaxBytes = bytes;
  }

  /**
   * A forwarded write that arrived during a rebuild (already applied here): kept only when a chunk
   * asked for before it is on its way, since storing that chunk overwrites it; a chunk asked for
   * later includes it at the source. Past {@link #CATCH_UP_MAX_BYTES} the write is not kept and the
   * chunks it overlaps are asked for again instead: memory stays bounded whatever the write load.
   */
  private void keepForCatchUp(ReplicaWrite w) {
    List<Asked> overlapped = new ArrayList<>();
    for (Asked a : inFlight.values()) {
      if (a.overlaps(w) && a.includes < w.getSequence()) {
        overlapped.add(a);
      }
    }
    if (overlapped.isEmpty()) {
      return;
    }
    long size = Math.max(1, w.getData().size());
    if (catchUpBytes + size > catchUpMaxBytes) {
      overlapped.forEach(a -> a.again = true);
      return;
    }
    catchUp.add(w);
    catchUpBytes += size;
    catchUpPeak = Math.max(catchUpPeak, catchUpBytes);
  }

  /**
   * Registers a chunk the rebuild asks the source for; returns the write sequence the answer must
   * include (every write applied here so far: the source's min_sequence), so that only writes
   * arriving after this call have to be re-applied over it.
   */
  long asking(long offset, int length) {
    synchronized (order) {
      inFlight.put(offset, new Asked(offset, offset + length, applied));
      return applied;
    }
  }

  /** The source says the chunk asked for at {@code offset} is equal here: nothing to store. */
  void equalChunk(long offset) {
    synchronized (order) {
      inFlight.remove(offset);
      pruneCatchUp();
    }
  }

  /**
   * Stores a copied chunk asked for with {@link #asking} and re-applies, in order, every forwarded
   * write kept since that overlaps it. The chunk alone is made durable by the rebuild's syncs; when
   * it overwrote writes this replica already acknowledged, they are durable again (re-applied and
   * synced) before this returns. False, storing nothing, when the chunk must be asked for again
   * (writes to it arrived beyond the catch-up bound).
   */
  boolean storeCopied(long offset, byte[] bytes, long[] entries) throws IOException {
    return storeThenReapply(offset, () -> replica.storeCopied(offset, bytes, entries));
  }

  /**
   * Stores some blocks of a copied chunk — {@code data} holds the blocks {@code indexes} (from the
   * chunk's first block, ascending) one after the other, {@code entries} their checksum entries —
   * as {@link #storeCopied}.
   */
  boolean storeCopiedBlocks(
      long chunkOffset, int chunkLength, List<Integer> indexes, byte[] data, long[] entries)
      throws IOException {
    int block = VolumeReplica.BLOCK;
    int blocks = (chunkLength + block - 1) / block;
    long expected = 0;
    for (int k = 0; k < indexes.size(); k++) {
      int b = indexes.get(k);
      if (b < 0 || b >= blocks || (k > 0 && b <= indexes.get(k - 1))) {
        throw new IOException(
            "copied blocks of the chunk at " + chunkOffset + " are not ascending block indexes");
      }
      expected += Math.min(block, chunkLength - (long) b * block);
    }
    if (expected != data.length || entries.length != indexes.size()) {
      throw new IOException(
          "copied blocks of the chunk at " + chunkOffset + " do not match their indexes");
    }
    return storeThenReapply(
        chunkOffset,
        () -> {
          int pos = 0;
          for (int i = 0; i < indexes.size(); ) {
            int j = i;
            while (j + 1 < indexes.size() && indexes.get(j + 1) == indexes.get(j) + 1) {
              j++;
            }
            long runOffset = chunkOffset + (long) indexes.get(i) * block;
            int runLength =
                (int) Math.min((long) (j - i + 1) * block, chunkOffset + chunkLength - runOffset);
            replica.storeCopied(
                runOffset,
                Arrays.copyOfRange(data, pos, pos + runLength),
                Arrays.copyOfRange(entries, i, j + 1));
            pos += runLength;
            i = j + 1;
          }
        });
  }

  private interface Store {
    void run() throws IOException;
  }

  private boolean storeThenReapply(long offset, Store store) throws IOException {
    long reapplied = 0;
    synchronized (order) {
      Asked asked = inFlight.remove(offset);
      if (asked == null) {
        throw new IOException("the chunk at " + offset + " was not asked for by this rebuild");
      }
      if (asked.again) {
        pruneCatchUp();
        return false;
      }
      store.run();
      for (ReplicaWrite w : catchUp == null ? List.<ReplicaWrite>of() : catchUp) {
        if (w.getSequence() > asked.includes && asked.overlaps(w)) {
          reapplied = applyLocally(w);
        }
      }
      if (reapplied > 0) {
        appliedTicket = Math.max(appliedTicket, reapplied); // a repeat waits for these too
      }
      pruneCatchUp();
    }
    if (reapplied > 0) {
      replica.awaitDurable(reapplied);
    }
    return true;
  }

  /** Drops the kept writes no chunk on its way needs any more (guarded by {@code order}). */
  private void pruneCatchUp() {
    if (catchUp == null || catchUp.isEmpty()) {
      return;
    }
    catchUp.removeIf(
        w -> {
          for (Asked a : inFlight.values()) {
            if (w.getSequence() > a.includes && a.overlaps(w)) {
              return false;
            }
          }
          catchUpBytes -= Math.max(1, w.getData().size());
          return true;
        });
  }

  void endRebuild(boolean ok) {
    synchronized (order) {
      attaching = false;
      catchUp = null;
      catchUpBytes = 0;
      inFlight.clear();
      order.notifyAll();
    }
    releaseParked();
  }

  @Override
  public void close() {
    Rebuilder r = rebuild;
    if (r != null) {
      r.cancel();
    }
    refuseParked("the replica of " + replica.volumeId() + " is closing");
    replica.close();
  }

  /** True when {@code namespace} may read ({@code write=false}) or write the volume. */
  public static String accessProblem(AssignReplica a, String namespace, boolean write) {
    if (a == null) {
      return "the replica has no assignment yet (namespace unknown): retry shortly";
    }
    if (a.getNamespace().equals(namespace)) {
      return null;
    }
    for (AccessGrant g : a.getGrantsList()) {
      if (g.getNamespace().equals(namespace)) {
        if (write && g.getReadOnly()) {
          return "namespace "
              + namespace
              + " has a read-only share of "
              + a.getVolumeId()
              + " (owned by "
              + a.getNamespace()
              + "): writes are refused";
        }
        return null;
      }
    }
    return "namespace "
        + namespace
        + " has no access to "
        + a.getVolumeId()
        + " (owned by "
        + a.getNamespace()
        + ", not shared with it)";
  }

  /**
   * Null when the agent of {@code nodeId} may read ({@code write=false}) or write the volume
   * through its block frontend: it is listed in the assignment's attachments, read-write for a
   * write. Else why not (a detached or fenced node is no longer listed).
   */
  public static String attachmentProblem(AssignReplica a, String nodeId, boolean write) {
    if (a == null) {
      return "the replica has no assignment yet (attachments unknown): retry shortly";
    }
    for (io.mycnet.storage.api.v1.Attachment at : a.getAttachmentsList()) {
      if (at.getNodeId().equals(nodeId)) {
        if (write && at.getReadOnly()) {
          return "node "
              + nodeId
              + " has a read-only attachment of "
              + a.getVolumeId()
              + ": writes are refused";
        }
        return null;
      }
    }
    return "node "
        + nodeId
        + " is not attached to "
        + a.getVolumeId()
        + " at epoch "
        + a.getEpoch()
        + " (detached, or fenced): its block frontend may not use the volume";
  }

  public static StatusRuntimeException notFound(String volumeId) {
    return Status.NOT_FOUND
        .withDescription("no replica of volume " + volumeId + " on this node")
        .asRuntimeException();
  }
}
