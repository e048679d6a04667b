package io.mycnet.storage.operator.nodeapi;

import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.ReplicaInventory;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Several {@link NodeMeasurementListener}s as one: each event goes to each, in order. */
public final class NodeMeasurementListeners implements NodeMeasurementListener {
  private static final Logger LOG = LoggerFactory.getLogger(NodeMeasurementListeners.class);
  private final List<NodeMeasurementListener> listeners;

  private NodeMeasurementListeners(List<NodeMeasurementListener> listeners) {
    this.listeners = List.copyOf(listeners);
  }

  /**
   * One listener calling every one of {@code listeners}; one that throws does not stop the rest.
   */
  public static NodeMeasurementListener all(NodeMeasurementListener... listeners) {
    return new NodeMeasurementListeners(List.of(listeners));
  }

  private void each(Consumer<NodeMeasurementListener> call) {
    for (NodeMeasurementListener l : listeners) {
      try {
        call.accept(l);
      } catch (RuntimeException e) {
        LOG.warn("node measurement listener {} failed", l.getClass().getSimpleName(), e);
      }
    }
  }

  @Override
  public void onHeartbeat(String nodeId, Instant at) {
    each(l -> l.onHeartbeat(nodeId, at));
  }

  @Override
  public void onRoundTrip(String nodeId, Duration rtt) {
    each(l -> l.onRoundTrip(nodeId, rtt));
  }

  @Override
  public void onCommandAck(String nodeId, String commandId, Duration sinceDelivery, boolean ok) {
    each(l -> l.onCommandAck(nodeId, commandId, sinceDelivery, ok));
  }

  @Override
  public void onCommandResult(String nodeId, CommandResult result) {
    each(l -> l.onCommandResult(nodeId, result));
  }

  @Override
  public void onReportedFactors(String nodeId, MeasuredFactors factors) {
    each(l -> l.onReportedFactors(nodeId, factors));
  }

  @Override
  public void onInventory(String nodeId, ReplicaInventory inventory) {
    each(l -> l.onInventory(nodeId, inventory));
  }

  @Override
  public void onIntegrityEvidence(
      String nodeId, String volumeId, TrustEvidence.AuditKind kind, boolean passed, String detail) {
    each(l -> l.onIntegrityEvidence(nodeId, volumeId, kind, passed, detail));
  }

  @Override
  public void onSessionOpened(String nodeId, Instant at) {
    each(l -> l.onSessionOpened(nodeId, at));
  }

  @Override
  public void onSessionClosed(String nodeId, Instant at, String reason) {
    each(l -> l.onSessionClosed(nodeId, at, reason));
  }
}
