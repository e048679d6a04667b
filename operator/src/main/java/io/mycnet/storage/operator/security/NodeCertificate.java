package io.mycnet.storage.operator.security;

import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * A node certificate the CA signed.
 *
 * @param serial lower-case hex serial number
 * @param renewAfter when the node should renew it (2/3 of the lifetime)
 */
public record NodeCertificate(
    String nodeId,
    X509Certificate certificate,
    String serial,
    Instant notBefore,
    Instant notAfter,
    Instant renewAfter) {

  public String pem() {
    return Pem.certificate(certificate);
  }
}
