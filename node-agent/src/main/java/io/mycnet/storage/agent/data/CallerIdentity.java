package io.mycnet.storage.agent.data;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.mycnet.storage.agent.identity.Revocations;
import java.security.cert.X509Certificate;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data port's interceptor: takes the caller's certificate from its connection, refuses it
 * without a usable certificate (UNAUTHENTICATED) or when the control plane revoked it
 * (PERMISSION_DENIED, checked on every call, so also on connections opened before the revocation),
 * and otherwise puts its CN into the call's context ({@link #PEER}) for the services. The identity
 * comes from the connection, never from a message.
 */
public final class CallerIdentity implements ServerInterceptor {
  private static final Logger LOG = LoggerFactory.getLogger(CallerIdentity.class);

  /** The CN prefix of a volume client's certificate: {@code client:<namespace>}. */
  public static final String CLIENT_PREFIX = "client:";

  /** The CN of the verified caller certificate, set for every admitted call. */
  static final Context.Key<String> PEER = Context.key("mycnet-peer-cn");

  /** Where the caller's certificate comes from: its connection's attributes. */
  @FunctionalInterface
  public interface CertificateSource {
    /** The caller's certificate, or null when the connection has none. */
    X509Certificate of(Attributes connection);
  }

  /** Production: the first certificate of the connection's verified TLS session. */
  public static final CertificateSource TLS =
      connection -> {
        SSLSession ssl = connection.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        try {
          if (ssl != null && ssl.getPeerCertificates().length > 0) {
            return (X509Certificate) ssl.getPeerCertificates()[0];
          }
        } catch (SSLPeerUnverifiedException e) {
          return null;
        }
        return null;
      };

  private final Revocations revocations;
  private final CertificateSource certificates;
  private final Set<String> logged = ConcurrentHashMap.newKeySet();

  public CallerIdentity(Revocations revocations, CertificateSource certificates) {
    this.revocations = revocations;
    this.certificates = certificates;
  }

  /** The single CN of a certificate's subject, or null. */
  public static String commonName(X509Certificate cert) {
    var rdns =
        X500Name.getInstance(cert.getSubjectX500Principal().getEncoded()).getRDNs(BCStyle.CN);
    return rdns.length == 1 ? IETFUtils.valueToString(rdns[0].getFirst().getValue()) : null;
  }

  /**
   * The decision on one call's peer certificate: null to admit it, else the status to refuse it
   * with (UNAUTHENTICATED without a usable certificate, PERMISSION_DENIED when revoked).
   */
  public static Status refusal(X509Certificate cert, Revocations revocations) {
    String cn = cert == null ? null : commonName(cert);
    if (cn == null) {
      return Status.UNAUTHENTICATED.withDescription("no client certificate");
    }
    String revoked = revocations.problem(cert, cn);
    if (revoked != null) {
      return Status.PERMISSION_DENIED.withDescription(
          revoked + ": the control plane revoked it; this data port refuses it");
    }
    return null;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    X509Certificate cert = certificates.of(call.getAttributes());
    Status refused = refusal(cert, revocations);
    if (refused != null) {
      if (refused.getCode() == Status.Code.PERMISSION_DENIED
          && logged.size() < 10_000
          && logged.add(refused.getDescription())) {
        // Once per refused identity: a revoked client retrying in a loop logs one line.
        LOG.warn(
            "refused {} on the data port: {}",
            call.getMethodDescriptor().getFullMethodName(),
            refused.getDescription());
      }
      call.close(refused, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(
        Context.current().withValue(PEER, commonName(cert)), call, headers, next);
  }

  /** The node id of an agent caller; PERMISSION_DENIED for a client. */
  static String peerNode() {
    String cn = PEER.get();
    if (cn == null || cn.startsWith(CLIENT_PREFIX)) {
      throw Status.PERMISSION_DENIED
          .withDescription("the replica protocol is for agents (node certificates) only")
          .asRuntimeException();
    }
    return cn;
  }
}
