package io.mycnet.storage.operator.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * One piece of evidence about one node, as it happens. The engine never receives a ready-made
 * factor value: it receives these events and turns each into a success weight {@code s} in [0,1]
 * for exactly one {@link TrustFactor} (see {@link #factor()} and {@link
 * TrustEvaluator#successWeight}), which then updates that factor's decayed Beta evidence.
 *
 * <p>Everything except {@link ReportedFactor} is observed by the control plane itself (a {@link
 * TrustFactor.Source#VERIFIED} factor). The adapter that turns a gRPC report into a {@link
 * ReportedFactor} must take the node id from the caller's mTLS identity, never from the message, so
 * that a node can never report for another node.
 *
 * <p>Constructors reject malformed evidence with an {@link IllegalArgumentException} naming the
 * field.
 */
public sealed interface TrustEvidence {

  /** The node the evidence is about. */
  String nodeId();

  /** When it was observed (the control plane's clock). */
  Instant at();

  /** The factor this evidence updates. */
  TrustFactor factor();

  /** Which kind of integrity check produced an {@link IntegrityAudit}. */
  enum AuditKind {
    /** The control plane asked for a hash of a random byte range it knows the answer to. */
    CHALLENGE,
    /** A background scrub of a replica's checksums, verified against the allocation record. */
    SCRUB,
    /**
     * Another replica's agent refused a write this node sent it in breach of the replica protocol
     * (an epoch no assignment gave it): the reporter's word, which the control plane checked
     * against the allocation where it could (docs/data-path.md).
     */
    PEER_REPORT
  }

  /** Which round trip a {@link LatencySample} timed. */
  enum RoundTrip {
    HEARTBEAT,
    COMMAND
  }

  /** A challenge/response audit or a scrub result: DATA_INTEGRITY, s = 1 passed, 0 failed. */
  record IntegrityAudit(String nodeId, Instant at, AuditKind kind, boolean passed)
      implements TrustEvidence {
    public IntegrityAudit {
      requireCommon(nodeId, at);
      Objects.requireNonNull(kind, "kind");
    }

    @Override
    public TrustFactor factor() {
      return TrustFactor.DATA_INTEGRITY;
    }
  }

  /**
   * One expected heartbeat interval: seen or missed. UPTIME, s = 1 seen, 0 missed. The control
   * plane emits a missed one for every interval that passes without a heartbeat, so presence is
   * measured over a sliding (decayed) window of intervals.
   */
  record Heartbeat(String nodeId, Instant at, boolean seen) implements TrustEvidence {
    public Heartbeat {
      requireCommon(nodeId, at);
    }

    @Override
    public TrustFactor factor() {
      return TrustFactor.UPTIME;
    }
  }

  /**
   * A heartbeat or command round trip. RESPONSE_TIME, s = 1 at or below {@code responseTimeGood}, 0
   * at or above {@code responseTimeBad}, linear in between.
   */
  record LatencySample(String nodeId, Instant at, RoundTrip roundTrip, Duration latency)
      implements TrustEvidence {
    public LatencySample {
      requireCommon(nodeId, at);
      Objects.requireNonNull(roundTrip, "roundTrip");
      Objects.requireNonNull(latency, "latency");
      if (latency.isNegative()) {
        throw new IllegalArgumentException("latency must not be negative, was " + latency);
      }
    }

    @Override
    public TrustFactor factor() {
      return TrustFactor.RESPONSE_TIME;
    }
  }

  /**
   * A replication acknowledgement the node owed: delivered within its deadline or late/never.
   * CONSENSUS_PARTICIPATION, s = 1 on time, 0 late.
   */
  record ReplicationAck(String nodeId, Instant at, boolean onTime) implements TrustEvidence {
    public ReplicationAck {
      requireCommon(nodeId, at);
    }

    @Override
    public TrustFactor factor() {
      return TrustFactor.CONSENSUS_PARTICIPATION;
    }
  }

  /**
   * One accounting period of peer traffic (replication and rebuilds), counted by the receiving
   * peers and the control plane: how many bytes peers asked this node for and how many it
   * delivered. NETWORK_CONTRIBUTION, s = min(1, served / min(requested, networkTargetBytes)): full
   * credit for serving everything asked, or at least the target. A period in which nobody asked for
   * anything ({@code bytesRequested == 0}) carries no evidence and is ignored, so a node is not
   * penalised for a quiet cluster.
   */
  record BytesServed(String nodeId, Instant at, long bytesServed, long bytesRequested)
      implements TrustEvidence {
    public BytesServed {
      requireCommon(nodeId, at);
      if (bytesServed < 0) {
        throw new IllegalArgumentException("bytesServed must be >= 0, was " + bytesServed);
      }
      if (bytesRequested < 0) {
        throw new IllegalArgumentException("bytesRequested must be >= 0, was " + bytesRequested);
      }
    }

    @Override
    public TrustFactor factor() {
      return TrustFactor.NETWORK_CONTRIBUTION;
    }
  }

  /**
   * A value the agent claims about itself for a {@link TrustFactor.Source#REPORTED} factor,
   * normalised to [0,1] with 1 best (as in the wire type {@code TrustFactorSample}): for
   * IO_PERFORMANCE its disk probe against the pool's expectation, for ENCRYPTION_COMPLIANCE 1 when
   * at-rest encryption is on, for ACCESS_CONTROL the fraction of required local access settings in
   * place. s = value.
   */
  record ReportedFactor(String nodeId, Instant at, TrustFactor factor, double value)
      implements TrustEvidence {
    public ReportedFactor {
      requireCommon(nodeId, at);
      Objects.requireNonNull(factor, "factor");
      if (!factor.isReported()) {
        throw new IllegalArgumentException(
            "factor "
                + factor
                + " is VERIFIED: the control plane measures it, an agent cannot report it");
      }
      if (!(value >= 0.0 && value <= 1.0)) {
        throw new IllegalArgumentException(
            "value of reported " + factor + " must be in [0,1], was " + value);
      }
    }
  }

  private static void requireCommon(String nodeId, Instant at) {
    if (nodeId == null || nodeId.isBlank()) {
      throw new IllegalArgumentException("nodeId must not be empty");
    }
    if (at == null) {
      throw new IllegalArgumentException("at must not be null");
    }
  }
}
