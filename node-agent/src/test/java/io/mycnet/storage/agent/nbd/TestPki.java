package io.mycnet.storage.agent.nbd;

import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.Pem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;

/**
 * The certificates of the TLS tests, signed by the project's own CA code: a CA, the NBD server's
 * certificate (localhost, 127.0.0.1) and client certificates {@code client:<namespace>}, as a
 * server {@link SSLContext} and as the PEM directories libnbd reads ({@code tls-certificates=DIR}:
 * ca-cert.pem, client-cert.pem, client-key.pem).
 */
final class TestPki {
  private static final char[] PASSWORD = "test".toCharArray();

  final CertificateAuthority ca;
  final SSLContext server;

  TestPki(Path dir) throws IOException, GeneralSecurityException {
    ca =
        CertificateAuthority.openOrCreate(
            dir.resolve("ca"), Clock.systemUTC(), Duration.ofHours(4));
    CertificateAuthority.ServerIdentity id =
        ca.issueServerIdentity(List.of("localhost", "127.0.0.1"));
    server = context(id.key(), id.certificate());
  }

  /** A client certificate for {@code namespace} and its key. */
  record Client(PrivateKey key, X509Certificate certificate) {}

  Client client(String namespace) throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair kp = g.generateKeyPair();
    return new Client(kp.getPrivate(), ca.signClient(kp.getPublic(), namespace));
  }

  /** A directory for libnbd's tls-certificates= with this client's identity. */
  Path clientDirectory(Path dir, Client c) throws IOException {
    Files.createDirectories(dir);
    Pem.writePublic(dir.resolve("ca-cert.pem"), Pem.certificate(ca.certificate()));
    Pem.writePublic(
        dir.resolve("client-cert.pem"),
        Pem.certificates(List.of(c.certificate(), ca.certificate())));
    Pem.writeOwnerOnly(dir.resolve("client-key.pem"), gnuTlsKeyPem(c.key(), c.certificate()));
    return dir;
  }

  /**
   * PKCS#8 with the curve and the public key inside the ECPrivateKey: GnuTLS (libnbd) refuses an EC
   * key without its public key ("ASN1 parser: Element was not found"), and the JDK's encoding, as
   * written by {@link Pem#privateKey}, leaves it out.
   */
  static String gnuTlsKeyPem(PrivateKey key, X509Certificate cert) {
    try {
      SubjectPublicKeyInfo spki =
          SubjectPublicKeyInfo.getInstance(cert.getPublicKey().getEncoded());
      org.bouncycastle.asn1.sec.ECPrivateKey inner =
          new org.bouncycastle.asn1.sec.ECPrivateKey(
              256,
              ((ECPrivateKey) key).getS(),
              spki.getPublicKeyData(),
              spki.getAlgorithm().getParameters());
      byte[] der = new PrivateKeyInfo(spki.getAlgorithm(), inner).getEncoded();
      return "-----BEGIN PRIVATE KEY-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
          + "\n-----END PRIVATE KEY-----\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A client-side context (for the raw protocol tests). */
  SSLContext clientContext(Client c) throws GeneralSecurityException, IOException {
    return context(c.key(), c.certificate());
  }

  private SSLContext context(PrivateKey key, X509Certificate cert)
      throws GeneralSecurityException, IOException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("me", key, PASSWORD, new Certificate[] {cert, ca.certificate()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, PASSWORD);
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    ts.setCertificateEntry("ca", ca.certificate());
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }
}
