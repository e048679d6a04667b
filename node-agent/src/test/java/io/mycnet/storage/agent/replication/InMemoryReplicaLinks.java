package io.mycnet.storage.agent.replication;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaAck;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Replicas of one JVM connected by {@link ReplicaLink}s: a call runs the peer's {@link
 * ReplicatedVolume} method on a thread of its own (as the peer's data port would), with the caller
 * named by the link. A test may delay calls to a node, drop them (no answer: the caller's deadline
 * passes), fail them with a status, or cut two nodes apart.
 */
final class InMemoryReplicaLinks implements AutoCloseable {
  private final Map<String, ReplicatedVolume> nodes = new ConcurrentHashMap<>();
  private final Map<String, Long> delayMs = new ConcurrentHashMap<>();
  private final Set<String> dropped = ConcurrentHashMap.newKeySet();
  private final Map<String, Status> failing = new ConcurrentHashMap<>();
  private final Set<String> cut = ConcurrentHashMap.newKeySet();
  private final Map<String, java.util.List<Runnable>> held = new ConcurrentHashMap<>();
  private final AtomicInteger applyCalls = new AtomicInteger();
  private final ExecutorService calls = Executors.newCachedThreadPool();
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  /** Makes {@code v} reachable as {@code nodeId}. */
  void register(String nodeId, ReplicatedVolume v) {
    nodes.put(nodeId, v);
  }

  /** The link {@code nodeId} calls its peers over. */
  ReplicaLink from(String nodeId) {
    return new ReplicaLink() {
      @Override
      public ListenableFuture<ReplicaAck> apply(ReplicaMember to, ReplicaWrite w, long deadlineMs) {
        applyCalls.incrementAndGet();
        return call(
            nodeId,
            to.getNodeId(),
            deadlineMs,
            v -> ReplicaAck.newBuilder().setAppliedSequence(v.apply(nodeId, w)).build());
      }

      @Override
      public ListenableFuture<ReadIndexResponse> readIndex(
          ReplicaMember to, ReadIndexRequest r, long deadlineMs) {
        return call(nodeId, to.getNodeId(), deadlineMs, v -> v.readIndex(nodeId));
      }
    };
  }

  /** Calls to {@code nodeId} are answered {@code ms} later. */
  void delay(String nodeId, long ms) {
    delayMs.put(nodeId, ms);
  }

  /** Calls to {@code nodeId} get no answer: they fail with DEADLINE_EXCEEDED at the deadline. */
  void drop(String nodeId) {
    dropped.add(nodeId);
  }

  /** Calls to {@code nodeId} fail with {@code s} (the peer ran none of it). */
  void fail(String nodeId, Status s) {
    failing.put(nodeId, s);
  }

  /** No call between {@code a} and {@code b} reaches the other: UNAVAILABLE. */
  void partition(String a, String b) {
    cut.add(a + "|" + b);
    cut.add(b + "|" + a);
  }

  /** Calls to {@code nodeId} wait (their deadlines running) until {@link #release}. */
  void hold(String nodeId) {
    held.putIfAbsent(nodeId, new java.util.ArrayList<>());
  }

  /** Runs the calls held for {@code nodeId}, the newest first, and lets new ones through. */
  void release(String nodeId) {
    java.util.List<Runnable> q = held.remove(nodeId);
    if (q != null) {
      synchronized (q) {
        for (int i = q.size() - 1; i >= 0; i--) {
          q.get(i).run();
        }
      }
    }
  }

  /** Lifts every delay, drop, failure and partition. */
  void heal() {
    delayMs.clear();
    dropped.clear();
    failing.clear();
    cut.clear();
  }

  /** How many writes were forwarded over these links. */
  int applyCalls() {
    return applyCalls.get();
  }

  interface PeerCall<T> {
    T on(ReplicatedVolume peer) throws Exception;
  }

  private <T> ListenableFuture<T> call(String from, String to, long deadlineMs, PeerCall<T> c) {
    SettableFuture<T> f = SettableFuture.create();
    timers.schedule(
        () ->
            f.setException(
                Status.DEADLINE_EXCEEDED
                    .withDescription("no answer from " + to + " within " + deadlineMs + " ms")
                    .asRuntimeException()),
        deadlineMs,
        TimeUnit.MILLISECONDS);
    if (dropped.contains(to)) {
      return f;
    }
    Status failure = failing.get(to);
    if (failure == null && cut.contains(from + "|" + to)) {
      failure = Status.UNAVAILABLE.withDescription(from + " cannot reach " + to);
    }
    ReplicatedVolume peer = nodes.get(to);
    if (failure == null && peer == null) {
      failure = Status.UNAVAILABLE.withDescription("no node " + to);
    }
    if (failure != null) {
      f.setException(failure.asRuntimeException());
      return f;
    }
    long delay = delayMs.getOrDefault(to, 0L);
    Callable<Void> run =
        () -> {
          try {
            f.set(c.on(peer));
          } catch (StatusRuntimeException e) {
            f.setException(e);
          } catch (Exception e) {
            f.setException(
                Status.INTERNAL.withDescription(e.toString()).withCause(e).asRuntimeException());
          }
          return null;
        };
    java.util.List<Runnable> q = held.get(to);
    if (q != null) {
      synchronized (q) {
        if (held.get(to) == q) {
          q.add(() -> calls.submit(run));
          return f;
        }
      }
    }
    if (delay > 0) {
      timers.schedule(() -> calls.submit(run), delay, TimeUnit.MILLISECONDS);
    } else {
      calls.submit(run);
    }
    return f;
  }

  @Override
  public void close() {
    calls.shutdownNow();
    timers.shutdownNow();
  }
}
