package io.mycnet.storage.operator.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.mycnet.storage.api.v1.NodeTrustState;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link TrustPersistence} on a real etcd: the write rate stays bounded for 1,000 nodes whose
 * evidence changes all the time, a tier change is written at once, a control plane that is not the
 * leader writes nothing, and an unreadable record leaves its node unknown without stopping the
 * restore of the others.
 */
class TrustPersistenceIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  static Client etcd;
  static EtcdStore store;

  static final class MovableClock extends Clock {
    volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  @BeforeAll
  static void connect() {
    etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build();
    store = new EtcdStore(etcd, Duration.ofSeconds(10));
  }

  @AfterAll
  static void close() {
    etcd.close();
  }

  @Test
  void thousandsOfChangingNodesAreWrittenAtMostOncePerIntervalInBatches() throws Exception {
    EtcdKeys keys = new EtcdKeys("/rate");
    MovableClock clock = new MovableClock();
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    int nodes = 1000;
    Duration minInterval = Duration.ofSeconds(2);
    TrustPersistence p =
        new TrustPersistence(
            store,
            keys,
            engine,
            () -> true,
            new TrustPersistence.Settings(minInterval, Duration.ofMillis(100), 100));
    p.restore();
    p.start();
    long start = System.nanoTime();
    int rounds = 0;
    // Every node gets new evidence 40 times, as fast as the engine takes it.
    for (; rounds < 40; rounds++) {
      clock.now = clock.now.plusSeconds(2);
      List<TrustEvidence> round = new ArrayList<>(nodes);
      for (int i = 0; i < nodes; i++) {
        round.add(new TrustEvidence.Heartbeat("n" + i, clock.now, true));
      }
      engine.recordAll(round);
      Thread.sleep(100);
    }
    p.close();
    long elapsed = System.nanoTime() - start;
    long windows = elapsed / minInterval.toNanos() + 1;
    long keysWritten = p.keysWritten();
    long txns = p.transactions();
    System.out.printf(
        "trust persistence: %d nodes, %d evidence rounds in %.1f s: %d keys in %d transactions"
            + " (%.0f keys/s); without coalescing %d%n",
        nodes,
        rounds,
        elapsed / 1e9,
        keysWritten,
        txns,
        keysWritten / (elapsed / 1e9),
        (long) nodes * rounds);
    // At most one write per node per interval (plus the final flush at close), in batches of 100.
    assertThat(keysWritten).isLessThanOrEqualTo(nodes * (windows + 1));
    assertThat(keysWritten).isLessThan((long) nodes * rounds);
    assertThat(txns * 100).isGreaterThanOrEqualTo(keysWritten);
    // What is stored is exactly the engine's final state.
    List<Versioned<NodeTrustState>> stored = store.list(keys.trustAll(), NodeTrustState.parser());
    assertThat(stored).hasSize(nodes);
    for (Versioned<NodeTrustState> v : stored) {
      assertThat(v.value())
          .isEqualTo(
              TrustStateCodec.toProto(
                  engine.snapshot(v.value().getNodeId()).orElseThrow().export()));
    }
  }

  @Test
  void aTierChangeIsWrittenAtOnceOtherEvidenceWaitsItsTurn() throws Exception {
    EtcdKeys keys = new EtcdKeys("/atonce");
    MovableClock clock = new MovableClock();
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    try (TrustPersistence p =
        new TrustPersistence(
            store,
            keys,
            engine,
            () -> true,
            new TrustPersistence.Settings(Duration.ofHours(1), Duration.ofMillis(100), 100))) {
      p.restore();
      p.start();
      engine.record(new TrustEvidence.Heartbeat("n1", clock.now, true));
      await().atMost(Duration.ofSeconds(30)).until(() -> stored(keys, "n1") != null);
      NodeTrustState first = stored(keys, "n1");
      assertThat(first.getTier()).isEqualTo(NodeTrustState.Tier.TIER_NONE);

      // More evidence, same tier: not written again within the hour.
      clock.now = clock.now.plusSeconds(60);
      engine.record(new TrustEvidence.Heartbeat("n1", clock.now, true));
      Thread.sleep(1000);
      assertThat(stored(keys, "n1")).isEqualTo(first);

      // Evidence until the tier changes: written at once.
      while (engine.tier("n1") == TrustTier.NONE) {
        clock.now = clock.now.plusSeconds(900);
        engine.recordAll(healthy("n1", clock.now));
      }
      TrustTier reached = engine.tier("n1");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  stored(keys, "n1").getTier()
                      == NodeTrustState.Tier.valueOf("TIER_" + reached.name()));
    }
  }

  @Test
  void aControlPlaneThatIsNotTheLeaderWritesNothing() throws Exception {
    EtcdKeys keys = new EtcdKeys("/standby");
    MovableClock clock = new MovableClock();
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    engine.recordAll(healthy("n1", clock.now));
    try (TrustPersistence p =
        new TrustPersistence(
            store,
            keys,
            engine,
            () -> false,
            new TrustPersistence.Settings(Duration.ZERO, Duration.ofMillis(100), 100))) {
      p.start();
      Thread.sleep(1000);
      assertThat(p.restored()).isFalse();
      assertThat(store.keys(keys.trustAll())).isEmpty();
    }
    // A store fenced as not the leader refuses the write outright.
    EtcdStore fenced = new EtcdStore(etcd, Duration.ofSeconds(10));
    fenced.fence(EtcdStore.Fence.notLeader(keys.leader()));
    TrustPersistence q =
        new TrustPersistence(
            fenced, keys, engine, () -> true, TrustPersistence.Settings.defaults());
    q.restore();
    assertThatThrownBy(() -> q.flush(true)).isInstanceOf(EtcdStore.NotLeaderException.class);
    assertThat(store.keys(keys.trustAll())).isEmpty();
  }

  @Test
  void anUnreadableRecordLeavesItsNodeUnknownAndTheOthersRestored() {
    EtcdKeys keys = new EtcdKeys("/unreadable");
    MovableClock clock = new MovableClock();
    TrustEngine before = new TrustEngine(TrustPolicy.defaults(), clock);
    before.recordAll(healthy("good", clock.now));
    before.recordAll(healthy("bad", clock.now));
    TrustPersistence writer =
        new TrustPersistence(store, keys, before, () -> true, TrustPersistence.Settings.defaults());
    writer.restore();
    assertThat(writer.flush(true)).isEqualTo(2);
    NodeTrustState bad =
        store.get(keys.trust("bad"), NodeTrustState.parser()).value().toBuilder()
            .setSchemaVersion(99)
            .build();
    assertThat(store.txn().put(keys.trust("bad"), bad).commit()).isTrue();

    TrustEngine after = new TrustEngine(TrustPolicy.defaults(), clock);
    TrustPersistence reader =
        new TrustPersistence(store, keys, after, () -> true, TrustPersistence.Settings.defaults());
    EngineTrustSource source = new EngineTrustSource(after, reader::restored);
    assertThat(source.known("good")).isFalse();
    assertThat(reader.restore()).isEqualTo(1);
    assertThat(source.known("good")).isTrue();
    assertThat(source.trustOf("good").tier()).isEqualTo(before.tier("good"));
    assertThat(source.known("bad")).isFalse();
    // Not overwritten while the node has no new evidence.
    assertThat(reader.flush(true)).isZero();
    assertThat(store.get(keys.trust("bad"), NodeTrustState.parser()).value()).isEqualTo(bad);
  }

  private static NodeTrustState stored(EtcdKeys keys, String node) {
    Versioned<NodeTrustState> v = store.get(keys.trust(node), NodeTrustState.parser());
    return v.exists() ? v.value() : null;
  }

  private static List<TrustEvidence> healthy(String node, Instant at) {
    return List.of(
        new TrustEvidence.Heartbeat(node, at, true),
        new TrustEvidence.LatencySample(
            node, at, TrustEvidence.RoundTrip.HEARTBEAT, Duration.ofMillis(20)),
        new TrustEvidence.ReplicationAck(node, at, true),
        new TrustEvidence.IntegrityAudit(node, at, TrustEvidence.AuditKind.CHALLENGE, true),
        new TrustEvidence.BytesServed(node, at, 1_000_000, 1_000_000),
        new TrustEvidence.ReportedFactor(node, at, TrustFactor.IO_PERFORMANCE, 1.0),
        new TrustEvidence.ReportedFactor(node, at, TrustFactor.ENCRYPTION_COMPLIANCE, 1.0),
        new TrustEvidence.ReportedFactor(node, at, TrustFactor.ACCESS_CONTROL, 1.0));
  }
}
