package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.TrustFactorSample;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns what the node API measures into trust evidence: a heartbeat seen (and, through {@link
 * #tick()}, one missed for every heartbeat interval that passes without one) is UPTIME evidence;
 * ping and command round trips are RESPONSE_TIME samples; the agent's normalised self-measurements
 * are REPORTED factors, which the trust engine caps and checks against what it observes. Only what
 * the control plane sees itself is verified evidence, and the node id is always the peer
 * certificate's.
 *
 * <p>Evidence is recorded only while the engine holds the evidence persisted by the previous leader
 * ({@code accepting}): what arrives before that restore is dropped, so new evidence always applies
 * on top of the restored evidence instead of being overwritten by it.
 *
 * <p>Tier transitions that result are delivered by the {@link TrustEngine}'s own listeners (the
 * replication loop subscribes there).
 */
public final class TrustEvidenceFeed implements NodeMeasurementListener {
  private static final Logger LOG = LoggerFactory.getLogger(TrustEvidenceFeed.class);

  private final TrustEngine engine;
  private final Clock clock;
  private final Duration heartbeatInterval;
  private final BooleanSupplier accepting;

  /** Per node: the end of the last heartbeat interval already accounted for. */
  private final Map<String, Instant> accountedUntil = new ConcurrentHashMap<>();

  public TrustEvidenceFeed(TrustEngine engine, Clock clock, Duration heartbeatInterval) {
    this(engine, clock, heartbeatInterval, () -> true);
  }

  /**
   * @param accepting whether the engine may take evidence now (it has been restored)
   */
  public TrustEvidenceFeed(
      TrustEngine engine, Clock clock, Duration heartbeatInterval, BooleanSupplier accepting) {
    this.engine = engine;
    this.clock = clock;
    this.heartbeatInterval = heartbeatInterval;
    this.accepting = accepting;
  }

  @Override
  public void onHeartbeat(String nodeId, Instant at) {
    if (accepting.getAsBoolean()) {
      engine.record(new TrustEvidence.Heartbeat(nodeId, at, true));
    }
    accountedUntil.put(nodeId, at);
  }

  /**
   * An audit's result, a checksum fault the node's own agent reported, or a peer's report of a
   * protocol violation by it: DATA_INTEGRITY evidence. Passed audits also count towards vetting.
   */
  @Override
  public void onIntegrityEvidence(
      String nodeId, String volumeId, TrustEvidence.AuditKind kind, boolean passed, String detail) {
    if (accepting.getAsBoolean()) {
      engine.record(new TrustEvidence.IntegrityAudit(nodeId, clock.instant(), kind, passed));
    }
  }

  @Override
  public void onRoundTrip(String nodeId, Duration rtt) {
    if (!accepting.getAsBoolean()) {
      return;
    }
    engine.record(
        new TrustEvidence.LatencySample(
            nodeId, clock.instant(), TrustEvidence.RoundTrip.HEARTBEAT, rtt));
  }

  @Override
  public void onCommandAck(String nodeId, String commandId, Duration sinceDelivery, boolean ok) {
    if (sinceDelivery != null && accepting.getAsBoolean()) {
      engine.record(
          new TrustEvidence.LatencySample(
              nodeId, clock.instant(), TrustEvidence.RoundTrip.COMMAND, sinceDelivery));
    }
  }

  @Override
  public void onReportedFactors(String nodeId, MeasuredFactors factors) {
    if (!accepting.getAsBoolean()) {
      return;
    }
    Instant at = clock.instant();
    for (TrustFactorSample s : factors.getSamplesList()) {
      try {
        engine.record(
            new TrustEvidence.ReportedFactor(
                nodeId, at, ProtoMapping.fromProto(s.getFactor()), s.getValue()));
      } catch (IllegalArgumentException e) {
        // A verified factor claimed by the agent, a value outside [0,1]: not evidence.
        LOG.warn("node {} reported an unusable factor sample: {}", nodeId, e.getMessage());
      }
    }
  }

  /**
   * Records a missed heartbeat for every whole interval since each node's last heartbeat. Call it
   * periodically (every heartbeat interval); a node that never heartbeat is not accounted here.
   */
  public void tick() {
    if (!accepting.getAsBoolean()) {
      return;
    }
    Instant now = clock.instant();
    for (Map.Entry<String, Instant> e : accountedUntil.entrySet()) {
      Instant next = e.getValue().plus(heartbeatInterval);
      Instant last = e.getValue();
      while (!next.plus(heartbeatInterval).isAfter(now)) {
        // a whole interval, plus one of slack, passed without a heartbeat
        engine.record(new TrustEvidence.Heartbeat(e.getKey(), next, false));
        last = next;
        next = next.plus(heartbeatInterval);
      }
      if (!last.equals(e.getValue())) {
        accountedUntil.replace(e.getKey(), e.getValue(), last);
      }
    }
  }
}
