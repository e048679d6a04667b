package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.TrustFactor;
import io.mycnet.storage.api.v1.TrustFactorSample;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence.AuditKind;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class TrustEvidenceFeedTest {
  private static final Instant T0 = Instant.parse("2026-11-24T00:00:00Z");

  @Test
  void heartbeatsSeenAndMissedMoveUptimeAndReportsArePassedAsReported() {
    Clock clock = Clock.fixed(T0.plusSeconds(60), ZoneOffset.UTC);
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    TrustEvidenceFeed feed = new TrustEvidenceFeed(engine, clock, Duration.ofSeconds(5));

    for (int i = 0; i < 5; i++) {
      feed.onHeartbeat("n1", T0.plusSeconds(5L * i));
    }
    feed.onHeartbeat("n2", T0.plusSeconds(45));
    // n1's last heartbeat was at T0+20 s: at T0+60 s the intervals ending at 25..55 s are whole
    // and a further one of slack has passed for each: 7 missed. n2 (last at 45 s): 50 and 55.
    feed.tick();
    feed.tick(); // idempotent: nothing more is missed at the same instant
    NodeTrustRecord n1 = engine.snapshot("n1").orElseThrow();
    NodeTrustRecord n2 = engine.snapshot("n2").orElseThrow();
    assertThat(n1.events(io.mycnet.storage.operator.model.TrustFactor.UPTIME)).isEqualTo(5 + 7);
    assertThat(n1.beta(io.mycnet.storage.operator.model.TrustFactor.UPTIME))
        .isGreaterThan(n2.beta(io.mycnet.storage.operator.model.TrustFactor.UPTIME));
    assertThat(n2.events(io.mycnet.storage.operator.model.TrustFactor.UPTIME)).isEqualTo(1 + 2);

    feed.onReportedFactors(
        "n1",
        MeasuredFactors.newBuilder()
            .addSamples(
                TrustFactorSample.newBuilder()
                    .setFactor(TrustFactor.TRUST_FACTOR_ENCRYPTION_COMPLIANCE)
                    .setValue(1.0))
            .addSamples(
                // an agent cannot vouch for a verified factor: ignored, not recorded
                TrustFactorSample.newBuilder()
                    .setFactor(TrustFactor.TRUST_FACTOR_UPTIME)
                    .setValue(1.0))
            .build());
    NodeTrustRecord after = engine.snapshot("n1").orElseThrow();
    assertThat(after.events(io.mycnet.storage.operator.model.TrustFactor.ENCRYPTION_COMPLIANCE))
        .isEqualTo(1);
    assertThat(after.events(io.mycnet.storage.operator.model.TrustFactor.UPTIME)).isEqualTo(5 + 7);
  }

  /**
   * Audits, a node's own checksum faults and a peer's report of a forged write all reach the trust
   * engine as DATA_INTEGRITY evidence; a passed audit counts towards vetting.
   */
  @Test
  void integrityEvidenceReachesTheDataIntegrityFactor() {
    Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    TrustEvidenceFeed feed = new TrustEvidenceFeed(engine, clock, Duration.ofSeconds(5));
    var integrity = io.mycnet.storage.operator.model.TrustFactor.DATA_INTEGRITY;

    feed.onIntegrityEvidence("n1", "v", AuditKind.CHALLENGE, true, "audit passed");
    feed.onIntegrityEvidence("n1", "v", AuditKind.CHALLENGE, true, "audit passed");
    feed.onIntegrityEvidence("n2", "v", AuditKind.PEER_REPORT, false, "forged epoch");
    feed.onIntegrityEvidence("n2", "v", AuditKind.SCRUB, false, "checksum");

    NodeTrustRecord n1 = engine.snapshot("n1").orElseThrow();
    NodeTrustRecord n2 = engine.snapshot("n2").orElseThrow();
    assertThat(n1.events(integrity)).isEqualTo(2);
    assertThat(n1.auditsPassedSinceVetting()).isEqualTo(2);
    assertThat(n2.events(integrity)).isEqualTo(2);
    assertThat(n2.auditsPassedSinceVetting()).isZero();
    assertThat(n2.beta(integrity)).isGreaterThan(n1.beta(integrity));

    // Before the persisted evidence is restored, nothing is recorded.
    TrustEngine fresh = new TrustEngine(TrustPolicy.defaults(), clock);
    new TrustEvidenceFeed(fresh, clock, Duration.ofSeconds(5), () -> false)
        .onIntegrityEvidence("n3", "v", AuditKind.PEER_REPORT, false, "forged epoch");
    assertThat(fresh.has("n3")).isFalse();
  }
}
