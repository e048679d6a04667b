package io.mycnet.storage.operator.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.StringValue;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the control plane relies on from its {@link KeyValueStore}, run against etcd ({@code
 * EtcdStoreContractIT}) and the in-memory store ({@code InMemoryStoreTest}) alike. Each test works
 * under a prefix of its own, so the suite can share one etcd.
 */
abstract class StoreContract {
  static final Duration WAIT = Duration.ofSeconds(30);

  /** The store under test (one client of it). */
  abstract KeyValueStore store();

  /** A second client of the same store, with a fence of its own (a second control plane). */
  abstract KeyValueStore secondClient();

  /** Lets {@code d} pass on the clock the store's leases expire by. */
  abstract void passTime(Duration d);

  /** Compacts the store's history before {@code revision}. */
  abstract void compact(long revision);

  /** Makes the store unreachable. */
  abstract void startOutage();

  /** Makes the store reachable again. */
  abstract void endOutage();

  String p;

  @BeforeEach
  void prefix() {
    p = "/contract/" + UUID.randomUUID() + "/";
  }

  static StringValue v(String s) {
    return StringValue.of(s);
  }

  Versioned<StringValue> get(String key) {
    return store().get(key, StringValue.parser());
  }

  // ---- reads and revisions

  @Test
  void anAbsentKeyReadsAsAbsentWithRevisionZero() {
    KeyValueStore s = store();
    Versioned<StringValue> a = get(p + "none");
    assertThat(a.exists()).isFalse();
    assertThat(a.value()).isNull();
    assertThat(a.modRevision()).isZero();
    assertThat(a.createRevision()).isZero();
    assertThat(s.getString(p + "none")).isEmpty();
    assertThat(s.getVersionedString(p + "none").exists()).isFalse();
    assertThat(s.leaseOf(p + "none")).isZero();
    assertThat(s.list(p, StringValue.parser())).isEmpty();
    assertThat(s.keys(p)).isEmpty();
  }

  @Test
  void aPutIsReadBackWithItsCreateAndModRevision() {
    KeyValueStore s = store();
    assertThat(s.txn().put(p + "a", v("one")).commit()).isTrue();
    Versioned<StringValue> first = get(p + "a");
    assertThat(first.value().getValue()).isEqualTo("one");
    assertThat(first.modRevision()).isPositive().isEqualTo(first.createRevision());

    assertThat(s.txn().put(p + "a", v("two")).commit()).isTrue();
    Versioned<StringValue> second = get(p + "a");
    assertThat(second.value().getValue()).isEqualTo("two");
    assertThat(second.createRevision()).isEqualTo(first.createRevision());
    assertThat(second.modRevision()).isGreaterThan(first.modRevision());
  }

  @Test
  void theWritesOfOneTransactionShareOneNewRevision() {
    KeyValueStore s = store();
    s.txn().putString(p + "before", "x").commit();
    long before = s.getVersionedString(p + "before").modRevision();
    assertThat(s.txn().put(p + "a", v("1")).putString(p + "b", "2").commit()).isTrue();
    Versioned<StringValue> a = get(p + "a");
    Versioned<String> b = s.getVersionedString(p + "b");
    assertThat(a.modRevision()).isEqualTo(b.modRevision()).isGreaterThan(before);
  }

  @Test
  void stringsAreReadBackAsWritten() {
    KeyValueStore s = store();
    s.txn().putString(p + "s", "héllo").commit();
    assertThat(s.getString(p + "s")).contains("héllo");
    Versioned<String> vs = s.getVersionedString(p + "s");
    assertThat(vs.value()).isEqualTo("héllo");
    assertThat(vs.key()).isEqualTo(p + "s");
    assertThat(vs.modRevision()).isPositive();
  }

  @Test
  void getAllAnswersInTheOrderAskedIncludingAbsentKeys() {
    KeyValueStore s = store();
    s.txn().put(p + "a", v("A")).put(p + "c", v("C")).commit();
    List<Versioned<StringValue>> all =
        s.getAll(List.of(p + "c", p + "b", p + "a"), StringValue.parser());
    assertThat(all).extracting(Versioned::key).containsExactly(p + "c", p + "b", p + "a");
    assertThat(all.get(0).value().getValue()).isEqualTo("C");
    assertThat(all.get(1).exists()).isFalse();
    assertThat(all.get(2).value().getValue()).isEqualTo("A");

    List<Versioned<byte[]>> raw = s.getAllRaw(List.of(p + "a", p + "zz"));
    assertThat(KeyValueStore.parse(raw.get(0), StringValue.parser()).value().getValue())
        .isEqualTo("A");
    assertThat(KeyValueStore.parse(raw.get(1), StringValue.parser()).exists()).isFalse();
    assertThat(s.getAllRaw(List.of())).isEmpty();
  }

  @Test
  void listingsReturnOnlyThePrefixInKeyOrder() {
    KeyValueStore s = store();
    s.txn()
        .put(p + "x/b", v("b"))
        .put(p + "x/a", v("a"))
        .put(p + "x/c", v("c"))
        .put(p + "xy/other", v("o"))
        .commit();
    assertThat(s.list(p + "x/", StringValue.parser()))
        .extracting(r -> r.value().getValue())
        .containsExactly("a", "b", "c");
    assertThat(s.keys(p + "x/")).containsExactly(p + "x/a", p + "x/b", p + "x/c");
    assertThat(s.keys(p + "x")).containsExactly(p + "x/a", p + "x/b", p + "x/c", p + "xy/other");

    KeyValueStore.Listing<StringValue> l = s.listWithRevision(p + "x/", StringValue.parser());
    assertThat(l.values()).hasSize(3);
    long newest = l.values().stream().mapToLong(Versioned::modRevision).max().orElseThrow();
    assertThat(l.revision()).isGreaterThanOrEqualTo(newest);

    List<List<Versioned<byte[]>>> lists = s.listAllRaw(List.of(p + "xy/", p + "x/", p + "q/"));
    assertThat(lists).hasSize(3);
    assertThat(lists.get(0)).extracting(Versioned::key).containsExactly(p + "xy/other");
    assertThat(lists.get(1))
        .extracting(Versioned::key)
        .containsExactly(p + "x/a", p + "x/b", p + "x/c");
    assertThat(lists.get(2)).isEmpty();
  }

  @Test
  void anUnreadableRecordIsAClearError() {
    KeyValueStore s = store();
    s.txn().putString(p + "bad", "\u0007not a protobuf").commit();
    assertThatThrownBy(() -> get(p + "bad"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(p + "bad");
  }

  @Test
  void aDeleteRemovesTheKeyAndADeleteOfNothingIsHarmless() {
    KeyValueStore s = store();
    s.txn().put(p + "a", v("1")).commit();
    assertThat(s.txn().delete(p + "a").delete(p + "never").commit()).isTrue();
    assertThat(get(p + "a").exists()).isFalse();
    s.txn().put(p + "a", v("again")).commit();
    Versioned<StringValue> again = get(p + "a");
    assertThat(again.createRevision()).isEqualTo(again.modRevision());
  }

  // ---- guards

  @Test
  void aStaleGuardFailsTheWholeTransactionAndWritesNothing() {
    KeyValueStore s = store();
    s.txn().put(p + "a", v("1")).commit();
    Versioned<StringValue> read = get(p + "a");
    s.txn().put(p + "a", v("2")).commit(); // someone else wrote since
    boolean ok =
        s.txn().requireUnchanged(read).put(p + "a", v("3")).put(p + "other", v("x")).commit();
    assertThat(ok).isFalse();
    assertThat(get(p + "a").value().getValue()).isEqualTo("2");
    assertThat(get(p + "other").exists()).isFalse();

    Versioned<StringValue> fresh = get(p + "a");
    assertThat(s.txn().requireUnchanged(fresh).put(p + "a", v("3")).commit()).isTrue();
    assertThat(get(p + "a").value().getValue()).isEqualTo("3");
  }

  @Test
  void requireAbsentHoldsOnlyWhileTheKeyDoesNotExist() {
    KeyValueStore s = store();
    assertThat(s.txn().requireAbsent(p + "k").putString(p + "k", "first").commit()).isTrue();
    assertThat(s.txn().requireAbsent(p + "k").putString(p + "k", "second").commit()).isFalse();
    assertThat(s.getString(p + "k")).contains("first");
    // modRevision 0 is the same guard: the absent read of a key
    assertThat(s.txn().requireModRevision(p + "k", 0).putString(p + "k", "third").commit())
        .isFalse();
    assertThat(s.txn().requireUnchanged(get(p + "gone")).putString(p + "gone", "x").commit())
        .isTrue();
  }

  @Test
  void requireModRevisionComparesTheExactRevision() {
    KeyValueStore s = store();
    s.txn().putString(p + "k", "1").commit();
    long rev = s.getVersionedString(p + "k").modRevision();
    assertThat(s.txn().requireModRevision(p + "k", rev + 1).delete(p + "k").commit()).isFalse();
    assertThat(s.txn().requireModRevision(p + "k", rev - 1).delete(p + "k").commit()).isFalse();
    assertThat(s.txn().requireModRevision(p + "k", rev).delete(p + "k").commit()).isTrue();
    assertThat(s.getString(p + "k")).isEmpty();
  }

  @Test
  void anEmptyTransactionSaysSoAndCommits() {
    KeyValueStore s = store();
    Txn t = s.txn();
    assertThat(t.isEmpty()).isTrue();
    t.requireAbsent(p + "k");
    assertThat(t.isEmpty()).isTrue();
    t.putString(p + "k", "v");
    assertThat(t.isEmpty()).isFalse();
    assertThat(s.txn().commit()).isTrue();
  }

  // ---- fencing

  @Test
  void aNotLeaderFenceRefusesEveryFencedWriteButNotTheUnfencedOnes() {
    KeyValueStore s = secondClient();
    s.fence(Fence.notLeader(p + "leader"));
    assertThat(s.fence()).isEqualTo(Fence.notLeader(p + "leader"));
    assertThatThrownBy(() -> s.txn().putString(p + "k", "v").commit())
        .isInstanceOf(NotLeaderException.class)
        .isInstanceOf(StoreUnavailableException.class);
    assertThat(s.getString(p + "k")).isEmpty();
    assertThat(s.unfencedTxn().putString(p + "k", "v").commit()).isTrue();
    assertThat(store().getString(p + "k")).contains("v");
    // the other client carries no fence of its own
    assertThat(store().txn().putString(p + "k2", "w").commit()).isTrue();
  }

  @Test
  void aFenceOnTheCurrentLeaderKeyLetsWritesThroughUntilTheKeyIsReplaced() {
    KeyValueStore leader = secondClient();
    assertThat(
            leader.unfencedTxn().requireAbsent(p + "leader").putString(p + "leader", "me").commit())
        .isTrue();
    long term = leader.getVersionedString(p + "leader").createRevision();
    leader.fence(new Fence(p + "leader", term));

    assertThat(leader.txn().putString(p + "k", "1").commit()).isTrue();
    // a guard failure under a valid fence is an ordinary false, not lost leadership
    assertThat(leader.txn().requireAbsent(p + "k").putString(p + "k", "2").commit()).isFalse();
    // a rewrite of the same leader key keeps its create revision: still the same term
    assertThat(store().txn().putString(p + "leader", "me again").commit()).isTrue();
    assertThat(leader.txn().putString(p + "k", "3").commit()).isTrue();

    // the key goes and comes back: a new term, the old fence no longer holds
    store().txn().delete(p + "leader").commit();
    store().txn().putString(p + "leader", "someone else").commit();
    assertThatThrownBy(() -> leader.txn().putString(p + "k", "4").commit())
        .isInstanceOf(NotLeaderException.class);
    assertThat(store().getString(p + "k")).contains("3");

    leader.fence(null);
    assertThat(leader.fence()).isNull();
    assertThat(leader.txn().putString(p + "k", "5").commit()).isTrue();
  }

  // ---- leases

  @Test
  void keysOnALeaseGoWhenTheLeaseIsRevoked() {
    KeyValueStore s = store();
    long lease = s.grantLease(60);
    s.putWithLease(p + "a", "1", lease);
    assertThat(s.txn().putWithLease(p + "b", "2", lease).putString(p + "c", "3").commit()).isTrue();
    assertThat(s.leaseOf(p + "a")).isEqualTo(lease);
    assertThat(s.leaseOf(p + "b")).isEqualTo(lease);
    assertThat(s.leaseOf(p + "c")).isZero();
    assertThat(s.keepAliveOnce(lease)).isTrue();

    s.revokeLease(lease);
    assertThat(s.keys(p)).containsExactly(p + "c");
    assertThat(s.keepAliveOnce(lease)).isFalse();
    s.revokeLease(lease); // revoking an unknown lease is harmless
    assertThatThrownBy(() -> s.putWithLease(p + "d", "4", lease))
        .isInstanceOf(StoreUnavailableException.class);
    assertThat(s.getString(p + "d")).isEmpty();
  }

  @Test
  void aPutWithoutLeaseDetachesTheKeyFromItsLease() {
    KeyValueStore s = store();
    long lease = s.grantLease(60);
    s.putWithLease(p + "a", "1", lease);
    s.txn().putString(p + "a", "2").commit();
    assertThat(s.leaseOf(p + "a")).isZero();
    s.revokeLease(lease);
    assertThat(s.getString(p + "a")).contains("2");
  }

  @Test
  void anExpiredLeaseDeletesItsKeysAndTheWatchSeesTheDelete() {
    KeyValueStore s = store();
    List<StoreEvent> seen = new CopyOnWriteArrayList<>();
    long from = s.listWithRevision(p, StringValue.parser()).revision() + 1;
    try (StoreWatch w = s.watchPrefixFrom(p, from, seen::add, t -> {})) {
      long lease = s.grantLease(1);
      s.putWithLease(p + "live", "yes", lease);
      s.txn().putString(p + "stays", "yes").commit();
      passTime(Duration.ofSeconds(5));
      await().atMost(WAIT).until(() -> s.getString(p + "live").isEmpty());
      assertThat(s.keepAliveOnce(lease)).isFalse();
      assertThat(s.getString(p + "stays")).contains("yes");
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  assertThat(seen)
                      .anySatisfy(
                          e -> {
                            assertThat(e.isDelete()).isTrue();
                            assertThat(e.key()).isEqualTo(p + "live");
                          }));
    }
  }

  // ---- watches

  @Test
  void aWatchSeesEveryChangeUnderItsPrefixInRevisionOrder() {
    KeyValueStore s = store();
    List<StoreEvent> seen = new CopyOnWriteArrayList<>();
    try (StoreWatch w = s.watchPrefix(p + "w/", seen::add)) {
      primed(s, p + "w/", seen);
      s.txn().put(p + "w/a", v("1")).commit();
      s.txn().putString(p + "other", "not watched").commit();
      s.txn().putString(p + "w/b", "2").putString(p + "w/c", "3").commit();
      s.txn().delete(p + "w/a").commit();
      await().atMost(WAIT).until(() -> withoutPrime(seen).size() == 4);
      List<StoreEvent> events = withoutPrime(seen);
      assertThat(events)
          .extracting(StoreEvent::key)
          .containsExactly(p + "w/a", p + "w/b", p + "w/c", p + "w/a");
      assertThat(events)
          .extracting(StoreEvent::type)
          .containsExactly(
              StoreEvent.Type.PUT,
              StoreEvent.Type.PUT,
              StoreEvent.Type.PUT,
              StoreEvent.Type.DELETE);
      StoreEvent put = events.get(0);
      assertThat(put.value()).isEqualTo(v("1").toByteArray());
      assertThat(put.revision()).isEqualTo(put.createRevision()).isPositive();
      assertThat(events.get(1).revision()).isEqualTo(events.get(2).revision());
      assertThat(events.get(2).valueString()).isEqualTo("3");
      assertThat(events.get(3).revision()).isGreaterThan(events.get(2).revision());
      assertThat(events.get(3).value()).isEmpty();
      List<Long> revisions = new ArrayList<>();
      seen.forEach(e -> revisions.add(e.revision()));
      assertThat(revisions).isSorted();
    }
  }

  @Test
  void aClosedWatchHearsNothingMore() {
    KeyValueStore s = store();
    List<StoreEvent> seen = new CopyOnWriteArrayList<>();
    StoreWatch w = s.watchPrefix(p, seen::add);
    primed(s, p, seen);
    w.close();
    s.txn().putString(p + "after", "x").commit();
    // a second watch that does see the write proves it was delivered to whoever still listens
    List<StoreEvent> other = new CopyOnWriteArrayList<>();
    long rev = s.getVersionedString(p + "after").modRevision();
    try (StoreWatch w2 = s.watchPrefixFrom(p, rev, other::add, t -> {})) {
      await().atMost(WAIT).until(() -> !other.isEmpty());
    }
    assertThat(seen).extracting(StoreEvent::key).doesNotContain(p + "after");
  }

  @Test
  void aWatchFromAPastRevisionReplaysTheHistoryThenFollows() {
    KeyValueStore s = store();
    s.txn().putString(p + "a", "1").commit();
    long from = s.getVersionedString(p + "a").modRevision();
    s.txn().putString(p + "b", "2").commit();
    s.txn().delete(p + "a").commit();
    List<StoreEvent> seen = new CopyOnWriteArrayList<>();
    AtomicReference<Throwable> error = new AtomicReference<>();
    try (StoreWatch w = s.watchPrefixFrom(p, from, seen::add, error::set)) {
      await().atMost(WAIT).until(() -> seen.size() == 3);
      s.txn().putString(p + "c", "3").commit();
      await().atMost(WAIT).until(() -> seen.size() == 4);
    }
    assertThat(seen)
        .extracting(e -> e.type() + " " + e.key())
        .containsExactly("PUT " + p + "a", "PUT " + p + "b", "DELETE " + p + "a", "PUT " + p + "c");
    assertThat(seen.get(0).revision()).isEqualTo(from);
    assertThat(error.get()).isNull();
  }

  @Test
  void aWatchFromACompactedRevisionFailsSoTheCallerRelists() {
    KeyValueStore s = store();
    s.txn().putString(p + "a", "1").commit();
    long old = s.getVersionedString(p + "a").modRevision();
    s.txn().putString(p + "a", "2").commit();
    s.txn().putString(p + "a", "3").commit();
    long now = s.getVersionedString(p + "a").modRevision();
    compact(now);
    AtomicReference<Throwable> error = new AtomicReference<>();
    List<StoreEvent> seen = new CopyOnWriteArrayList<>();
    StoreWatch w = s.watchPrefixFrom(p, old, seen::add, error::set);
    try {
      await().atMost(WAIT).until(() -> error.get() != null);
      assertThat(seen).isEmpty();
    } finally {
      w.close();
    }
    // from the compaction revision on, the history is still there
    List<StoreEvent> after = new CopyOnWriteArrayList<>();
    try (StoreWatch w2 = s.watchPrefixFrom(p, now, after::add, t -> {})) {
      await().atMost(WAIT).until(() -> after.size() == 1);
      assertThat(after.get(0).valueString()).isEqualTo("3");
    }
  }

  // ---- outage

  @Test
  void duringAnOutageEveryCallFailsClearlyAndAfterItCallsWorkAgain() {
    KeyValueStore s = store();
    s.txn().putString(p + "k", "before").commit();
    startOutage();
    try {
      assertThatThrownBy(() -> s.getString(p + "k")).isInstanceOf(StoreUnavailableException.class);
      assertThatThrownBy(() -> s.txn().putString(p + "k", "during").commit())
          .isInstanceOf(StoreUnavailableException.class);
    } finally {
      endOutage();
    }
    await()
        .atMost(WAIT)
        .ignoreExceptionsInstanceOf(StoreUnavailableException.class)
        .until(() -> s.getString(p + "k").isPresent());
    // a write that failed as unavailable may still land (etcd's client retries it once etcd is
    // back): callers re-read, and the contract allows either outcome, never a third one
    assertThat(s.getString(p + "k").orElseThrow()).isIn("before", "during");
    assertThat(s.txn().putString(p + "k", "after").commit()).isTrue();
    assertThat(s.getString(p + "k")).contains("after");
  }

  // ---- helpers

  private static final String PRIME = "~prime";

  /** Writes a marker until the watch reports it, so a watch set up asynchronously is live. */
  static void primed(KeyValueStore s, String prefix, List<StoreEvent> seen) {
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              s.txn().putString(prefix + PRIME, "x").commit();
              return seen.stream().anyMatch(e -> e.key().endsWith(PRIME));
            });
  }

  static List<StoreEvent> withoutPrime(List<StoreEvent> seen) {
    return seen.stream().filter(e -> !e.key().endsWith(PRIME)).toList();
  }
}
