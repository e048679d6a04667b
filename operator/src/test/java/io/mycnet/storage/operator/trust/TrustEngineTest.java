package io.mycnet.storage.operator.trust;

import static io.mycnet.storage.operator.model.Classification.CRITICAL;
import static io.mycnet.storage.operator.model.Classification.PUBLIC;
import static io.mycnet.storage.operator.model.Classification.SENSITIVE;
import static io.mycnet.storage.operator.model.Classification.STANDARD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.trust.TrustEvidence.Heartbeat;
import io.mycnet.storage.operator.trust.TrustEvidence.ReportedFactor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TrustEngineTest {
  private static final Duration QUARTER_HOUR = Duration.ofMinutes(15);

  private final MutableClock clock = new MutableClock();
  private final TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);

  /** A node past vetting with a clean record: 120 healthy ticks, 30 hours. */
  private List<TierTransition> vettedNode(String node) {
    List<TierTransition> t = Evidence.feedHealthy(engine, clock, node, 120, QUARTER_HOUR);
    assertThat(engine.tier(node)).isEqualTo(TrustTier.CRITICAL);
    return t;
  }

  private static void assertEvacuationsExact(List<TierTransition> transitions) {
    for (TierTransition t : transitions) {
      for (var c : io.mycnet.storage.operator.model.Classification.values()) {
        assertThat(t.evacuate().contains(c))
            .as("%s in %s", c, t)
            .isEqualTo(t.from().allows(c) && !t.to().allows(c));
      }
    }
  }

  @Test
  void aNewNodeIsHeldAtStandardUntilVettedThenRises() {
    List<TierTransition> early = Evidence.feedHealthy(engine, clock, "n1", 60, QUARTER_HOUR);
    assertThat(early).extracting(TierTransition::to).containsExactly(TrustTier.STANDARD);
    assertThat(early.get(0).from()).isEqualTo(TrustTier.NONE);
    assertThat(early.get(0).evacuate()).isEmpty();

    TrustAssessment a = engine.assess("n1");
    assertThat(a.tier()).isEqualTo(TrustTier.STANDARD);
    assertThat(a.explanation().scoreTier()).isEqualTo(TrustTier.CRITICAL);
    assertThat(a.explanation().limits())
        .extracting(TierLimit::kind)
        .containsExactly(TierLimit.Kind.VETTING);
    assertThat(a.explanation().vetting().vetted()).isFalse();
    assertThat(a.explanation().vetting().auditsPassed()).isEqualTo(60);
    assertThat(a.explanation().tierReason())
        .contains("at most STANDARD while vetting (60 of 100 integrity audits passed");
    assertThat(a.render())
        .contains("tier STANDARD (score alone: CRITICAL)")
        .contains("vetting: in progress: 60 of 100 integrity audits passed, age 14h45m of 1d");

    List<TierTransition> later = Evidence.feedHealthy(engine, clock, "n1", 40, QUARTER_HOUR);
    assertThat(later).hasSize(1);
    TierTransition up = later.get(0);
    assertThat(up.from()).isEqualTo(TrustTier.STANDARD);
    assertThat(up.to()).isEqualTo(TrustTier.CRITICAL);
    assertThat(up.evacuate()).isEmpty();
    assertThat(up.at()).isEqualTo(clock.instant());
    assertThat(up.reason()).contains("no longer held by vetting: vetted (100 of 100");
  }

  @Test
  void vettingAlsoWaitsForTheMinimumAge() {
    Evidence.feedHealthy(engine, clock, "n1", 150, Duration.ofMinutes(1));
    TrustAssessment a = engine.assess("n1");
    assertThat(a.tier()).isEqualTo(TrustTier.STANDARD);
    assertThat(a.explanation().vetting().auditsPassed()).isEqualTo(150);
    assertThat(a.explanation().vetting().describe()).contains("age 2h29m of 1d");

    clock.advance(Duration.ofHours(21));
    assertThat(engine.reassessAll()).isEmpty();
    clock.advance(Duration.ofHours(1));
    List<TierTransition> t = engine.reassessAll();
    assertThat(t).extracting(TierTransition::to).containsExactly(TrustTier.CRITICAL);
    assertThat(engine.assess("n1").explanation().vetting().vetted()).isTrue();
  }

  @Test
  void encryptionGateKeepsAnUnencryptedNodeOutOfSensitiveTiers() {
    for (int i = 0; i < 120; i++) {
      clock.advance(QUARTER_HOUR);
      List<TrustEvidence> tick = new ArrayList<>(Evidence.healthyTick("n1", clock.instant()));
      tick.set(6, Evidence.encryption("n1", clock.instant(), false));
      engine.recordAll(tick);
    }
    TrustAssessment a = engine.assess("n1");
    assertThat(a.explanation().scoreTier()).isEqualTo(TrustTier.SENSITIVE);
    assertThat(a.tier()).isEqualTo(TrustTier.STANDARD);
    assertThat(a.explanation().gatesFailed())
        .extracting(g -> g.gate().field())
        .containsExactly(
            "gates.CRITICAL.ENCRYPTION_COMPLIANCE", "gates.SENSITIVE.ENCRYPTION_COMPLIANCE");
    assertThat(a.explanation().limits())
        .containsExactly(
            new TierLimit(
                TierLimit.Kind.GATE, TrustTier.STANDARD, "gates.SENSITIVE.ENCRYPTION_COMPLIANCE"));
    assertThat(a.explanation().tierReason())
        .contains("at most STANDARD by gates.SENSITIVE.ENCRYPTION_COMPLIANCE")
        .contains("FAILED");
  }

  @Test
  void switchingEncryptionOffDropsTheNodeAtOnceAndOnAgainRestoresIt() {
    vettedNode("n1");
    clock.advance(Duration.ofMinutes(1));
    List<TierTransition> off = engine.record(Evidence.encryption("n1", clock.instant(), false));
    assertThat(off).hasSize(1);
    assertThat(off.get(0).from()).isEqualTo(TrustTier.CRITICAL);
    assertThat(off.get(0).to()).isEqualTo(TrustTier.STANDARD);
    assertThat(off.get(0).evacuate()).containsExactlyInAnyOrder(CRITICAL, SENSITIVE);
    assertThat(off.get(0).reason())
        .contains("gates.SENSITIVE.ENCRYPTION_COMPLIANCE")
        .contains("latest report 0.00: FAILED (latest report)");

    clock.advance(Duration.ofMinutes(1));
    List<TierTransition> on = engine.record(Evidence.encryption("n1", clock.instant(), true));
    assertThat(on).hasSize(1);
    assertThat(on.get(0).to()).isEqualTo(TrustTier.CRITICAL);
    assertThat(on.get(0).evacuate()).isEmpty();
    assertThat(on.get(0).reason()).contains("no longer held by gates.SENSITIVE");
  }

  @Test
  void belowMinimumUptimeANodeHoldsNothing() {
    List<TierTransition> all = new ArrayList<>(vettedNode("n1"));
    for (int i = 0; i < 100; i++) {
      clock.advance(Duration.ofSeconds(10));
      all.addAll(engine.record(new Heartbeat("n1", clock.instant(), false)));
    }
    TrustAssessment a = engine.assess("n1");
    assertThat(a.tier()).isEqualTo(TrustTier.NONE);
    assertThat(a.explanation().limits())
        .extracting(TierLimit::kind)
        .containsExactly(TierLimit.Kind.MIN_UPTIME);
    assertThat(a.explanation().tierReason()).contains("no tier by minUptime: UPTIME >= 0.80");
    TierTransition last = all.get(all.size() - 1);
    assertThat(last.to()).isEqualTo(TrustTier.NONE);
    assertThat(last.reason()).contains("minUptime");
    assertEvacuationsExact(all);
  }

  @Test
  void aNodeFailingEveryAuditIsQuarantinedAfter26AndLosesEveryTier() {
    vettedNode("n1");
    for (int i = 1; i <= 25; i++) {
      clock.advance(Duration.ofMinutes(1));
      assertThat(engine.record(Evidence.audit("n1", clock.instant(), false))).isEmpty();
    }
    assertThat(engine.assess("n1").explanation().quarantine().quarantined()).isFalse();
    clock.advance(Duration.ofMinutes(1));
    List<TierTransition> t = engine.record(Evidence.audit("n1", clock.instant(), false));
    assertThat(t).hasSize(1);
    assertThat(t.get(0).from()).isEqualTo(TrustTier.CRITICAL);
    assertThat(t.get(0).to()).isEqualTo(TrustTier.NONE);
    assertThat(t.get(0).evacuate())
        .containsExactlyInAnyOrder(CRITICAL, SENSITIVE, STANDARD, PUBLIC);
    assertThat(t.get(0).reason()).contains("no tier: quarantined, integrity reputation 0.97");
    TrustAssessment a = engine.assess("n1");
    assertThat(a.explanation().quarantine().quarantined()).isTrue();
    assertThat(a.explanation().vetting().suspended()).isTrue();
    assertThat(a.render())
        .contains("quarantine: QUARANTINED")
        .contains("vetting: suspended while quarantined");
    assertThat(engine.score("n1")).isEqualTo(a.score()).isGreaterThan(0.9);
    assertThat(engine.score("unknown")).isZero();
  }

  @Test
  void quarantineDoesNotFireOnLackOfEvidence() {
    engine.record(Evidence.audit("new", clock.instant(), false));
    TrustAssessment a = engine.assess("new");
    QuarantineStatus q = a.explanation().quarantine();
    assertThat(q.quarantined()).isFalse();
    assertThat(q.integrityReputation()).isEqualTo(1 - 0.001);
    // The score, on the other hand, gives the unproven node almost nothing for integrity.
    assertThat(a.explanation().factors().get(TrustFactor.DATA_INTEGRITY.ordinal()).lowerBound())
        .isLessThan(0.01);
    // A new node failing everything is caught exactly as fast as a veteran: after 26 audits.
    int audits = 1;
    while (!engine.assess("new").explanation().quarantine().quarantined()) {
      engine.record(Evidence.audit("new", clock.instant(), false));
      audits++;
    }
    assertThat(audits).isEqualTo(26);
  }

  @Test
  void aQuarantinedNodeIsReleasedAfterRecoveringAndThenVettedAgain() {
    vettedNode("n1");
    for (int i = 0; i < 26; i++) {
      clock.advance(Duration.ofMinutes(1));
      engine.record(Evidence.audit("n1", clock.instant(), false));
    }
    assertThat(engine.tier("n1")).isEqualTo(TrustTier.NONE);
    List<TierTransition> t = Evidence.feedHealthy(engine, clock, "n1", 900, Duration.ofMinutes(1));
    assertThat(t).extracting(TierTransition::to).containsExactly(TrustTier.STANDARD);
    assertThat(t.get(0).reason()).contains("no longer held by quarantine: clear");
    TrustAssessment a = engine.assess("n1");
    assertThat(a.explanation().quarantine().integrityReputation()).isGreaterThanOrEqualTo(0.9875);
    assertThat(a.explanation().vetting().vetted()).isFalse();
    assertThat(a.explanation().vetting().auditsPassed()).isBetween(170L, 190L);
    clock.advance(Duration.ofHours(24));
    assertThat(engine.reassessAll())
        .extracting(TierTransition::to)
        .containsExactly(TrustTier.CRITICAL);
  }

  @Test
  void aPolicyChangeMovesNodesAndEvacuatesOnlyWhatTheyLose() {
    for (int i = 0; i < 120; i++) {
      clock.advance(QUARTER_HOUR);
      List<TrustEvidence> tick = new ArrayList<>(Evidence.healthyTick("n1", clock.instant()));
      tick.set(7, new ReportedFactor("n1", clock.instant(), TrustFactor.ACCESS_CONTROL, 0.5));
      engine.recordAll(tick);
    }
    double score = engine.assess("n1").score();
    assertThat(score).isBetween(0.91, 0.93);
    assertThat(engine.tier("n1")).isEqualTo(TrustTier.CRITICAL);

    assertThat(engine.applyPolicy(TrustPolicy.defaults())).isEmpty();
    // Within the hysteresis band of the new threshold: no data moves.
    TrustPolicy slightlyStricter =
        TrustPolicy.defaults().toBuilder().threshold(TrustTier.CRITICAL, score + 0.01).build();
    assertThat(engine.applyPolicy(slightlyStricter)).isEmpty();

    TrustPolicy stricter =
        TrustPolicy.defaults().toBuilder().threshold(TrustTier.CRITICAL, 0.96).build();
    List<TierTransition> t = engine.applyPolicy(stricter);
    assertThat(t).hasSize(1);
    assertThat(t.get(0).to()).isEqualTo(TrustTier.SENSITIVE);
    assertThat(t.get(0).evacuate()).containsExactly(CRITICAL);
    assertThat(t.get(0).reason())
        .startsWith("policy changed: score 0.9")
        .contains("< CRITICAL threshold 0.96 - hysteresis 0.02: down to SENSITIVE");
    assertThat(engine.policy()).isEqualTo(stricter);
  }

  @Test
  void sameEvidenceSamePolicySameClockGiveTheSameResult() {
    MutableClock c1 = new MutableClock();
    MutableClock c2 = new MutableClock();
    TrustEngine e1 = new TrustEngine(TrustPolicy.defaults(), c1);
    TrustEngine e2 = new TrustEngine(TrustPolicy.defaults(), c2);
    List<TierTransition> t1 = new ArrayList<>();
    List<TierTransition> t2 = new ArrayList<>();
    Random rnd = new Random(7);
    for (int i = 0; i < 400; i++) {
      c1.advance(Duration.ofMinutes(5));
      c2.advance(Duration.ofMinutes(5));
      String node = "n" + rnd.nextInt(5);
      TrustFactor f = TrustFactor.values()[rnd.nextInt(TrustFactor.values().length)];
      double s = rnd.nextDouble() < 0.9 ? 1 : rnd.nextDouble();
      TrustEvidence e = Evidence.event(node, c1.instant(), f, s);
      t1.addAll(e1.record(e));
      t2.addAll(e2.record(e));
    }
    assertThat(t1).isEqualTo(t2).isNotEmpty();
    for (String node : e1.nodeIds()) {
      TrustAssessment a1 = e1.assess(node);
      TrustAssessment a2 = e2.assess(node);
      assertThat(a1).isEqualTo(a2);
      assertThat(a1.render()).isEqualTo(a2.render());
      assertThat(e1.snapshot(node)).isEqualTo(e2.snapshot(node));
    }
    assertEvacuationsExact(t1);
  }

  @Test
  void listenersSeeEveryTransitionAndForgettingANodeEvacuatesIt() {
    List<TierTransition> seen = new ArrayList<>();
    engine.addTransitionListener(seen::add);
    List<TierTransition> returned = new ArrayList<>(vettedNode("n1"));
    returned.addAll(engine.forget("n1"));
    assertThat(seen).isEqualTo(returned);
    TierTransition gone = returned.get(returned.size() - 1);
    assertThat(gone.to()).isEqualTo(TrustTier.NONE);
    assertThat(gone.evacuate()).containsExactlyInAnyOrder(CRITICAL, SENSITIVE, STANDARD, PUBLIC);
    assertThat(gone.reason()).isEqualTo("node removed from the trust engine");
    assertThat(engine.tier("n1")).isEqualTo(TrustTier.NONE);
    assertThat(engine.nodeIds()).isEmpty();
    assertThatThrownBy(() -> engine.assess("n1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("n1");
  }

  @Test
  void renderListsEveryFactorGateAndState() {
    Evidence.feedHealthy(engine, clock, "n1", 30, QUARTER_HOUR);
    String text = engine.assess("n1").render();
    for (TrustFactor f : TrustFactor.values()) {
      assertThat(text).contains(f.name());
    }
    assertThat(text)
        .startsWith("node n1 at 2025-01-01T07:30:00Z: score 0.")
        .contains("why: score")
        .contains("factor")
        .contains("bound")
        .contains("contrib")
        .contains("gates:\n  minUptime: UPTIME >= 0.80 for every tier: bound 0.9")
        .contains(
            "gates.CRITICAL.ENCRYPTION_COMPLIANCE: ENCRYPTION_COMPLIANCE >= 0.90 for CRITICAL")
        .contains("vetting: in progress: 30 of 100")
        .contains("quarantine: clear: integrity reputation 1.0000");
  }
}
