package io.mycnet.storage.agent.identity;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.IssuedCertificate;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLException;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The node's identity: an EC P-256 key pair the agent generated itself (the private key never
 * leaves the node), the certificate the control plane's CA signed for it, and the CA bundle. Stored
 * in {@code <data-dir>/identity/}: {@code node.key} (PKCS#8 PEM, mode 0600), {@code node.crt},
 * {@code ca.crt}.
 */
public final class NodeIdentity {
  private final PrivateKey key;
  private final X509Certificate certificate;
  private final List<X509Certificate> caBundle;

  public NodeIdentity(PrivateKey key, X509Certificate certificate, List<X509Certificate> caBundle) {
    this.key = key;
    this.certificate = certificate;
    this.caBundle = List.copyOf(caBundle);
  }

  public PrivateKey key() {
    return key;
  }

  public X509Certificate certificate() {
    return certificate;
  }

  public List<X509Certificate> caBundle() {
    return caBundle;
  }

  public String serial() {
    return certificate.getSerialNumber().toString(16);
  }

  public Instant notAfter() {
    return certificate.getNotAfter().toInstant();
  }

  /** 2/3 into the validity window (the control plane's back-dating included). */
  public Instant renewAfter() {
    Instant nb = certificate.getNotBefore().toInstant();
    Duration life = Duration.between(nb, notAfter());
    return nb.plus(life.multipliedBy(2).dividedBy(3));
  }

  public boolean expired(Instant now) {
    return !now.isBefore(notAfter());
  }

  /** TLS for the mutual-TLS session: this identity, trusting only the CA bundle. */
  public SslContext clientTls() {
    try {
      return GrpcSslContexts.forClient()
          .keyManager(key, certificate)
          .trustManager(caBundle.toArray(X509Certificate[]::new))
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up TLS with the node certificate", e);
    }
  }

  /** TLS for the join: no client certificate, trusting only {@code ca}. */
  public static SslContext joinTls(List<X509Certificate> ca) {
    try {
      return GrpcSslContexts.forClient().trustManager(ca.toArray(X509Certificate[]::new)).build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up TLS for the join", e);
    }
  }

  // ---- files ----

  public static Path dir(Path dataDir) {
    return dataDir.resolve("identity");
  }

  /** The stored identity, if complete and consistent (key matches certificate). */
  public static Optional<NodeIdentity> load(Path dataDir) {
    Path d = dir(dataDir);
    Path k = d.resolve("node.key");
    Path c = d.resolve("node.crt");
    Path ca = d.resolve("ca.crt");
    if (!Files.exists(k) || !Files.exists(c) || !Files.exists(ca)) {
      return Optional.empty();
    }
    try {
      PrivateKey key = parseKey(Files.readString(k));
      X509Certificate cert = parseCertificates(Files.readString(c)).get(0);
      List<X509Certificate> bundle = parseCertificates(Files.readString(ca));
      if (!matches(key, cert)) {
        return Optional.empty();
      }
      return Optional.of(new NodeIdentity(key, cert, bundle));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Saves an issued certificate with the key it was requested for. */
  public static NodeIdentity save(Path dataDir, PrivateKey key, IssuedCertificate issued) {
    X509Certificate cert = parseCertificates(issued.getCertificatePem()).get(0);
    List<X509Certificate> bundle = parseCertificates(issued.getCaBundlePem());
    if (!matches(key, cert)) {
      throw new IllegalStateException("the issued certificate is not for this node's key");
    }
    try {
      Path d = dir(dataDir);
      Files.createDirectories(d);
      DurableFiles.write(d.resolve("node.key"), pem(new JcaPKCS8Generator(key, null)), true);
      DurableFiles.write(d.resolve("node.crt"), issued.getCertificatePem(), false);
      DurableFiles.write(d.resolve("ca.crt"), issued.getCaBundlePem(), false);
    } catch (IOException e) {
      throw new IllegalStateException("cannot store the node identity in " + dataDir, e);
    }
    return new NodeIdentity(key, cert, bundle);
  }

  /** Forgets the stored certificate (the key pair is replaced at the next join anyway). */
  public static void discard(Path dataDir) {
    try {
      Files.deleteIfExists(dir(dataDir).resolve("node.crt"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The key pair to join with: the stored one when there is one (the key the node id is bound to at
   * the control plane, so that repeating a join after a lost answer or an expired certificate is
   * the same node), else a new one, stored (0600) before the join for the same reason.
   */
  public static KeyPair joinKeyPair(Path dataDir) {
    Path k = dir(dataDir).resolve("node.key");
    if (Files.exists(k)) {
      try {
        PrivateKey key = parseKey(Files.readString(k));
        Optional<KeyPair> kp = withPublic(key);
        if (kp.isPresent()) {
          return kp.get();
        }
      } catch (IOException | RuntimeException e) {
        // unreadable: replaced below
      }
    }
    KeyPair kp = generateKeyPair();
    try {
      Files.createDirectories(dir(dataDir));
      DurableFiles.write(k, pem(new JcaPKCS8Generator(kp.getPrivate(), null)), true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store the node key in " + k, e);
    }
    return kp;
  }

  /** Forgets the node's key and certificate: the next join makes a new key (after a removal). */
  public static void discardKey(Path dataDir) {
    try {
      Files.deleteIfExists(dir(dataDir).resolve("node.crt"));
      Files.deleteIfExists(dir(dataDir).resolve("node.key"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An EC P-256 private key with its public key (Q = d·G). */
  private static Optional<KeyPair> withPublic(PrivateKey key) {
    if (!(key instanceof java.security.interfaces.ECPrivateKey ec)
        || ec.getParams().getCurve().getField().getFieldSize() != 256) {
      return Optional.empty();
    }
    try {
      org.bouncycastle.jce.spec.ECNamedCurveParameterSpec spec =
          org.bouncycastle.jce.ECNamedCurveTable.getParameterSpec("secp256r1");
      org.bouncycastle.math.ec.ECPoint q = spec.getG().multiply(ec.getS()).normalize();
      java.security.PublicKey pub =
          java.security.KeyFactory.getInstance("EC")
              .generatePublic(
                  new java.security.spec.ECPublicKeySpec(
                      new java.security.spec.ECPoint(
                          q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger()),
                      ec.getParams()));
      return Optional.of(new KeyPair(pub, key));
    } catch (GeneralSecurityException e) {
      return Optional.empty();
    }
  }

  public static KeyPair generateKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is not available in this JVM", e);
    }
  }

  /** A PKCS#10 CSR (DER) with subject CN=nodeId, signed by the key pair. */
  public static byte[] csr(KeyPair kp, String nodeId) {
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, nodeId).build();
    try {
      return new JcaPKCS10CertificationRequestBuilder(subject, kp.getPublic())
          .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()))
          .getEncoded();
    } catch (OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot build the certificate signing request", e);
    }
  }

  public static List<X509Certificate> parseCertificates(String pem) {
    List<X509Certificate> out = new ArrayList<>();
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o;
      while ((o = p.readObject()) != null) {
        if (o instanceof X509CertificateHolder h) {
          out.add(new JcaX509CertificateConverter().getCertificate(h));
        }
      }
    } catch (IOException | CertificateException e) {
      throw new IllegalArgumentException("malformed PEM certificate: " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no PEM certificate found");
    }
    return out;
  }

  static PrivateKey parseKey(String pem) throws IOException {
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o = p.readObject();
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
      if (o instanceof PrivateKeyInfo pki) {
        return conv.getPrivateKey(pki);
      }
      if (o instanceof PEMKeyPair kp) {
        return conv.getKeyPair(kp).getPrivate();
      }
    }
    throw new IOException("no private key");
  }

  private static String pem(Object o) throws IOException {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(o);
    }
    return w.toString();
  }

  private static boolean matches(PrivateKey key, X509Certificate cert) {
    try {
      byte[] probe = "mycnet-node-key-check".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(cert.getPublicKey());
      s.update(probe);
      return s.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
