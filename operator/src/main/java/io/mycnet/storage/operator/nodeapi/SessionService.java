package io.mycnet.storage.operator.nodeapi;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.RenewCertificateRequest;
import io.mycnet.storage.api.v1.RenewCertificateResponse;
import io.mycnet.storage.api.v1.RevocationRecord;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.CsrRejectedException;
import io.mycnet.storage.operator.security.NodeCertificate;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.LongAdder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code NodeSession}: the per-agent session stream and certificate renewal (mutual TLS only). */
final class SessionService extends NodeSessionGrpc.NodeSessionImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(SessionService.class);

  private final NodeApiSettings settings;
  private final CertificateAuthority ca;
  private final SecurityStore security;
  private final NodeRegistry registry;
  private final CommandQueue queue;
  private final NodeMeasurementListener listener;
  private final Clock clock;
  private final RefusalLog refusals;
  private final ScheduledExecutorService timer;
  private final ConcurrentHashMap<String, AgentSession> sessions = new ConcurrentHashMap<>();
  private final LongAdder heartbeats = new LongAdder();
  private volatile ReplicaEvents replicaEvents = ReplicaEvents.NONE;
  private final ConcurrentHashMap<String, io.mycnet.storage.api.v1.ReplicaReport> rebuilds =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<
          String, java.util.concurrent.CompletableFuture<io.mycnet.storage.api.v1.CommandResult>>
      awaited = new ConcurrentHashMap<>();

  void replicaEvents(ReplicaEvents e) {
    this.replicaEvents = e;
  }

  ReplicaEvents replicaEvents() {
    return replicaEvents;
  }

  /** Latest rebuild report per "volume@node". */
  ConcurrentHashMap<String, io.mycnet.storage.api.v1.ReplicaReport> rebuilds() {
    return rebuilds;
  }

  /** Futures completed by the command result of a command id (audits). */
  ConcurrentHashMap<
          String, java.util.concurrent.CompletableFuture<io.mycnet.storage.api.v1.CommandResult>>
      awaited() {
    return awaited;
  }

  SessionService(
      NodeApiSettings settings,
      CertificateAuthority ca,
      SecurityStore security,
      NodeRegistry registry,
      CommandQueue queue,
      NodeMeasurementListener listener,
      Clock clock,
      RefusalLog refusals,
      ScheduledExecutorService timer) {
    this.settings = settings;
    this.ca = ca;
    this.security = security;
    this.registry = registry;
    this.queue = queue;
    this.listener = listener;
    this.clock = clock;
    this.refusals = refusals;
    this.timer = timer;
    security.onRevoked(this::onRevoked);
    security.onChanged(this::pushRevocations);
  }

  /** Sends the new revocation list to every open session (agents refuse it on their data port). */
  private void pushRevocations() {
    for (AgentSession s : List.copyOf(sessions.values())) {
      s.sendRevocations();
    }
  }

  SecurityStore security() {
    return security;
  }

  @Override
  public StreamObserver<AgentMessage> session(StreamObserver<ControlMessage> responses) {
    String nodeId = NodePeer.NODE_ID.get();
    ServerCallStreamObserver<ControlMessage> out =
        (ServerCallStreamObserver<ControlMessage>) responses;
    if (nodeId == null) {
      out.onError(Status.UNAUTHENTICATED.withDescription("no node identity").asRuntimeException());
      return new Discard();
    }
    if (sessions.size() >= settings.maxSessions() && !sessions.containsKey(nodeId)) {
      refusals.refused(
          "session-limit:" + nodeId,
          "session of " + nodeId + ": limit of " + settings.maxSessions() + " sessions reached");
      out.onError(
          Status.RESOURCE_EXHAUSTED
              .withDescription(
                  "the control plane holds its maximum of "
                      + settings.maxSessions()
                      + " sessions; retry with backoff")
              .asRuntimeException());
      return new Discard();
    }
    AgentSession s =
        new AgentSession(
            this, nodeId, CertificateAuthority.serialHex(NodePeer.CERTIFICATE.get()), out);
    out.setOnCancelHandler(s::cancelled);
    return s;
  }

  @Override
  public void renewCertificate(
      RenewCertificateRequest req, StreamObserver<RenewCertificateResponse> out) {
    String nodeId = NodePeer.NODE_ID.get();
    try {
      if (registry.get(nodeId).isEmpty()) {
        out.onError(
            Status.FAILED_PRECONDITION
                .withDescription(
                    "node " + nodeId + " is not registered: rejoin with a bootstrap token")
                .asRuntimeException());
        return;
      }
      PKCS10CertificationRequest csr;
      try {
        csr = ca.checkCsr(req.getCsrDer().toByteArray(), nodeId);
      } catch (CsrRejectedException e) {
        if (e.identityMismatch()) {
          refusals.refused(
              "renew-impersonation:" + nodeId,
              "renewal from node "
                  + nodeId
                  + " at "
                  + NodePeer.remoteHost()
                  + ": "
                  + e.getMessage());
          out.onError(
              Status.PERMISSION_DENIED
                  .withDescription(e.getMessage() + ": a node can only renew its own certificate")
                  .asRuntimeException());
        } else {
          out.onError(
              Status.INVALID_ARGUMENT
                  .withDescription("csr_der: " + e.getMessage())
                  .asRuntimeException());
        }
        return;
      }
      NodeCertificate cert =
          ca.signNode(
              csr,
              nodeId,
              JoinService.serverHosts(
                  registry
                      .get(nodeId)
                      .map(io.mycnet.storage.api.v1.NodeRecord::getAddress)
                      .orElse("")));
      com.google.protobuf.ByteString renewedKey =
          com.google.protobuf.ByteString.copyFrom(
              JoinService.keySha256(csr.getSubjectPublicKeyInfo()));
      List<String> live = security.recordIssued(cert, "");
      registry.update(
          nodeId,
          r ->
              r == null
                  ? null
                  : r.toBuilder()
                      .clearCertificateSerials()
                      .addAllCertificateSerials(live)
                      .setBoundKeySha256(renewedKey)
                      .build());
      LOG.info(
          "renewed the certificate of node {}: {} valid until {}",
          nodeId,
          cert.serial(),
          cert.notAfter());
      out.onNext(
          RenewCertificateResponse.newBuilder()
              .setCertificate(JoinService.issued(ca, cert))
              .build());
      out.onCompleted();
    } catch (StoreUnavailableException e) {
      out.onError(
          Status.UNAVAILABLE
              .withDescription("the control plane cannot reach etcd right now; retry later")
              .asRuntimeException());
    }
  }

  private void onRevoked(RevocationRecord r) {
    if (r.getNodeId().isEmpty()) {
      return;
    }
    AgentSession s = sessions.get(r.getNodeId());
    if (s != null && (r.getSerial().isEmpty() || r.getSerial().equals(s.serial()))) {
      s.end(
          Status.UNAUTHENTICATED.withDescription(
              "node " + r.getNodeId() + " was revoked: " + r.getReason()));
    }
  }

  /** Ends every session (shutdown). */
  void endAll(Status status) {
    for (AgentSession s : List.copyOf(sessions.values())) {
      s.end(status);
    }
  }

  /** Ends the session of one node, if any. */
  void end(String nodeId, Status status) {
    AgentSession s = sessions.get(nodeId);
    if (s != null) {
      s.end(status);
    }
  }

  ConcurrentHashMap<String, AgentSession> sessions() {
    return sessions;
  }

  NodeApiSettings settings() {
    return settings;
  }

  NodeRegistry registry() {
    return registry;
  }

  CommandQueue queue() {
    return queue;
  }

  NodeMeasurementListener listener() {
    return listener;
  }

  Clock clock() {
    return clock;
  }

  RefusalLog refusals() {
    return refusals;
  }

  ScheduledExecutorService timer() {
    return timer;
  }

  LongAdder heartbeatsHandled() {
    return heartbeats;
  }

  private static final class Discard implements StreamObserver<AgentMessage> {
    @Override
    public void onNext(AgentMessage value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }
}
