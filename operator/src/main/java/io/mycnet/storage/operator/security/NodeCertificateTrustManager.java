package io.mycnet.storage.operator.security;

import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.X509TrustManager;

/**
 * The TLS trust decision of the control plane's mutual-TLS port: a client certificate is accepted
 * at the TLS layer when it was signed by this control plane's CA, is not a CA itself, and allows
 * client authentication. Nothing else is trusted (not the JDK's default CAs).
 *
 * <p>The validity window and revocation are deliberately NOT checked here but by {@code
 * nodeapi.PeerIdentityInterceptor} on every call: a refused agent then gets a gRPC status it can
 * act on ({@code UNAUTHENTICATED: certificate expired at ...; rejoin}) instead of a bare handshake
 * failure, and a revocation also ends calls on connections that were opened before it.
 */
public final class NodeCertificateTrustManager implements X509TrustManager {
  private static final String CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";
  private final X509Certificate ca;

  public NodeCertificateTrustManager(X509Certificate ca) {
    this.ca = ca;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("no client certificate: join first to get a node certificate");
    }
    X509Certificate leaf = chain[0];
    if (!leaf.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
      throw new CertificateException(
          "client certificate issued by "
              + leaf.getIssuerX500Principal()
              + ", not by this control plane's CA");
    }
    try {
      leaf.verify(ca.getPublicKey());
    } catch (GeneralSecurityException e) {
      throw new CertificateException(
          "client certificate is not signed by this control plane's CA: " + e.getMessage());
    }
    if (leaf.getBasicConstraints() != -1) {
      throw new CertificateException("client certificate is a CA certificate");
    }
    List<String> eku = leaf.getExtendedKeyUsage();
    if (eku != null && !eku.contains(CLIENT_AUTH_OID)) {
      throw new CertificateException("client certificate does not allow client authentication");
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("this trust manager only checks node (client) certificates");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[] {ca};
  }
}
