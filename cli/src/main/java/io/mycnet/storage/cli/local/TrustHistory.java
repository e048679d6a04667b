package io.mycnet.storage.cli.local;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * The history a local-mode node brings with it. Earning a tier takes time on purpose (SENSITIVE and
 * CRITICAL need 100 passed audits and 24 hours of vetting under the default policy), so local mode
 * would otherwise start with every node untrusted. A node's {@link Record} in the topology file is
 * turned into the evidence such a history would have produced, spread evenly over the past {@code
 * days}, and recorded into the control plane's trust engine at the node's first start (when etcd
 * holds no trust record for it); from then on the node's live heartbeats, round trips, reports and
 * audits are added as in a cluster, persisted, and restored at every later start. The engine, not
 * this class, decides the scores and tiers.
 *
 * @see LocalTopology
 */
final class TrustHistory {
  private TrustHistory() {}

  /**
   * @param days how far back the history reaches
   * @param audits audits answered over that time
   * @param failedAudits of which failed
   * @param uptime fraction of heartbeats seen (and of replication acks on time)
   * @param responseTime typical round trip
   */
  record Record(int days, int audits, int failedAudits, double uptime, Duration responseTime) {}

  /** Heartbeats, round trips, acks and reports per history (spread over {@code days}). */
  static final int HEARTBEATS = 1500;

  static final int SAMPLES = 400;

  /** The evidence the record stands for, oldest first. */
  static List<TrustEvidence> evidence(String node, Record r, boolean encryption, Instant now) {
    List<TrustEvidence> out = new ArrayList<>();
    Instant start = now.minus(Duration.ofDays(Math.max(1, r.days())));
    long span = Duration.between(start, now).toMillis();
    // Deterministic spreading: the k-th of n events at k/n of the span; failures evenly placed.
    for (int k = 0; k < HEARTBEATS; k++) {
      Instant at = start.plusMillis(span * k / HEARTBEATS);
      out.add(new TrustEvidence.Heartbeat(node, at, !every(k, HEARTBEATS, 1 - r.uptime())));
    }
    for (int k = 0; k < r.audits(); k++) {
      Instant at = start.plusMillis(span * k / Math.max(1, r.audits()) + 7);
      boolean failed = every(k, r.audits(), (double) r.failedAudits() / Math.max(1, r.audits()));
      out.add(
          new TrustEvidence.IntegrityAudit(node, at, TrustEvidence.AuditKind.CHALLENGE, !failed));
    }
    for (int k = 0; k < SAMPLES; k++) {
      Instant at = start.plusMillis(span * k / SAMPLES + 13);
      out.add(
          new TrustEvidence.LatencySample(
              node, at, TrustEvidence.RoundTrip.HEARTBEAT, r.responseTime()));
      out.add(new TrustEvidence.ReplicationAck(node, at, !every(k, SAMPLES, 1 - r.uptime())));
      out.add(new TrustEvidence.BytesServed(node, at, 256L << 20, 256L << 20));
      out.add(new TrustEvidence.ReportedFactor(node, at, TrustFactor.IO_PERFORMANCE, 0.9));
      out.add(new TrustEvidence.ReportedFactor(node, at, TrustFactor.ACCESS_CONTROL, 1.0));
      out.add(
          new TrustEvidence.ReportedFactor(
              node, at, TrustFactor.ENCRYPTION_COMPLIANCE, encryption ? 1.0 : 0.0));
    }
    out.sort(Comparator.comparing(TrustEvidence::at));
    return out;
  }

  /** Records every node's history into the engine. */
  static void seed(TrustEngine engine, LocalTopology topology, Instant now) {
    seed(engine, topology, now, Set.of());
  }

  /**
   * Records the history of every node except those in {@code known} (nodes whose trust the control
   * plane persisted at an earlier start: their real evidence is restored instead).
   *
   * @return the ids of the nodes seeded
   */
  static List<String> seed(
      TrustEngine engine, LocalTopology topology, Instant now, Set<String> known) {
    List<String> seeded = new ArrayList<>();
    for (LocalTopology.Node n : topology.nodes()) {
      if (known.contains(n.id())) {
        continue;
      }
      engine.recordAll(evidence(n.id(), n.record(), n.encryption(), now));
      seeded.add(n.id());
    }
    return seeded;
  }

  /** Whether event k of n is one of the {@code share} that failed, spread evenly. */
  private static boolean every(int k, int n, double share) {
    if (share <= 0) {
      return false;
    }
    long failedBefore = (long) Math.floor(k * share);
    long failedThrough = (long) Math.floor((k + 1) * share);
    return failedThrough > failedBefore;
  }
}
