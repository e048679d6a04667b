package io.mycnet.storage.operator.runtime;

import io.mycnet.storage.api.v1.NodeTrustState;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the trust engine's evidence in etcd so that trust survives a restart of the control plane
 * or a change of leader: one {@code NodeTrustState} per node under {@code trust/<node>}.
 *
 * <p><b>Restore.</b> A control plane that becomes the leader first loads every persisted record
 * into its engine ({@link #restore()}); only then is it {@link #restored()}: until that moment the
 * trust source reports every node unknown and the evidence feed records nothing, so no replication
 * decision is taken on trust that was not restored and new evidence applies on top of the restored
 * evidence. A record that cannot be read is logged at ERROR and left out (its node stays unknown
 * until it earns new evidence); it is not overwritten until then.
 *
 * <p><b>Writes.</b> Only the leader writes (its {@link EtcdStore} carries the leadership fence),
 * and only records whose content changed since they were last written. A node's record is written
 * at most once every {@link Settings#minInterval()}, except at once when its tier or its quarantine
 * changed; the writes of one flush go in transactions of at most {@link Settings#batchSize()} keys
 * (etcd allows 128 operations per transaction). A flush runs every {@link Settings#flushInterval()}
 * and as soon as the engine reports a tier transition. With 1,000 nodes whose evidence changes all
 * the time and the defaults, that is at most 200 keys a second in two transactions. A crash loses
 * at most the last {@code minInterval} of evidence of a node, never a change of tier that was
 * written.
 */
public final class TrustPersistence implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TrustPersistence.class);

  /**
   * @param minInterval least time between two writes of one node's record (tier and quarantine
   *     changes are written at once)
   * @param flushInterval how often changed records are looked for
   * @param batchSize keys per etcd transaction, 1 to 120
   */
  public record Settings(Duration minInterval, Duration flushInterval, int batchSize) {
    public Settings {
      if (minInterval.isNegative() || flushInterval.isNegative() || flushInterval.isZero()) {
        throw new IllegalArgumentException(
            "trust persistence intervals must be positive: " + minInterval + ", " + flushInterval);
      }
      if (batchSize < 1 || batchSize > 120) {
        throw new IllegalArgumentException(
            "trust persistence batch size must be 1 to 120, was " + batchSize);
      }
    }

    public static Settings defaults() {
      return new Settings(Duration.ofSeconds(5), Duration.ofSeconds(1), 100);
    }
  }

  /** What was last written for a node, and when (System.nanoTime). */
  private record Written(NodeTrustState state, long atNanos) {}

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final TrustEngine engine;
  private final BooleanSupplier isLeader;
  private final Settings settings;
  private final Map<String, Written> written = new HashMap<>();
  private final AtomicBoolean flushPending = new AtomicBoolean();
  private final AtomicLong keysWritten = new AtomicLong();
  private final AtomicLong transactions = new AtomicLong();
  private final ScheduledExecutorService executor;
  private volatile boolean restored;
  private volatile boolean started;

  public TrustPersistence(
      EtcdStore store,
      EtcdKeys keys,
      TrustEngine engine,
      BooleanSupplier isLeader,
      Settings settings) {
    this.store = store;
    this.keys = keys;
    this.engine = engine;
    this.isLeader = isLeader;
    this.settings = settings;
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "trust-persistence");
              t.setDaemon(true);
              return t;
            });
    engine.addTransitionListener(t -> flushSoon());
  }

  /** Whether the engine holds the persisted evidence (this leadership restored it). */
  public boolean restored() {
    return restored;
  }

  /** Keys written so far (for measurements). */
  public long keysWritten() {
    return keysWritten.get();
  }

  /** Write transactions committed so far. */
  public long transactions() {
    return transactions.get();
  }

  /** The nodes that have a persisted trust record (any content). */
  public static Set<String> persistedNodes(EtcdStore store, EtcdKeys keys) {
    Set<String> out = new TreeSet<>();
    for (String k : store.keys(keys.trustAll())) {
      out.add(k.substring(keys.trustAll().length()));
    }
    return out;
  }

  /**
   * Loads every persisted record into the engine (replacing what it holds for those nodes) and
   * marks the engine restored. Records of other nodes already in the engine (local mode's seeded
   * history of a new node) stay and are written by the next flush.
   *
   * @return the number of records restored
   * @throws StoreUnavailableException when etcd does not answer (nothing is restored then)
   */
  public synchronized int restore() {
    List<Versioned<NodeTrustState>> all = store.list(keys.trustAll(), NodeTrustState.parser());
    List<NodeTrustRecord> records = new ArrayList<>(all.size());
    Map<String, Written> loaded = new HashMap<>();
    long now = System.nanoTime();
    for (Versioned<NodeTrustState> v : all) {
      String node = v.key().substring(keys.trustAll().length());
      try {
        NodeTrustState p = v.value();
        if (!node.equals(p.getNodeId())) {
          throw new IllegalArgumentException(
              "the record names node '" + p.getNodeId() + "', its key '" + node + "'");
        }
        records.add(NodeTrustRecord.restore(TrustStateCodec.fromProto(p)));
        loaded.put(node, new Written(p, now));
      } catch (RuntimeException e) {
        LOG.error(
            "trust record {} cannot be restored, node {} stays unknown until it earns new"
                + " evidence: {}",
            v.key(),
            node,
            e.getMessage());
      }
    }
    engine.restore(records);
    written.clear();
    written.putAll(loaded);
    restored = true;
    LOG.info("trust restored for {} nodes from etcd", records.size());
    return records.size();
  }

  /** Restores unless this leadership already did. */
  public synchronized void restoreIfNeeded() {
    if (!restored) {
      restore();
    }
  }

  /**
   * Starts the periodic flush. Also restores (when leader and not yet restored) on each tick, and
   * forgets the restore when leadership is lost, so a later leadership restores again.
   */
  public void start() {
    started = true;
    long every = settings.flushInterval().toMillis();
    executor.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
  }

  /** Leadership was lost: the engine's evidence is no longer the one to act on or write. */
  public void leadershipLost() {
    restored = false;
  }

  /** Asks for a flush as soon as possible (a tier changed). */
  public void flushSoon() {
    if (started && flushPending.compareAndSet(false, true)) {
      try {
        executor.execute(this::tick);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        flushPending.set(false);
      }
    }
  }

  private void tick() {
    flushPending.set(false);
    try {
      if (!isLeader.getAsBoolean()) {
        leadershipLost();
        return;
      }
      restoreIfNeeded();
      flush(false);
    } catch (EtcdStore.NotLeaderException e) {
      leadershipLost();
      LOG.info("trust not persisted: {}", e.getMessage());
    } catch (RuntimeException e) {
      LOG.warn("trust persistence failed, retrying: {}", e.getMessage());
    }
  }

  /**
   * Writes every record that is due: changed since it was last written and either of another tier
   * or quarantine state, or last written at least {@code minInterval} ago; with {@code all}, every
   * changed record. Deletes the records of nodes the engine forgot. Does nothing unless restored.
   *
   * @return the number of keys written or deleted
   */
  public synchronized int flush(boolean all) {
    if (!restored) {
      return 0;
    }
    long now = System.nanoTime();
    long minNanos = settings.minInterval().toNanos();
    List<NodeTrustState> puts = new ArrayList<>();
    Set<String> present = new HashSet<>();
    for (NodeTrustRecord r : engine.snapshots()) {
      present.add(r.nodeId());
      NodeTrustState p = TrustStateCodec.toProto(r.export());
      Written w = written.get(r.nodeId());
      if (w != null && w.state().equals(p)) {
        continue;
      }
      boolean due =
          all
              || w == null
              || w.state().getTier() != p.getTier()
              || w.state().getQuarantined() != p.getQuarantined()
              || now - w.atNanos() >= minNanos;
      if (due) {
        puts.add(p);
      }
    }
    List<String> deletes = new ArrayList<>();
    for (String node : written.keySet()) {
      if (!present.contains(node)) {
        deletes.add(node);
      }
    }
    int done = 0;
    EtcdStore.Txn txn = store.txn();
    List<NodeTrustState> inTxn = new ArrayList<>();
    List<String> deletedInTxn = new ArrayList<>();
    for (NodeTrustState p : puts) {
      txn.put(keys.trust(p.getNodeId()), p);
      inTxn.add(p);
      if (inTxn.size() + deletedInTxn.size() == settings.batchSize()) {
        done += commit(txn, inTxn, deletedInTxn, now);
        txn = store.txn();
      }
    }
    for (String node : deletes) {
      txn.delete(keys.trust(node));
      deletedInTxn.add(node);
      if (inTxn.size() + deletedInTxn.size() == settings.batchSize()) {
        done += commit(txn, inTxn, deletedInTxn, now);
        txn = store.txn();
      }
    }
    if (!txn.isEmpty()) {
      done += commit(txn, inTxn, deletedInTxn, now);
    }
    return done;
  }

  private int commit(EtcdStore.Txn txn, List<NodeTrustState> puts, List<String> deletes, long now) {
    int n = puts.size() + deletes.size();
    if (!txn.commit()) {
      throw new EtcdStore.NotLeaderException("trust write refused: the leadership fence failed");
    }
    for (NodeTrustState p : puts) {
      written.put(p.getNodeId(), new Written(p, now));
    }
    for (String node : deletes) {
      written.remove(node);
    }
    transactions.incrementAndGet();
    keysWritten.addAndGet(n);
    puts.clear();
    deletes.clear();
    return n;
  }

  /** Stops the periodic flush; as the leader, writes every changed record first. */
  @Override
  public void close() {
    started = false;
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      if (restored && isLeader.getAsBoolean()) {
        flush(true);
      }
    } catch (RuntimeException e) {
      LOG.warn("trust not persisted at shutdown: {}", e.getMessage());
    }
  }
}
