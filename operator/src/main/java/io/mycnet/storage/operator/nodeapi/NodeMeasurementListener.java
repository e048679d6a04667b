package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.ReplicaInventory;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.time.Duration;
import java.time.Instant;

/**
 * Measurement events of the node API, for the trust engine and the replication manager. The node id
 * is always the one of the peer certificate. Called on gRPC threads: implementations must be quick
 * and must not block; an exception is logged and ignored.
 *
 * <p>Verified by the control plane itself: {@link #onHeartbeat} (uptime), {@link #onRoundTrip}
 * (response time), {@link #onCommandAck} (acknowledgement timeliness). Reported by the agent:
 * {@link #onReportedFactors}, {@link #onInventory}.
 */
public interface NodeMeasurementListener {
  NodeMeasurementListener NONE = new NodeMeasurementListener() {};

  /** A heartbeat was received and the node's liveness lease renewed. */
  default void onHeartbeat(String nodeId, Instant at) {}

  /** A control-plane ping was answered after {@code rtt}. */
  default void onRoundTrip(String nodeId, Duration rtt) {}

  /**
   * A command's result arrived {@code sinceDelivery} after the command was sent on the current
   * session ({@code null} when it was sent on an earlier session), and was acknowledged in the
   * queue.
   */
  default void onCommandAck(String nodeId, String commandId, Duration sinceDelivery, boolean ok) {}

  /** The full result of a command (message, audit digest). */
  default void onCommandResult(String nodeId, CommandResult result) {}

  /** The agent's self-measured factors. */
  default void onReportedFactors(String nodeId, MeasuredFactors factors) {}

  /** The agent's replica inventory (after every connect and every change). */
  default void onInventory(String nodeId, ReplicaInventory inventory) {}

  /**
   * Integrity evidence about a node: an audit it passed or failed, or a checksum fault its agent
   * reported (scrub, read). Feeds the data-integrity factor.
   */
  default void onIntegrityEvidence(
      String nodeId,
      String volumeId,
      TrustEvidence.AuditKind kind,
      boolean passed,
      String detail) {}

  /** A session was accepted. */
  default void onSessionOpened(String nodeId, Instant at) {}

  /** A session ended; {@code reason} says why (e.g. "agent closed", a status). */
  default void onSessionClosed(String nodeId, Instant at, String reason) {}
}
