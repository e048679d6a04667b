package io.mycnet.storage.operator.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The in-memory store passes the store contract, plus what only it can show quickly. */
class InMemoryStoreTest extends StoreContract {
  final ManualClock clock = new ManualClock();
  final InMemoryStore store = new InMemoryStore(clock);

  @AfterEach
  void close() {
    store.close();
  }

  @Override
  KeyValueStore store() {
    return store;
  }

  @Override
  KeyValueStore secondClient() {
    return store.connect();
  }

  @Override
  void passTime(Duration d) {
    clock.advance(d);
  }

  @Override
  void compact(long revision) {
    store.compact(revision);
  }

  @Override
  void startOutage() {
    store.outage(true);
  }

  @Override
  void endOutage() {
    store.outage(false);
  }

  @Test
  void aLeaseLivesItsTtlFromTheLastRenewal() {
    long lease = store.grantLease(10);
    store.putWithLease("/k", "v", lease);
    clock.advance(Duration.ofSeconds(9));
    assertThat(store.keepAliveOnce(lease)).isTrue();
    clock.advance(Duration.ofSeconds(9));
    assertThat(store.getString("/k")).contains("v");
    clock.advance(Duration.ofSeconds(1));
    assertThat(store.getString("/k")).isEmpty();
    assertThat(store.keepAliveOnce(lease)).isFalse();
  }

  @Test
  void expiryNeedsNoCallToHappen() {
    List<StoreEvent> seen = new CopyOnWriteArrayList<>();
    long lease = store.grantLease(2);
    store.putWithLease("/n/a", "v", lease);
    store.putWithLease("/n/b", "v", lease);
    try (StoreWatch w = store.watchPrefix("/n/", seen::add)) {
      clock.advance(Duration.ofSeconds(2));
      await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() == 2);
    }
    assertThat(seen).allMatch(StoreEvent::isDelete);
    // both keys of the lease go in one revision, as etcd's revoke does
    assertThat(seen.get(0).revision()).isEqualTo(seen.get(1).revision());
  }

  @Test
  void aTransactionThatChangesNothingDoesNotMoveTheRevision() {
    long before = store.revision();
    assertThat(store.txn().delete("/nothing").commit()).isTrue();
    assertThat(store.txn().requireAbsent("/x").commit()).isTrue();
    assertThat(store.revision()).isEqualTo(before);
    store.txn().putString("/x", "1").commit();
    assertThat(store.revision()).isEqualTo(before + 1);
    assertThat(store.txn().requireAbsent("/x").putString("/x", "2").commit()).isFalse();
    assertThat(store.revision()).isEqualTo(before + 1);
  }

  @Test
  void historyBeyondItsBoundIsCompactedAway() {
    try (InMemoryStore small = new InMemoryStore(clock, 3)) {
      small.txn().putString("/a", "1").commit();
      long first = small.getVersionedString("/a").modRevision();
      for (int i = 2; i <= 5; i++) {
        small.txn().putString("/a", "" + i).commit();
      }
      AtomicReference<Throwable> error = new AtomicReference<>();
      try (StoreWatch w = small.watchPrefixFrom("/", first, e -> {}, error::set)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> error.get() != null);
      }
      assertThat(error.get())
          .isInstanceOf(StoreUnavailableException.class)
          .hasMessageContaining("compacted");
      assertThatThrownBy(() -> small.compact(small.revision() + 1))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void aLeaseNeedsAPositiveTtl() {
    assertThatThrownBy(() -> store.grantLease(0)).isInstanceOf(IllegalArgumentException.class);
  }
}
