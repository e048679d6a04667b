package io.mycnet.storage.operator.election;

import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader election on etcd with a lease-based lock: the leader holds {@code leader}, attached to its
 * lease, and renews the lease every third of its TTL. The key's create revision names the
 * leadership term and fences every transaction the leader's {@link EtcdStore} commits, so a leader
 * that lost its lease (paused, partitioned) cannot write any more even before it notices: its
 * fenced transactions fail, and it steps down.
 *
 * <p>Until it is elected, and after it is deposed, the store carries a not-leader fence: nothing
 * this control plane writes through it lands.
 */
public final class LeaderElection implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderElection.class);

  /** Told when this process gains or loses leadership. */
  public interface Listener {
    void elected(long term);

    void deposed(long term);
  }

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final String identity;
  private final Duration ttl;
  private final Listener listener;
  private final AtomicBoolean running = new AtomicBoolean();
  private volatile long term;
  private volatile long lease;
  private Thread thread;

  public LeaderElection(
      EtcdStore store, EtcdKeys keys, String identity, Duration ttl, Listener listener) {
    if (ttl.toSeconds() < 1) {
      throw new IllegalArgumentException("leader lease TTL must be at least 1 s, was " + ttl);
    }
    this.store = store;
    this.keys = keys;
    this.identity = identity;
    this.ttl = ttl;
    this.listener = listener;
    store.fence(EtcdStore.Fence.notLeader(keys.leader()));
  }

  /** Starts campaigning in a background thread. */
  public synchronized void start() {
    if (running.getAndSet(true)) {
      return;
    }
    thread = new Thread(this::run, "leader-election-" + identity);
    thread.setDaemon(true);
    thread.start();
  }

  public boolean isLeader() {
    return term > 0;
  }

  /** The current term (the leader key's create revision) while leader, else 0. */
  public long term() {
    return term;
  }

  /** Who holds leadership now, as etcd says. */
  public String currentLeader() {
    return store.getString(keys.leader()).orElse("");
  }

  private void run() {
    long pause = ttl.toMillis() / 3;
    while (running.get()) {
      try {
        if (term == 0) {
          campaign();
        } else if (!store.keepAliveOnce(lease)
            || store.getVersionedString(keys.leader()).createRevision() != term) {
          stepDown("lease lost");
        }
      } catch (RuntimeException e) {
        if (term != 0) {
          // Can't reach etcd: we can't prove leadership, and the fence already stops our writes.
          LOG.warn("leader {} cannot renew its lease: {}", identity, e.getMessage());
        } else {
          LOG.debug("campaign of {} failed: {}", identity, e.getMessage());
        }
      }
      sleep(pause);
    }
  }

  private void campaign() {
    if (store.getVersionedString(keys.leader()).exists()) {
      return;
    }
    long l = store.grantLease(ttl.toSeconds());
    boolean won =
        store
            .unfencedTxn()
            .requireAbsent(keys.leader())
            .putWithLease(keys.leader(), identity, l)
            .commit();
    if (!won) {
      store.revokeLease(l);
      return;
    }
    Versioned<String> key = store.getVersionedString(keys.leader());
    if (!identity.equals(key.value())) {
      return;
    }
    lease = l;
    term = key.createRevision();
    store.fence(new EtcdStore.Fence(keys.leader(), term));
    LOG.info("{} is the leader (term {})", identity, term);
    listener.elected(term);
  }

  private void stepDown(String why) {
    long old = term;
    term = 0;
    store.fence(EtcdStore.Fence.notLeader(keys.leader()));
    LOG.warn("{} is no longer the leader (term {}): {}", identity, old, why);
    listener.deposed(old);
  }

  /** Stops campaigning and, when leader, gives leadership up at once (revokes the lease). */
  @Override
  public void close() {
    running.set(false);
    Thread t = thread;
    if (t != null) {
      t.interrupt();
      try {
        t.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (term != 0) {
      long l = lease;
      stepDown("closed");
      try {
        store.revokeLease(l);
      } catch (RuntimeException e) {
        LOG.warn("could not revoke the leader lease: {}", e.getMessage());
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
