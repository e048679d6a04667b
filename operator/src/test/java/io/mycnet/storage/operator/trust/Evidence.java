package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.trust.TrustEvidence.AuditKind;
import io.mycnet.storage.operator.trust.TrustEvidence.BytesServed;
import io.mycnet.storage.operator.trust.TrustEvidence.Heartbeat;
import io.mycnet.storage.operator.trust.TrustEvidence.IntegrityAudit;
import io.mycnet.storage.operator.trust.TrustEvidence.LatencySample;
import io.mycnet.storage.operator.trust.TrustEvidence.ReplicationAck;
import io.mycnet.storage.operator.trust.TrustEvidence.ReportedFactor;
import io.mycnet.storage.operator.trust.TrustEvidence.RoundTrip;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Evidence builders for tests. */
final class Evidence {
  private Evidence() {}

  /** One tick of a well-behaved node: one event of every kind, all good. */
  static List<TrustEvidence> healthyTick(String node, Instant at) {
    List<TrustEvidence> out = new ArrayList<>();
    out.add(new Heartbeat(node, at, true));
    out.add(new LatencySample(node, at, RoundTrip.HEARTBEAT, Duration.ofMillis(20)));
    out.add(new ReplicationAck(node, at, true));
    out.add(new IntegrityAudit(node, at, AuditKind.CHALLENGE, true));
    out.add(new BytesServed(node, at, 1_000_000, 1_000_000));
    out.add(new ReportedFactor(node, at, TrustFactor.IO_PERFORMANCE, 1.0));
    out.add(new ReportedFactor(node, at, TrustFactor.ENCRYPTION_COMPLIANCE, 1.0));
    out.add(new ReportedFactor(node, at, TrustFactor.ACCESS_CONTROL, 1.0));
    return out;
  }

  /**
   * Feeds {@code ticks} healthy ticks to the engine, advancing the clock by {@code step} before
   * each; returns every transition.
   */
  static List<TierTransition> feedHealthy(
      TrustEngine engine, MutableClock clock, String node, int ticks, Duration step) {
    List<TierTransition> out = new ArrayList<>();
    for (int i = 0; i < ticks; i++) {
      clock.advance(step);
      out.addAll(engine.recordAll(healthyTick(node, clock.instant())));
    }
    return out;
  }

  static IntegrityAudit audit(String node, Instant at, boolean passed) {
    return new IntegrityAudit(node, at, AuditKind.CHALLENGE, passed);
  }

  static ReportedFactor encryption(String node, Instant at, boolean on) {
    return new ReportedFactor(node, at, TrustFactor.ENCRYPTION_COMPLIANCE, on ? 1.0 : 0.0);
  }

  /** A record with {@code n} events of {@code factor}, all with success weight {@code s}. */
  static NodeTrustRecord recordWith(
      TrustPolicy p, String node, TrustFactor factor, int n, double s) {
    NodeTrustRecord r = NodeTrustRecord.create(node);
    Instant at = MutableClock.EPOCH;
    for (int i = 0; i < n; i++) {
      r.apply(event(node, at, factor, s), p);
    }
    return r;
  }

  /** An event of any factor with success weight exactly {@code s} under the default mapping. */
  static TrustEvidence event(String node, Instant at, TrustFactor factor, double s) {
    switch (factor) {
      case UPTIME:
        return new Heartbeat(node, at, s >= 0.5);
      case DATA_INTEGRITY:
        return audit(node, at, s >= 0.5);
      case CONSENSUS_PARTICIPATION:
        return new ReplicationAck(node, at, s >= 0.5);
      case RESPONSE_TIME:
        // good 100 ms, bad 1000 ms: latency = bad - s * (bad - good)
        return new LatencySample(
            node, at, RoundTrip.COMMAND, Duration.ofNanos(Math.round(1e9 - s * 9e8)));
      case NETWORK_CONTRIBUTION:
        return new BytesServed(node, at, Math.round(s * 1_000_000), 1_000_000);
      default:
        return new ReportedFactor(node, at, factor, s);
    }
  }
}
