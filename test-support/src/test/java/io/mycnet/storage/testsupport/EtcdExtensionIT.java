package io.mycnet.storage.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.local.EtcdMember;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The etcd harness against a real single etcd process: round trip, txn, lease, watch. */
class EtcdExtensionIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private static ByteSequence bs(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  @Test
  void processRunsOnLoopbackWithAPid() {
    EtcdMember m = ETCD.etcd().member(0);
    assertThat(m.pid()).isPositive();
    assertThat(m.clientUrl()).startsWith("http://127.0.0.1:");
    assertThat(m.healthy()).isTrue();
  }

  @Test
  void putGetRoundTrip() throws Exception {
    KV kv = ETCD.client().getKVClient();
    kv.put(bs("/t/round"), bs("trip")).get(5, TimeUnit.SECONDS);
    List<KeyValue> kvs = kv.get(bs("/t/round")).get(5, TimeUnit.SECONDS).getKvs();
    assertThat(kvs).hasSize(1);
    assertThat(kvs.get(0).getValue().toString(StandardCharsets.UTF_8)).isEqualTo("trip");
  }

  @Test
  void transactionAppliesOnlyWhenGuardHolds() throws Exception {
    KV kv = ETCD.client().getKVClient();
    long rev = kv.put(bs("/t/txn"), bs("v1")).get(5, TimeUnit.SECONDS).getHeader().getRevision();

    TxnResponse ok =
        kv.txn()
            .If(new Cmp(bs("/t/txn"), Cmp.Op.EQUAL, CmpTarget.modRevision(rev)))
            .Then(Op.put(bs("/t/txn"), bs("v2"), PutOption.DEFAULT))
            .commit()
            .get(5, TimeUnit.SECONDS);
    assertThat(ok.isSucceeded()).isTrue();

    // The same guard again is stale now: nothing must be written.
    TxnResponse stale =
        kv.txn()
            .If(new Cmp(bs("/t/txn"), Cmp.Op.EQUAL, CmpTarget.modRevision(rev)))
            .Then(Op.put(bs("/t/txn"), bs("v3"), PutOption.DEFAULT))
            .commit()
            .get(5, TimeUnit.SECONDS);
    assertThat(stale.isSucceeded()).isFalse();
    assertThat(
            kv.get(bs("/t/txn"))
                .get(5, TimeUnit.SECONDS)
                .getKvs()
                .get(0)
                .getValue()
                .toString(StandardCharsets.UTF_8))
        .isEqualTo("v2");
  }

  @Test
  void leaseExpiryRemovesItsKey() throws Exception {
    long leaseId = ETCD.client().getLeaseClient().grant(1).get(5, TimeUnit.SECONDS).getID();
    KV kv = ETCD.client().getKVClient();
    kv.put(bs("/t/lease"), bs("alive"), PutOption.builder().withLeaseId(leaseId).build())
        .get(5, TimeUnit.SECONDS);
    assertThat(kv.get(bs("/t/lease")).get(5, TimeUnit.SECONDS).getCount()).isEqualTo(1);
    await()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> kv.get(bs("/t/lease")).get(5, TimeUnit.SECONDS).getCount() == 0);
  }

  @Test
  void watchFiresOnPutAndDelete() throws Exception {
    List<WatchEvent> events = new CopyOnWriteArrayList<>();
    Watch.Listener listener = Watch.listener(r -> events.addAll(r.getEvents()));
    try (Watch.Watcher ignored =
        ETCD.client()
            .getWatchClient()
            .watch(
                bs("/t/watch/"),
                io.etcd.jetcd.options.WatchOption.builder().isPrefix(true).build(),
                listener)) {
      KV kv = ETCD.client().getKVClient();
      // The watch is registered asynchronously: keep writing until the first event is seen.
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                kv.put(bs("/t/watch/a"), bs("1")).get(5, TimeUnit.SECONDS);
                return !events.isEmpty();
              });
      kv.delete(bs("/t/watch/a")).get(5, TimeUnit.SECONDS);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> events.stream().anyMatch(e -> e.getEventType() == WatchEvent.EventType.DELETE));
      assertThat(events.get(0).getEventType()).isEqualTo(WatchEvent.EventType.PUT);
      assertThat(events.get(0).getKeyValue().getKey().toString(StandardCharsets.UTF_8))
          .isEqualTo("/t/watch/a");
    }
    assertThat(
            ETCD.client()
                .getKVClient()
                .get(bs("/t/watch/"), GetOption.builder().isPrefix(true).build())
                .get(5, TimeUnit.SECONDS)
                .getCount())
        .isZero();
  }
}
