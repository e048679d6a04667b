package io.mycnet.storage.operator.nodeapi;

import io.etcd.jetcd.Watch;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.Heartbeat;
import io.mycnet.storage.api.v1.HeartbeatAck;
import io.mycnet.storage.api.v1.MeasuredFactors;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.Ping;
import io.mycnet.storage.api.v1.ReplicaInfo;
import io.mycnet.storage.api.v1.ReplicaInventory;
import io.mycnet.storage.api.v1.SessionHello;
import io.mycnet.storage.api.v1.SessionWelcome;
import io.mycnet.storage.api.v1.TrustFactor;
import io.mycnet.storage.api.v1.TrustFactorSample;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One agent's session stream on the control plane. The node id is fixed at creation from the peer
 * certificate ({@link NodePeer#NODE_ID}); every etcd key this session touches is derived from it.
 *
 * <p>Delivery: after the hello, the node's command-queue watch is opened and then the queued
 * commands are read, so nothing enqueued in between is missed; a command is sent at most once per
 * session (duplicates from the watch and the read are dropped) and acknowledged in the queue only
 * when the agent's {@code CommandResult} arrives. A command without a result is sent again on the
 * next session.
 */
final class AgentSession implements StreamObserver<AgentMessage> {
  private static final Logger LOG = LoggerFactory.getLogger(AgentSession.class);
  private static final int MAX_OUTSTANDING_PINGS = 16;
  private static final int MAX_REMEMBERED_ANSWERS = 10_000;

  private final SessionService service;
  private final String nodeId;
  private final String serial;
  private final ServerCallStreamObserver<ControlMessage> out;
  private final Object sendLock = new Object();
  private final Map<String, Long> inFlight = new ConcurrentHashMap<>();
  private final Set<String> answered = ConcurrentHashMap.newKeySet();
  private final Map<Long, Long> pings = new ConcurrentHashMap<>();
  private volatile boolean hello;
  private volatile boolean closed;
  private volatile Watch.Watcher watcher;
  private volatile ScheduledFuture<?> pingTask;
  private long lastRecordWriteMs;
  private long lastCapacity = -1;
  private long lastUsed = -1;
  private final Object revocationLock = new Object();
  private volatile long revocationsSent = -1;

  AgentSession(
      SessionService service,
      String nodeId,
      String serial,
      ServerCallStreamObserver<ControlMessage> out) {
    this.service = service;
    this.nodeId = nodeId;
    this.serial = serial;
    this.out = out;
  }

  String nodeId() {
    return nodeId;
  }

  String serial() {
    return serial;
  }

  @Override
  public void onNext(AgentMessage m) {
    if (closed) {
      return;
    }
    try {
      if (m.getKindCase() == AgentMessage.KindCase.HELLO) {
        onHello(m.getHello());
        return;
      }
      if (!hello) {
        throw Status.FAILED_PRECONDITION
            .withDescription(
                "the first message of a session must be a SessionHello, got " + m.getKindCase())
            .asRuntimeException();
      }
      switch (m.getKindCase()) {
        case HEARTBEAT -> onHeartbeat(m.getHeartbeat());
        case INVENTORY -> onInventory(m.getInventory());
        case FACTORS -> onFactors(m.getFactors());
        case COMMAND_RESULT -> onCommandResult(m.getCommandResult());
        case PONG -> onPong(m.getPong().getNonce());
        case REPLICA_REPORT -> onReplicaReport(m.getReplicaReport());
        default ->
            throw Status.INVALID_ARGUMENT
                .withDescription("empty AgentMessage: set one of its kinds")
                .asRuntimeException();
      }
    } catch (StatusRuntimeException e) {
      end(e.getStatus());
    } catch (StoreUnavailableException e) {
      service.refusals().refused("etcd:" + nodeId, "session of " + nodeId + ": " + e.getMessage());
      end(
          Status.UNAVAILABLE.withDescription(
              "the control plane cannot reach etcd right now; reconnect with backoff"));
    } catch (RuntimeException e) {
      LOG.error("session of {} failed on a {}", nodeId, m.getKindCase(), e);
      end(Status.INTERNAL.withDescription("control plane error: " + e));
    }
  }

  private void onHello(SessionHello h) {
    if (hello) {
      throw Status.FAILED_PRECONDITION
          .withDescription("SessionHello sent twice in one session")
          .asRuntimeException();
    }
    if (!h.getNodeId().isEmpty() && !h.getNodeId().equals(nodeId)) {
      String why =
          "the hello names node "
              + h.getNodeId()
              + " but this connection's certificate is for node "
              + nodeId
              + ": an agent can only speak for the node of its own certificate";
      service
          .refusals()
          .refused(
              "impersonation:" + nodeId + ":" + h.getNodeId(),
              "session from " + NodePeer.remoteHost() + ": " + why);
      throw Status.PERMISSION_DENIED.withDescription(why).asRuntimeException();
    }
    Optional<NodeRecord> rec = service.registry().get(nodeId);
    if (rec.isEmpty()) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "node "
                  + nodeId
                  + " is not registered with the control plane (removed, or etcd was reset):"
                  + " rejoin with a bootstrap token")
          .asRuntimeException();
    }
    if (rec.get().getState() == io.mycnet.storage.api.v1.NodeState.NODE_STATE_REMOVED) {
      throw Status.PERMISSION_DENIED
          .withDescription(
              "node "
                  + nodeId
                  + " was removed by an operator ("
                  + rec.get().getRemovedReason()
                  + "): an operator must re-admit it and it must join again")
          .asRuntimeException();
    }
    hello = true;
    AgentSession previous = service.sessions().put(nodeId, this);
    if (previous != null && previous != this) {
      previous.end(Status.ABORTED.withDescription("replaced by a newer session of the same node"));
    }
    service.registry().heartbeat(nodeId);
    if (rec.get().getBoundKeySha256().isEmpty() && NodePeer.CERTIFICATE.get() != null) {
      // A record from before key binding: bind it to the key this authenticated session holds.
      com.google.protobuf.ByteString key =
          com.google.protobuf.ByteString.copyFrom(
              JoinService.keySha256(NodePeer.CERTIFICATE.get()));
      service
          .registry()
          .update(
              nodeId,
              r ->
                  r == null || !r.getBoundKeySha256().isEmpty()
                      ? null
                      : r.toBuilder().setBoundKeySha256(key).build());
    }
    if (!h.getAddress().isEmpty() && !h.getAddress().equals(rec.get().getAddress())) {
      service
          .registry()
          .update(nodeId, r -> r == null ? null : r.toBuilder().setAddress(h.getAddress()).build());
    }
    send(
        ControlMessage.newBuilder()
            .setWelcome(
                SessionWelcome.newBuilder()
                    .setNodeId(nodeId)
                    .setHeartbeatIntervalMs(service.settings().heartbeatInterval().toMillis())
                    .setServerTimeUnixMs(service.clock().millis()))
            .build());
    LOG.info(
        "session of node {} opened from {} (agent {}, started {})",
        nodeId,
        NodePeer.remoteHost(),
        h.getAgentVersion(),
        java.time.Instant.ofEpochMilli(h.getAgentStartedAtUnixMs()));
    sendRevocations();
    notify(l -> l.onSessionOpened(nodeId, service.clock().instant()));
    notify(l -> l.onHeartbeat(nodeId, service.clock().instant()));
    watcher = service.queue().watch(nodeId, this::deliver);
    if (closed) {
      watcher.close();
      return;
    }
    for (NodeCommand c : service.queue().pending(nodeId)) {
      deliver(c);
    }
    long interval = service.settings().pingInterval().toMillis();
    pingTask =
        service
            .timer()
            .scheduleAtFixedRate(
                this::ping,
                ThreadLocalRandom.current().nextLong(Math.min(interval, 1000)),
                interval,
                TimeUnit.MILLISECONDS);
  }

  /**
   * Sends the control plane's current revocation list (in full). Lists are built and sent under one
   * lock, so the agent never gets an older list after a newer one within a session.
   */
  void sendRevocations() {
    if (!hello || closed) {
      return;
    }
    synchronized (revocationLock) {
      io.mycnet.storage.api.v1.RevocationList l = service.security().revocationList();
      send(ControlMessage.newBuilder().setRevocations(l).build());
      revocationsSent = l.getRevision();
    }
  }

  private void deliver(NodeCommand c) {
    if (closed || answered.contains(c.getCommandId())) {
      return;
    }
    if (inFlight.putIfAbsent(c.getCommandId(), System.nanoTime()) == null) {
      send(ControlMessage.newBuilder().setCommand(c).build());
      LOG.debug("sent command {} (seq {}) to {}", c.getCommandId(), c.getSequence(), nodeId);
    }
  }

  private void onHeartbeat(Heartbeat h) {
    if (h.getCapacityBytes() < 0 || h.getUsedBytes() < 0 || h.getReplicaCount() < 0) {
      throw Status.INVALID_ARGUMENT
          .withDescription("heartbeat: capacity_bytes, used_bytes and replica_count must be >= 0")
          .asRuntimeException();
    }
    if (service.security().cachedNodeRevocation(nodeId).isPresent()) {
      // Removed while this session was open: no heartbeat may bring its liveness back.
      end(Status.UNAUTHENTICATED.withDescription("node " + nodeId + " was removed"));
      return;
    }
    service.registry().heartbeat(nodeId);
    long now = service.clock().millis();
    boolean changed = h.getCapacityBytes() != lastCapacity || h.getUsedBytes() != lastUsed;
    if (changed
        || now - lastRecordWriteMs >= service.settings().recordRefreshInterval().toMillis()) {
      service
          .registry()
          .update(
              nodeId,
              r ->
                  r == null
                      ? null
                      : r.toBuilder()
                          .setUsedBytes(h.getUsedBytes())
                          .setCapacityBytes(
                              h.getCapacityBytes() > 0
                                  ? h.getCapacityBytes()
                                  : r.getCapacityBytes())
                          .setLastSeenUnixMs(now)
                          .build());
      lastRecordWriteMs = now;
      lastCapacity = h.getCapacityBytes();
      lastUsed = h.getUsedBytes();
    }
    notify(l -> l.onHeartbeat(nodeId, service.clock().instant()));
    send(
        ControlMessage.newBuilder()
            .setHeartbeatAck(HeartbeatAck.newBuilder().setSequence(h.getSequence()))
            .build());
    if (revocationsSent != service.security().revision()) {
      // A change whose push raced with another one: resent within one heartbeat interval.
      sendRevocations();
    }
    service.heartbeatsHandled().increment();
  }

  private void onInventory(ReplicaInventory inv) {
    for (int i = 0; i < inv.getReplicasCount(); i++) {
      ReplicaInfo r = inv.getReplicas(i);
      try {
        EtcdKeys.id("volume id", r.getVolumeId());
      } catch (IllegalArgumentException e) {
        throw Status.INVALID_ARGUMENT
            .withDescription("inventory.replicas[" + i + "].volume_id: " + e.getMessage())
            .asRuntimeException();
      }
      if (r.getSizeBytes() < 0) {
        throw Status.INVALID_ARGUMENT
            .withDescription("inventory.replicas[" + i + "].size_bytes is negative")
            .asRuntimeException();
      }
    }
    if (inv.getMissingCount() > 0) {
      LOG.info(
          "inventory of {}: {} replica(s), missing {}",
          nodeId,
          inv.getReplicasCount(),
          inv.getMissingList().stream().map(m -> m.getVolumeId()).toList());
    } else {
      LOG.debug("inventory of {}: {} replica(s)", nodeId, inv.getReplicasCount());
    }
    notify(l -> l.onInventory(nodeId, inv));
  }

  private void onFactors(MeasuredFactors f) {
    for (int i = 0; i < f.getSamplesCount(); i++) {
      TrustFactorSample s = f.getSamples(i);
      if (s.getFactor() == TrustFactor.TRUST_FACTOR_UNSPECIFIED
          || s.getFactor() == TrustFactor.UNRECOGNIZED) {
        throw Status.INVALID_ARGUMENT
            .withDescription("factors.samples[" + i + "].factor is unspecified")
            .asRuntimeException();
      }
      if (!(s.getValue() >= 0.0 && s.getValue() <= 1.0)) {
        throw Status.INVALID_ARGUMENT
            .withDescription(
                "factors.samples[" + i + "].value " + s.getValue() + " is outside [0,1]")
            .asRuntimeException();
      }
    }
    if (!(f.getWriteMibPerSecond() >= 0) || f.getFsyncLatencyP50Micros() < 0) {
      throw Status.INVALID_ARGUMENT
          .withDescription("factors: probe figures must be non-negative numbers")
          .asRuntimeException();
    }
    notify(l -> l.onReportedFactors(nodeId, f));
  }

  private void onCommandResult(CommandResult r) {
    if (r.getCommandId().isEmpty()) {
      throw Status.INVALID_ARGUMENT
          .withDescription("command_result.command_id is empty")
          .asRuntimeException();
    }
    try {
      EtcdKeys.id("command id", r.getCommandId());
    } catch (IllegalArgumentException e) {
      throw Status.INVALID_ARGUMENT
          .withDescription("command_result.command_id: " + e.getMessage())
          .asRuntimeException();
    }
    // Applied before the acknowledgement: if etcd cannot take it now, the session ends, the
    // command stays queued and the agent answers it again (its result is remembered).
    service.replicaEvents().commandResult(nodeId, r);
    Long sentAt = inFlight.remove(r.getCommandId());
    if (answered.size() >= MAX_REMEMBERED_ANSWERS) {
      answered.clear();
    }
    answered.add(r.getCommandId());
    // The queue is the node's own (node id from the certificate): a result naming another node's
    // command id finds nothing to acknowledge.
    boolean acked = service.queue().ack(nodeId, r.getCommandId());
    Duration took = sentAt == null ? null : Duration.ofNanos(System.nanoTime() - sentAt);
    if (r.getOk()) {
      LOG.info("node {} applied command {}{}", nodeId, r.getCommandId(), acked ? "" : " (repeat)");
    } else {
      LOG.info("node {} did not apply command {}: {}", nodeId, r.getCommandId(), r.getMessage());
    }
    var waiter = service.awaited().remove(r.getCommandId());
    if (waiter != null) {
      waiter.complete(r);
    }
    notify(l -> l.onCommandAck(nodeId, r.getCommandId(), took, r.getOk()));
    notify(l -> l.onCommandResult(nodeId, r));
  }

  private void onReplicaReport(io.mycnet.storage.api.v1.ReplicaReport r) {
    try {
      EtcdKeys.id("volume id", r.getVolumeId());
    } catch (IllegalArgumentException e) {
      throw Status.INVALID_ARGUMENT
          .withDescription("replica_report.volume_id: " + e.getMessage())
          .asRuntimeException();
    }
    String vol = r.getVolumeId();
    switch (r.getKind()) {
      case REBUILD_PROGRESS, REBUILD_FAILED -> {
        service.rebuilds().put(vol + "@" + nodeId, r);
        LOG.info(
            "rebuild of {} on {}: {} of {} bytes{}",
            vol,
            nodeId,
            r.getBytesDone(),
            r.getBytesTotal(),
            r.getKind() == io.mycnet.storage.api.v1.ReplicaReport.Kind.REBUILD_FAILED
                ? " (interrupted: " + r.getMessage() + ")"
                : "");
        if (r.getKind() == io.mycnet.storage.api.v1.ReplicaReport.Kind.REBUILD_FAILED
            && !r.getNodeId().isEmpty()) {
          // The rebuild gave up: the named peer holds no replica of the volume.
          try {
            EtcdKeys.id("node id", r.getNodeId());
          } catch (IllegalArgumentException e) {
            throw Status.INVALID_ARGUMENT
                .withDescription("replica_report.node_id: " + e.getMessage())
                .asRuntimeException();
          }
          service.replicaEvents().rebuildSourceMissing(nodeId, vol, r.getNodeId(), r.getEpoch());
        }
      }
      case REBUILD_COMPLETE -> {
        service.rebuilds().put(vol + "@" + nodeId, r);
        LOG.info("rebuild of {} on {} complete at epoch {}", vol, nodeId, r.getEpoch());
        service.replicaEvents().rebuildComplete(nodeId, vol, r.getEpoch());
      }
      case INTEGRITY_FAULT -> {
        LOG.warn("integrity fault in the replica of {} on {}: {}", vol, nodeId, r.getMessage());
        notify(
            l ->
                l.onIntegrityEvidence(
                    nodeId, vol, TrustEvidence.AuditKind.SCRUB, false, r.getMessage()));
        service.replicaEvents().replicaUnhealthy(vol, nodeId, r.getMessage());
      }
      case REPLICA_OUT_OF_SYNC -> {
        LOG.warn(
            "primary {} reports the replica of {} on {} out of sync: {}",
            nodeId,
            vol,
            r.getNodeId(),
            r.getMessage());
        service.replicaEvents().replicaUnhealthy(vol, r.getNodeId(), r.getMessage());
      }
      case PEER_PROTOCOL_VIOLATION -> {
        String sender = r.getNodeId();
        try {
          EtcdKeys.id("node id", sender);
        } catch (IllegalArgumentException e) {
          throw Status.INVALID_ARGUMENT
              .withDescription("replica_report.node_id (the sender): " + e.getMessage())
              .asRuntimeException();
        }
        String dismissed =
            service
                .replicaEvents()
                .peerProtocolViolation(nodeId, vol, sender, r.getEpoch(), r.getMessage());
        if (dismissed != null) {
          LOG.info(
              "{} reports a write to {} from {} at epoch {} it refused; not counted against {}: {}",
              nodeId,
              vol,
              sender,
              r.getEpoch(),
              sender,
              dismissed);
        } else {
          // An integrity fault of the sender: it claimed an epoch the control plane never gave it.
          LOG.warn(
              "peer protocol violation by {}: {} refused its write to {} claiming epoch {}: {}",
              sender,
              nodeId,
              vol,
              r.getEpoch(),
              r.getMessage());
          String detail = "peer protocol violation reported by " + nodeId + ": " + r.getMessage();
          notify(
              l ->
                  l.onIntegrityEvidence(
                      sender, vol, TrustEvidence.AuditKind.PEER_REPORT, false, detail));
        }
      }
      default ->
          throw Status.INVALID_ARGUMENT
              .withDescription("replica_report.kind is unspecified")
              .asRuntimeException();
    }
  }

  private void ping() {
    if (closed || !hello) {
      return;
    }
    if (pings.size() >= MAX_OUTSTANDING_PINGS) {
      pings.clear();
    }
    long nonce = ThreadLocalRandom.current().nextLong();
    pings.put(nonce, System.nanoTime());
    send(ControlMessage.newBuilder().setPing(Ping.newBuilder().setNonce(nonce)).build());
  }

  private void onPong(long nonce) {
    Long sent = pings.remove(nonce);
    if (sent != null) {
      Duration rtt = Duration.ofNanos(System.nanoTime() - sent);
      notify(l -> l.onRoundTrip(nodeId, rtt));
    }
  }

  private void send(ControlMessage m) {
    synchronized (sendLock) {
      if (closed || out.isCancelled()) {
        return;
      }
      try {
        out.onNext(m);
      } catch (RuntimeException e) {
        LOG.debug("send to {} failed: {}", nodeId, e.toString());
      }
    }
  }

  /** Ends the session with {@code status} (from any thread). */
  void end(Status status) {
    synchronized (sendLock) {
      if (closed) {
        return;
      }
      closed = true;
      try {
        out.onError(status.asRuntimeException());
      } catch (RuntimeException e) {
        LOG.debug("closing the session of {}: {}", nodeId, e.toString());
      }
    }
    cleanup(status.getCode() + ": " + status.getDescription());
  }

  @Override
  public void onError(Throwable t) {
    closed = true;
    cleanup("stream failed: " + Status.fromThrowable(t).getCode());
  }

  @Override
  public void onCompleted() {
    synchronized (sendLock) {
      if (!closed) {
        closed = true;
        try {
          out.onCompleted();
        } catch (RuntimeException e) {
          LOG.debug("completing the session of {}: {}", nodeId, e.toString());
        }
      }
    }
    cleanup("agent closed the session");
  }

  void cancelled() {
    closed = true;
    cleanup("cancelled by the agent or the connection");
  }

  private void cleanup(String reason) {
    boolean wasCurrent = service.sessions().remove(nodeId, this);
    Watch.Watcher w = watcher;
    if (w != null) {
      watcher = null;
      w.close();
    }
    ScheduledFuture<?> p = pingTask;
    if (p != null) {
      p.cancel(false);
    }
    if (hello && wasCurrent) {
      LOG.info("session of node {} ended: {}", nodeId, reason);
      notify(l -> l.onSessionClosed(nodeId, service.clock().instant(), reason));
    }
  }

  private void notify(java.util.function.Consumer<NodeMeasurementListener> event) {
    try {
      event.accept(service.listener());
    } catch (RuntimeException e) {
      LOG.warn("measurement listener failed for {}: {}", nodeId, e.toString());
    }
  }
}
