package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.TrustFactor;
import io.mycnet.storage.api.v1.TrustFactorSample;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustEngine;
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
}
