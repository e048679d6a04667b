package io.mycnet.storage.operator.nodeapi;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.mycnet.storage.api.v1.RevocationRecord;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.NodeIds;
import io.mycnet.storage.operator.security.SecurityStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Establishes who is calling on the mutual-TLS port: the node id is the CN of the peer certificate
 * the TLS layer verified against the CA, and goes into {@link NodePeer#NODE_ID}. Services read it
 * from there and never from a message field.
 *
 * <p>Refuses with {@code UNAUTHENTICATED} (logged once per certificate and reason): no TLS session
 * or no peer certificate, a CN that is not a node id, a certificate outside its validity window, a
 * revoked certificate or a certificate of a removed node.
 */
final class PeerIdentityInterceptor implements ServerInterceptor {
  private final SecurityStore security;
  private final Clock clock;
  private final RefusalLog refusals;

  PeerIdentityInterceptor(SecurityStore security, Clock clock, RefusalLog refusals) {
    this.security = security;
    this.clock = clock;
    this.refusals = refusals;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String host = NodePeer.remoteHost();
    SSLSession ssl = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (ssl == null) {
      return refuse(
          call, "no-tls:" + host, "this port requires mutual TLS with a node certificate");
    }
    X509Certificate cert;
    try {
      Certificate[] chain = ssl.getPeerCertificates();
      cert = (X509Certificate) chain[0];
    } catch (SSLPeerUnverifiedException | ClassCastException | ArrayIndexOutOfBoundsException e) {
      return refuse(
          call, "no-cert:" + host, "no client certificate presented: join first to get one");
    }
    String serial = CertificateAuthority.serialHex(cert);
    String nodeId = CertificateAuthority.commonName(cert);
    if (nodeId == null || NodeIds.problem(nodeId) != null) {
      return refuse(
          call,
          "bad-cn:" + serial,
          "certificate " + serial + " has no usable node id in its CN (" + nodeId + ")");
    }
    Instant now = clock.instant();
    if (now.isAfter(cert.getNotAfter().toInstant())) {
      return refuse(
          call,
          "expired:" + serial,
          "node certificate of "
              + nodeId
              + " (serial "
              + serial
              + ") expired at "
              + cert.getNotAfter().toInstant()
              + ": the agent must rejoin with a bootstrap token");
    }
    if (now.isBefore(cert.getNotBefore().toInstant())) {
      return refuse(
          call,
          "not-yet-valid:" + serial,
          "node certificate of "
              + nodeId
              + " is not valid before "
              + cert.getNotBefore().toInstant()
              + ": check the clocks of the node and the control plane");
    }
    Optional<RevocationRecord> revoked = security.cachedSerialRevocation(serial);
    if (revoked.isEmpty()) {
      revoked = security.cachedNodeRevocation(nodeId);
    }
    if (revoked.isPresent()) {
      RevocationRecord r = revoked.get();
      return refuse(
          call,
          "revoked:" + serial,
          "certificate "
              + serial
              + " of node "
              + nodeId
              + " was revoked at "
              + Instant.ofEpochMilli(r.getRevokedAtUnixMs())
              + " ("
              + r.getReason()
              + "): an administrator must re-admit the node before it can rejoin");
    }
    Context ctx =
        Context.current().withValue(NodePeer.NODE_ID, nodeId).withValue(NodePeer.CERTIFICATE, cert);
    return Contexts.interceptCall(ctx, call, headers, next);
  }

  private <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, String key, String why) {
    refusals.refused(
        key,
        "call "
            + call.getMethodDescriptor().getFullMethodName()
            + " from "
            + NodePeer.remoteHost()
            + ": "
            + why);
    call.close(Status.UNAUTHENTICATED.withDescription(why), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
