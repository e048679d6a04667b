package io.mycnet.storage.operator.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.NodeTrustState;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TierTransition;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvaluator;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * A node's trust record survives export, the stored form (trust.proto, as bytes) and restore
 * exactly: the restored record equals the original, is assessed the same at any later instant, and
 * takes the same further evidence to the same tiers and transitions.
 */
class TrustStateRoundTripProperties {
  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  private static final String[] NODES = {"n-a", "n-b", "n-c"};

  /** One event: which node, which factor, its success weight, minutes since the previous one. */
  record Step(int node, TrustFactor factor, double s, int minutes) {}

  static final class MovableClock extends Clock {
    Instant now = START;

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

  @Provide
  Arbitrary<List<Step>> histories() {
    Arbitrary<Step> step =
        Combinators.combine(
                Arbitraries.integers().between(0, NODES.length - 1),
                Arbitraries.of(TrustFactor.values()),
                Arbitraries.of(0.0, 0.25, 0.9, 1.0, 1.0, 1.0),
                Arbitraries.integers().between(0, 90))
            .as(Step::new);
    return step.list().ofMinSize(0).ofMaxSize(1500);
  }

  @Property(tries = 60, seed = "20261130")
  void restoredRecordsEqualTheOriginalAndAreAssessedAlike(
      @ForAll("histories") List<Step> history, @ForAll("histories") List<Step> after) {
    TrustPolicy policy = TrustPolicy.defaults();
    MovableClock clock = new MovableClock();
    TrustEngine original = new TrustEngine(policy, clock);
    feed(original, clock, history);

    List<NodeTrustRecord> restored = new ArrayList<>();
    for (NodeTrustRecord r : original.snapshots()) {
      NodeTrustRecord back = throughStorage(r);
      assertThat(back).isEqualTo(r);
      assertThat(back.export()).isEqualTo(r.export());
      TrustEvaluator eval = new TrustEvaluator(policy);
      for (Duration later : List.of(Duration.ZERO, Duration.ofHours(1), Duration.ofDays(2))) {
        Instant at = clock.now.plus(later);
        assertThat(eval.evaluate(back, at)).isEqualTo(eval.evaluate(r, at));
      }
      restored.add(back);
    }

    // A new engine holding the restored records goes on exactly like the original.
    MovableClock clock2 = new MovableClock();
    clock2.now = clock.now;
    TrustEngine copy = new TrustEngine(policy, clock2);
    copy.restore(restored);
    assertThat(copy.tiers()).isEqualTo(original.tiers());
    List<TierTransition> a = feed(original, clock, after);
    List<TierTransition> b = feed(copy, clock2, after);
    assertThat(b).isEqualTo(a);
    assertThat(copy.tiers()).isEqualTo(original.tiers());
    for (String n : original.nodeIds()) {
      assertThat(copy.snapshot(n)).isEqualTo(original.snapshot(n));
      assertThat(copy.score(n)).isEqualTo(original.score(n));
    }
  }

  @Example
  void vettedQuarantinedAndReleasedNodesRoundTrip() {
    TrustPolicy policy = TrustPolicy.defaults();
    MovableClock clock = new MovableClock();
    TrustEngine engine = new TrustEngine(policy, clock);
    List<Step> steps = new ArrayList<>();
    // n-a: 130 healthy ticks 15 minutes apart -> vetted, CRITICAL.
    // n-b: the same, then 30 failed audits -> quarantined (NONE); then 800 clean audits ->
    // released.
    for (int i = 0; i < 130; i++) {
      for (TrustFactor f : TrustFactor.values()) {
        steps.add(new Step(0, f, 1.0, 0));
        steps.add(new Step(1, f, 1.0, 0));
      }
      steps.add(new Step(2, TrustFactor.UPTIME, 1.0, 15));
    }
    feed(engine, clock, steps);
    assertThat(engine.tier("n-a")).isEqualTo(TrustTier.CRITICAL);
    NodeTrustRecord vetted = engine.snapshot("n-a").orElseThrow();
    assertThat(vetted.vetted()).isTrue();
    assertThat(throughStorage(vetted)).isEqualTo(vetted);

    steps.clear();
    for (int i = 0; i < 30; i++) {
      steps.add(new Step(1, TrustFactor.DATA_INTEGRITY, 0.0, 1));
    }
    feed(engine, clock, steps);
    NodeTrustRecord quarantined = engine.snapshot("n-b").orElseThrow();
    assertThat(quarantined.quarantined()).isTrue();
    assertThat(quarantined.tier()).isEqualTo(TrustTier.NONE);
    assertThat(throughStorage(quarantined)).isEqualTo(quarantined);

    steps.clear();
    for (int i = 0; i < 1200; i++) {
      steps.add(new Step(1, TrustFactor.DATA_INTEGRITY, 1.0, 1));
    }
    feed(engine, clock, steps);
    NodeTrustRecord released = engine.snapshot("n-b").orElseThrow();
    assertThat(released.quarantined()).isFalse();
    assertThat(released.vettingSince()).isAfter(released.firstSeen());
    NodeTrustRecord back = throughStorage(released);
    assertThat(back).isEqualTo(released);
    assertThat(back.vettingSince()).isEqualTo(released.vettingSince());
    assertThat(back.auditsPassedSinceVetting()).isEqualTo(released.auditsPassedSinceVetting());
  }

  @Example
  void storedFormIsCompact() {
    TrustPolicy policy = TrustPolicy.defaults();
    MovableClock clock = new MovableClock();
    TrustEngine engine = new TrustEngine(policy, clock);
    List<Step> steps = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      for (TrustFactor f : TrustFactor.values()) {
        steps.add(new Step(0, f, 1.0, 1));
      }
    }
    feed(engine, clock, steps);
    NodeTrustState p = TrustStateCodec.toProto(engine.snapshot("n-a").orElseThrow().export());
    assertThat(p.getSerializedSize()).isLessThan(512);
    assertThat(p.getSchemaVersion()).isEqualTo(TrustStateCodec.SCHEMA_VERSION);
  }

  @Example
  void unusableStoredStatesAreRefusedNamingTheField() {
    MovableClock clock = new MovableClock();
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    feed(engine, clock, List.of(new Step(0, TrustFactor.UPTIME, 1.0, 1)));
    NodeTrustState good = TrustStateCodec.toProto(engine.snapshot("n-a").orElseThrow().export());

    assertThatThrownBy(() -> restore(good.toBuilder().setSchemaVersion(2).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("schema_version 2");
    assertThatThrownBy(
            () -> restore(good.toBuilder().setTier(NodeTrustState.Tier.TIER_UNSPECIFIED).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tier");
    assertThatThrownBy(
            () ->
                restore(
                    good.toBuilder()
                        .setFactors(0, good.getFactors(0).toBuilder().setAlpha(-1))
                        .build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("UPTIME");
    assertThatThrownBy(
            () ->
                restore(
                    good.toBuilder()
                        .setFactors(0, good.getFactors(0).toBuilder().setLatest(2))
                        .build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("latest");
    assertThatThrownBy(() -> restore(good.toBuilder().addFactors(good.getFactors(0)).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("twice");
    assertThatThrownBy(() -> restore(good.toBuilder().setScore(Double.NaN).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("score");
  }

  private static NodeTrustRecord restore(NodeTrustState p) {
    return NodeTrustRecord.restore(TrustStateCodec.fromProto(p));
  }

  private static NodeTrustRecord throughStorage(NodeTrustRecord r) {
    byte[] bytes = TrustStateCodec.toProto(r.export()).toByteArray();
    try {
      return restore(NodeTrustState.parseFrom(bytes));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  private static List<TierTransition> feed(TrustEngine e, MovableClock clock, List<Step> steps) {
    List<TierTransition> out = new ArrayList<>();
    for (Step s : steps) {
      clock.now = clock.now.plus(Duration.ofMinutes(s.minutes()));
      out.addAll(e.record(event(NODES[s.node()], clock.now, s.factor(), s.s())));
    }
    return out;
  }

  private static TrustEvidence event(String node, Instant at, TrustFactor factor, double s) {
    switch (factor) {
      case UPTIME:
        return new TrustEvidence.Heartbeat(node, at, s >= 0.5);
      case DATA_INTEGRITY:
        return new TrustEvidence.IntegrityAudit(
            node, at, TrustEvidence.AuditKind.CHALLENGE, s >= 0.5);
      case CONSENSUS_PARTICIPATION:
        return new TrustEvidence.ReplicationAck(node, at, s >= 0.5);
      case RESPONSE_TIME:
        return new TrustEvidence.LatencySample(
            node, at, TrustEvidence.RoundTrip.COMMAND, Duration.ofNanos(Math.round(1e9 - s * 9e8)));
      case NETWORK_CONTRIBUTION:
        return new TrustEvidence.BytesServed(node, at, Math.round(s * 1_000_000), 1_000_000);
      default:
        return new TrustEvidence.ReportedFactor(node, at, factor, s);
    }
  }
}
