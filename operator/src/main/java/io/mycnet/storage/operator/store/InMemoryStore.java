package io.mycnet.storage.operator.store;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A {@link KeyValueStore} held in memory with the etcd semantics the control plane relies on, for
 * unit tests that must not start etcd:
 *
 * <ul>
 *   <li>one store-wide revision counter; create revision, mod revision and version per key; a
 *       transaction's guards are evaluated atomically with its writes, which share one revision;
 *   <li>leases with a TTL measured on an injectable {@link Clock}; an expired lease deletes its
 *       keys (one revision) and the watches see delete events. Expiry is checked on every call and
 *       by a sweeper every {@value #SWEEP_MILLIS} ms, so a test that moves its clock sees the keys
 *       go without further calls;
 *   <li>prefix watches delivered in revision order on one event thread of their own; a watch from a
 *       past revision replays the retained history, or fails as etcd does when that revision was
 *       compacted ({@link #compact}, or the history outgrew its bound);
 *   <li>the leadership {@link Fence} with the same {@link NotLeaderException};
 *   <li>an outage switch ({@link #outage(boolean)}): while on, every call throws {@link
 *       StoreUnavailableException} as an unreachable etcd does.
 * </ul>
 *
 * <p>It is one store shared by everyone holding it, as one etcd cluster is; {@link #close} stops
 * its event thread.
 */
public final class InMemoryStore implements KeyValueStore, AutoCloseable {
  static final long SWEEP_MILLIS = 50;
  private static final int DEFAULT_HISTORY = 100_000;

  private record Entry(
      byte[] value, long createRevision, long modRevision, long version, long lease) {}

  private static final class Lease {
    final long ttlSeconds;
    Instant expiresAt;
    final Set<String> keys = new LinkedHashSet<>();

    Lease(long ttlSeconds, Instant expiresAt) {
      this.ttlSeconds = ttlSeconds;
      this.expiresAt = expiresAt;
    }
  }

  /** The scalars every client of one store shares. */
  private static final class Counters {
    long revision = 1;
    long compacted = 0;
    long nextLease = 0x1000;
    volatile boolean outage;
  }

  private final Object lock;
  private final Clock clock;
  private final int historyLimit;
  private final TreeMap<String, Entry> data;
  private final Map<Long, Lease> leases;
  private final Deque<StoreEvent> history;
  private final List<Watcher> watchers;
  private final ScheduledExecutorService events;
  private final Counters c;

  private volatile Fence fence;

  /** A store on the system clock. */
  public InMemoryStore() {
    this(Clock.systemUTC());
  }

  /** A store whose leases expire by {@code clock}. */
  public InMemoryStore(Clock clock) {
    this(clock, DEFAULT_HISTORY);
  }

  /** A store that retains at most {@code historyLimit} events for watches from a past revision. */
  public InMemoryStore(Clock clock, int historyLimit) {
    if (historyLimit < 1) {
      throw new IllegalArgumentException("history limit must be positive, was " + historyLimit);
    }
    this.lock = new Object();
    this.c = new Counters();
    this.data = new TreeMap<>();
    this.leases = new HashMap<>();
    this.history = new ArrayDeque<>();
    this.watchers = new CopyOnWriteArrayList<>();
    this.clock = clock;
    this.historyLimit = historyLimit;
    this.events =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "in-memory-store-events");
              t.setDaemon(true);
              return t;
            });
    events.scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** Another client of the same store, as a second etcd client: same data, a fence of its own. */
  private InMemoryStore(InMemoryStore shared) {
    this.lock = shared.lock;
    this.c = shared.c;
    this.data = shared.data;
    this.leases = shared.leases;
    this.history = shared.history;
    this.watchers = shared.watchers;
    this.clock = shared.clock;
    this.historyLimit = shared.historyLimit;
    this.events = shared.events;
  }

  /**
   * A second client of this store (for a second control plane in a test): it sees the same keys,
   * leases and watches, and carries a fence of its own.
   */
  public InMemoryStore connect() {
    return new InMemoryStore(this);
  }

  /** Switches the simulated outage on or off: while on, every call fails as etcd unreachable. */
  public void outage(boolean on) {
    c.outage = on;
  }

  /** The current store revision. */
  public long revision() {
    synchronized (lock) {
      return c.revision;
    }
  }

  /** Drops the history before {@code atRevision}, as etcd's compaction does. */
  public void compact(long atRevision) {
    synchronized (lock) {
      if (atRevision > c.revision) {
        throw new IllegalArgumentException(
            "cannot compact at " + atRevision + ", beyond the current revision " + c.revision);
      }
      c.compacted = Math.max(c.compacted, atRevision);
      while (!history.isEmpty() && history.peekFirst().revision() < c.compacted) {
        history.removeFirst();
      }
    }
  }

  /** Stops the store's event thread, for every client of it. */
  @Override
  public void close() {
    watchers.forEach(Watcher::close);
    events.shutdownNow();
  }

  @Override
  public void fence(Fence fence) {
    this.fence = fence;
  }

  @Override
  public Fence fence() {
    return fence;
  }

  // ---- reads

  @Override
  public <T extends Message> Versioned<T> get(String key, Parser<T> parser) {
    return KeyValueStore.parse(raw(key), parser);
  }

  @Override
  public <T extends Message> List<Versioned<T>> getAll(List<String> keys, Parser<T> parser) {
    List<Versioned<T>> out = new ArrayList<>(keys.size());
    for (Versioned<byte[]> r : getAllRaw(keys)) {
      out.add(KeyValueStore.parse(r, parser));
    }
    return out;
  }

  @Override
  public List<Versioned<byte[]>> getAllRaw(List<String> keys) {
    synchronized (lock) {
      enter();
      List<Versioned<byte[]>> out = new ArrayList<>(keys.size());
      for (String k : keys) {
        out.add(versioned(k, data.get(k)));
      }
      return out;
    }
  }

  @Override
  public <T extends Message> List<Versioned<T>> list(String prefix, Parser<T> parser) {
    return listWithRevision(prefix, parser).values();
  }

  @Override
  public List<List<Versioned<byte[]>>> listAllRaw(List<String> prefixes) {
    synchronized (lock) {
      enter();
      List<List<Versioned<byte[]>>> out = new ArrayList<>(prefixes.size());
      for (String p : prefixes) {
        out.add(rawUnder(p));
      }
      return out;
    }
  }

  @Override
  public <T extends Message> Listing<T> listWithRevision(String prefix, Parser<T> parser) {
    List<Versioned<byte[]>> raw;
    long at;
    synchronized (lock) {
      enter();
      raw = rawUnder(prefix);
      at = c.revision;
    }
    List<Versioned<T>> out = new ArrayList<>(raw.size());
    for (Versioned<byte[]> r : raw) {
      out.add(KeyValueStore.parse(r, parser));
    }
    return new Listing<>(out, at);
  }

  @Override
  public List<String> keys(String prefix) {
    synchronized (lock) {
      enter();
      return new ArrayList<>(under(prefix).keySet());
    }
  }

  @Override
  public Optional<String> getString(String key) {
    Versioned<String> v = getVersionedString(key);
    return v.exists() ? Optional.of(v.value()) : Optional.empty();
  }

  @Override
  public Versioned<String> getVersionedString(String key) {
    Versioned<byte[]> r = raw(key);
    if (!r.exists()) {
      return Versioned.absent(key);
    }
    return new Versioned<>(
        key, new String(r.value(), StandardCharsets.UTF_8), r.modRevision(), r.createRevision());
  }

  @Override
  public long leaseOf(String key) {
    synchronized (lock) {
      enter();
      Entry e = data.get(key);
      return e == null ? 0 : e.lease();
    }
  }

  // ---- leases

  @Override
  public long grantLease(long ttlSeconds) {
    if (ttlSeconds < 1) {
      throw new IllegalArgumentException("lease TTL must be at least 1 s, was " + ttlSeconds);
    }
    synchronized (lock) {
      enter();
      long id = c.nextLease++;
      leases.put(id, new Lease(ttlSeconds, clock.instant().plusSeconds(ttlSeconds)));
      return id;
    }
  }

  @Override
  public boolean keepAliveOnce(long leaseId) {
    synchronized (lock) {
      enter();
      Lease l = leases.get(leaseId);
      if (l == null) {
        return false;
      }
      l.expiresAt = clock.instant().plusSeconds(l.ttlSeconds);
      return true;
    }
  }

  @Override
  public void revokeLease(long leaseId) {
    synchronized (lock) {
      enter();
      Lease l = leases.remove(leaseId);
      if (l != null) {
        dropLeaseKeys(l);
      }
    }
  }

  @Override
  public void putWithLease(String key, String value, long leaseId) {
    txnOf(false).putWithLease(key, value, leaseId).commit();
  }

  // ---- transactions

  @Override
  public Txn txn() {
    return txnOf(true);
  }

  @Override
  public Txn unfencedTxn() {
    return txnOf(false);
  }

  private Txn txnOf(boolean fenced) {
    return new MemoryTxn(fenced);
  }

  private record Guard(String key, long modRevision) {}

  private record Write(String key, byte[] value, long lease) {
    boolean isDelete() {
      return value == null;
    }
  }

  private final class MemoryTxn implements Txn {
    private final boolean fenced;
    private final List<Guard> guards = new ArrayList<>();
    private final List<Write> writes = new ArrayList<>();

    MemoryTxn(boolean fenced) {
      this.fenced = fenced;
    }

    @Override
    public Txn requireModRevision(String key, long modRevision) {
      guards.add(new Guard(key, modRevision));
      return this;
    }

    @Override
    public Txn put(String key, Message value) {
      writes.add(new Write(key, value.toByteArray(), 0));
      return this;
    }

    @Override
    public Txn putString(String key, String value) {
      writes.add(new Write(key, value.getBytes(StandardCharsets.UTF_8), 0));
      return this;
    }

    @Override
    public Txn putWithLease(String key, String value, long leaseId) {
      writes.add(new Write(key, value.getBytes(StandardCharsets.UTF_8), leaseId));
      return this;
    }

    @Override
    public Txn delete(String key) {
      writes.add(new Write(key, null, 0));
      return this;
    }

    @Override
    public boolean isEmpty() {
      return writes.isEmpty();
    }

    @Override
    public boolean commit() {
      Fence f = fenced ? fence : null;
      if (f != null && f.isNotLeader()) {
        throw new NotLeaderException("this control plane is not the leader; its writes are fenced");
      }
      synchronized (lock) {
        enter();
        if (f != null) {
          Entry leader = data.get(f.key());
          if (leader == null || leader.createRevision() != f.createRevision()) {
            throw new NotLeaderException(
                "leadership was lost (the leader key changed); this control plane stops writing");
          }
        }
        for (Guard g : guards) {
          Entry e = data.get(g.key());
          boolean holds =
              g.modRevision() == 0 ? e == null : e != null && e.modRevision() == g.modRevision();
          if (!holds) {
            return false;
          }
        }
        for (Write w : writes) {
          if (w.lease() != 0 && !leases.containsKey(w.lease())) {
            throw new StoreUnavailableException(
                "store put " + w.key() + " failed: requested lease not found", null);
          }
        }
        apply(writes);
        return true;
      }
    }
  }

  // ---- watches

  @Override
  public StoreWatch watchPrefix(String prefix, Consumer<StoreEvent> onEvent) {
    synchronized (lock) {
      enter();
      return register(prefix, c.revision + 1, onEvent, e -> {});
    }
  }

  @Override
  public StoreWatch watchPrefixFrom(
      String prefix, long fromRevision, Consumer<StoreEvent> onEvent, Consumer<Throwable> onError) {
    synchronized (lock) {
      enter();
      if (fromRevision <= 0) {
        return register(prefix, c.revision + 1, onEvent, onError);
      }
      if (fromRevision < c.compacted) {
        Watcher w = new Watcher(prefix, fromRevision, onEvent, onError);
        long at = c.compacted;
        events.execute(
            () ->
                w.fail(
                    new StoreUnavailableException(
                        "watch from revision "
                            + fromRevision
                            + " failed: required revision has been compacted (compacted at "
                            + at
                            + ")",
                        null)));
        return w;
      }
      Watcher w = register(prefix, fromRevision, onEvent, onError);
      for (StoreEvent e : history) {
        if (e.revision() >= fromRevision && e.key().startsWith(prefix)) {
          events.execute(() -> w.deliver(e));
        }
      }
      return w;
    }
  }

  private Watcher register(
      String prefix, long from, Consumer<StoreEvent> onEvent, Consumer<Throwable> onError) {
    Watcher w = new Watcher(prefix, from, onEvent, onError);
    watchers.add(w);
    return w;
  }

  private final class Watcher implements StoreWatch {
    final String prefix;
    final long from;
    final Consumer<StoreEvent> onEvent;
    final Consumer<Throwable> onError;
    volatile boolean closed;

    Watcher(String prefix, long from, Consumer<StoreEvent> onEvent, Consumer<Throwable> onError) {
      this.prefix = prefix;
      this.from = from;
      this.onEvent = onEvent;
      this.onError = onError;
    }

    void deliver(StoreEvent e) {
      if (!closed && e.revision() >= from) {
        onEvent.accept(e);
      }
    }

    void fail(Throwable t) {
      if (!closed) {
        closed = true;
        watchers.remove(this);
        onError.accept(t);
      }
    }

    @Override
    public void close() {
      closed = true;
      watchers.remove(this);
    }
  }

  // ---- internals; every method below runs holding the lock

  /** Fails during an outage and lets expired leases go first, as etcd would have. */
  private void enter() {
    if (c.outage) {
      throw new StoreUnavailableException("store unavailable (simulated outage)", null);
    }
    expireLeases();
  }

  private void sweep() {
    try {
      synchronized (lock) {
        if (!c.outage) {
          expireLeases();
        }
      }
    } catch (RuntimeException e) {
      // the sweeper must keep running; the next call sees the same state
    }
  }

  private void expireLeases() {
    Instant now = clock.instant();
    List<Long> expired = new ArrayList<>();
    for (Map.Entry<Long, Lease> l : leases.entrySet()) {
      if (!now.isBefore(l.getValue().expiresAt)) {
        expired.add(l.getKey());
      }
    }
    for (long id : expired) {
      dropLeaseKeys(leases.remove(id));
    }
  }

  private void dropLeaseKeys(Lease l) {
    List<Write> deletes = new ArrayList<>();
    for (String k : l.keys) {
      deletes.add(new Write(k, null, 0));
    }
    apply(deletes);
  }

  /** Applies writes at one new revision (none when nothing changes) and publishes their events. */
  private void apply(List<Write> writes) {
    long rev = c.revision + 1;
    List<StoreEvent> out = new ArrayList<>();
    for (Write w : writes) {
      Entry old = data.get(w.key());
      if (w.isDelete()) {
        if (old == null) {
          continue;
        }
        data.remove(w.key());
        detach(w.key(), old.lease());
        out.add(new StoreEvent(StoreEvent.Type.DELETE, w.key(), new byte[0], rev, 0));
      } else {
        long create = old == null ? rev : old.createRevision();
        long version = old == null ? 1 : old.version() + 1;
        if (old != null) {
          detach(w.key(), old.lease());
        }
        data.put(w.key(), new Entry(w.value().clone(), create, rev, version, w.lease()));
        if (w.lease() != 0) {
          leases.get(w.lease()).keys.add(w.key());
        }
        out.add(new StoreEvent(StoreEvent.Type.PUT, w.key(), w.value().clone(), rev, create));
      }
    }
    if (out.isEmpty()) {
      return;
    }
    c.revision = rev;
    for (StoreEvent e : out) {
      history.addLast(e);
      for (Watcher w : watchers) {
        if (e.key().startsWith(w.prefix)) {
          events.execute(() -> w.deliver(e));
        }
      }
    }
    while (history.size() > historyLimit) {
      c.compacted = Math.max(c.compacted, history.removeFirst().revision() + 1);
    }
  }

  private void detach(String key, long lease) {
    Lease l = lease == 0 ? null : leases.get(lease);
    if (l != null) {
      l.keys.remove(key);
    }
  }

  private Versioned<byte[]> raw(String key) {
    synchronized (lock) {
      enter();
      return versioned(key, data.get(key));
    }
  }

  private static Versioned<byte[]> versioned(String key, Entry e) {
    return e == null
        ? Versioned.absent(key)
        : new Versioned<>(key, e.value().clone(), e.modRevision(), e.createRevision());
  }

  private SortedMap<String, Entry> under(String prefix) {
    return prefix.isEmpty() ? data : data.subMap(prefix, prefix + Character.MAX_VALUE);
  }

  private List<Versioned<byte[]>> rawUnder(String prefix) {
    List<Versioned<byte[]>> out = new ArrayList<>();
    for (Map.Entry<String, Entry> e : under(prefix).entrySet()) {
      out.add(versioned(e.getKey(), e.getValue()));
    }
    return out;
  }

  /** For tests that need it: how long until a lease expires, or null when it does not exist. */
  public Duration timeToLive(long leaseId) {
    synchronized (lock) {
      Lease l = leases.get(leaseId);
      return l == null ? null : Duration.between(clock.instant(), l.expiresAt);
    }
  }
}
