package io.mycnet.storage.operator.replication;

import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.NotLeaderException;
import io.mycnet.storage.operator.store.StoreWatch;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the {@link ReplicationManager} while this control plane leads: a pass every {@code
 * interval}, and an extra pass as soon as something it watches happens — a node's liveness lease
 * appears or expires (and, for a lease that expired, once the handover's settle time and once its
 * grace period are over, so that a node is DOWN when its grace ends, not at the next interval), the
 * trust engine reports a tier transition ({@link #tierChanged}), a replica fails an audit ({@link
 * #auditFailed}), or a rebuild completes (its rebuild slots are free for one a pass deferred); and
 * one when a replica marked STALE moments ago has waited its lease (a pass defers it while its node
 * may still turn out dead). Passes never overlap; triggers during a pass are coalesced into one
 * more pass.
 *
 * <p>{@link #close} is the first step of a planned shutdown: from then on no pass starts and no
 * decision is taken (a pass under way finishes), so the sessions, watches and leases that end while
 * the process stops are never read as failed nodes.
 */
public final class ReplicationLoop implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicationLoop.class);

  private final ReplicationManager manager;
  private final NodeRegistry registry;
  private final BooleanSupplier isLeader;
  private final Duration interval;
  private final ScheduledExecutorService executor;
  private final AtomicBoolean pending = new AtomicBoolean();
  private final AtomicBoolean stopped = new AtomicBoolean();
  private StoreWatch livenessWatch;
  private volatile Runnable alsoEachPass = () -> {};

  /** Runs {@code task} after every pass while leading (e.g. re-placing refused creates). */
  public void alsoEachPass(Runnable task) {
    this.alsoEachPass = task;
  }

  public ReplicationLoop(
      ReplicationManager manager,
      NodeRegistry registry,
      BooleanSupplier isLeader,
      Duration interval) {
    this.manager = manager;
    this.registry = registry;
    this.isLeader = isLeader;
    this.interval = interval;
    ScheduledThreadPoolExecutor e =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "replication-loop");
              t.setDaemon(true);
              return t;
            });
    // Passes scheduled for later (a settle time, a grace) are dropped at close: a pass under way
    // finishes, nothing waits for a timer.
    e.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    e.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
    this.executor = e;
  }

  public void start() {
    // A replica marked STALE (its primary reports missed writes): the pass that defers it while its
    // node may turn out dead, and the one that decides once the lease had time to lapse.
    manager.addObserver(
        new ReplicationManager.Observer() {
          @Override
          public void replicaMarkedStale(String volumeId, String nodeId) {
            trigger();
            long window = manager.settleWindowMillis();
            if (window > 0) {
              later(window + 200);
            }
          }

          @Override
          public void rebuildCompleted(String volumeId, String nodeId) {
            // Rebuild slots freed: a rebuild deferred for them starts now, not at the interval.
            trigger();
          }
        });
    livenessWatch =
        registry.watchLiveness(
            (node, live) -> {
              trigger();
              // The pass that may hand a silent node's primaries over once the silence has settled
              // (a node lost; or others back, which may end a suspected partition).
              long settle = manager.settings().handoverSettle().toMillis();
              if (settle > 0) {
                later(settle + 1000);
              }
              if (!live) {
                // The pass that marks it DOWN once its grace is over (not at the next interval).
                long grace = manager.settings().downGracePeriod().toMillis();
                later(grace + 1000);
                // A new leader's reconnect window delays the grace: the pass after both.
                later(manager.settings().reconnectWindow().toMillis() + grace + 1000);
              }
            });
    executor.scheduleWithFixedDelay(
        this::pass, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Asks for a pass in {@code millis}. */
  private void later(long millis) {
    try {
      executor.schedule(this::trigger, millis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed meanwhile: no more passes
    }
  }

  /** Asks for a pass as soon as possible. */
  public void trigger() {
    if (stopped.get()) {
      return;
    }
    if (pending.compareAndSet(false, true)) {
      try {
        executor.execute(this::pass);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // closed meanwhile: no more passes
      }
    }
  }

  /** The trust engine moved a node to another tier: re-check what it may hold. */
  public void tierChanged(String nodeId) {
    trigger();
  }

  /** A replica failed an integrity audit: mark it stale and replace it. */
  public void auditFailed(String volumeId, String nodeId) {
    if (stopped.get()) {
      return;
    }
    try {
      executor.execute(
          () -> {
            try {
              if (!stopped.get() && isLeader.getAsBoolean()) {
                manager.replicaFailedAudit(volumeId, nodeId);
              }
            } catch (RuntimeException e) {
              LOG.warn("marking {} on {} stale failed: {}", volumeId, nodeId, e.getMessage());
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      return;
    }
    trigger();
  }

  private void pass() {
    pending.set(false);
    if (stopped.get() || !isLeader.getAsBoolean()) {
      manager.standBy();
      return;
    }
    try {
      ReplicationManager.Pass p = manager.reconcile();
      if (p.rebuildsDeferred().stream().anyMatch(d -> d.contains(": deferred: settling: "))) {
        // A freshly marked replica waits one lease: the pass that decides comes right after.
        later(manager.settleWindowMillis() + 200);
      }
      alsoEachPass.run();
    } catch (NotLeaderException e) {
      LOG.info("replication pass skipped: {}", e.getMessage());
    } catch (RuntimeException e) {
      LOG.warn("replication pass failed, retrying on the next one: {}", e.getMessage());
    }
  }

  /** Whether {@link #close} was called: no decision is taken any more. */
  public boolean stopped() {
    return stopped.get();
  }

  /**
   * Stops taking decisions: no new pass starts, a pass under way may finish (up to 10 s), then the
   * liveness watch and the thread end. Idempotent; a planned shutdown calls it before anything else
   * is closed.
   */
  @Override
  public void close() {
    if (!stopped.compareAndSet(false, true)) {
      return;
    }
    executor.shutdown();
    try {
      if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
    if (livenessWatch != null) {
      livenessWatch.close();
    }
  }
}
