package io.mycnet.storage.operator.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's certificate authority for node identities (BouncyCastle bcpkix; no
 * hand-written crypto).
 *
 * <p>The CA key pair (EC P-256, ECDSA with SHA-256) and its self-signed certificate live in a
 * directory the control plane is configured with: {@code ca.key} (PKCS#8 PEM, mode 0600; the CA
 * refuses to start when group or others can read it) and {@code ca.crt}. They are created on first
 * start and reused after, so node certificates survive control-plane restarts.
 *
 * <p>Lifetimes:
 *
 * <ul>
 *   <li>CA: {@link #CA_LIFETIME} (10 years). Rotating it means re-joining every node, so it lives
 *       long; its key never leaves the CA directory.
 *   <li>Node certificates: {@link #DEFAULT_NODE_LIFETIME} (24 h), renewed by the agent at 2/3 of
 *       the lifetime (after 16 h) over its mutual-TLS session. Short enough that a stolen
 *       certificate is useless within a day even if revocation did not reach some verifier; long
 *       enough that an agent survives a control-plane outage of 8 hours without re-joining.
 *   <li>The control plane's own TLS server certificate: {@link #SERVER_LIFETIME} (1 year), issued
 *       afresh (new key, in memory only) at every start.
 * </ul>
 *
 * Certificates are back-dated by {@link #CLOCK_SKEW} (5 min) to tolerate clocks a little behind.
 */
public final class CertificateAuthority {
  private static final Logger LOG = LoggerFactory.getLogger(CertificateAuthority.class);

  public static final Duration CA_LIFETIME = Duration.ofDays(3653);
  public static final Duration DEFAULT_NODE_LIFETIME = Duration.ofHours(24);
  public static final Duration SERVER_LIFETIME = Duration.ofDays(365);
  public static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
  public static final String KEY_FILE = "ca.key";
  public static final String CERT_FILE = "ca.crt";
  private static final String SIGNATURE = "SHA256withECDSA";
  private static final int MIN_RSA_BITS = 2048;

  private final PrivateKey caKey;
  private final X509Certificate caCert;
  private final Clock clock;
  private final Duration nodeLifetime;
  private final SecureRandom random = new SecureRandom();

  private CertificateAuthority(
      PrivateKey caKey, X509Certificate caCert, Clock clock, Duration nodeLifetime) {
    this.caKey = caKey;
    this.caCert = caCert;
    this.clock = clock;
    this.nodeLifetime = nodeLifetime;
  }

  /**
   * Loads the CA from {@code dir}, creating the directory (mode 0700), key and certificate on first
   * use.
   *
   * @throws IllegalStateException when the directory holds an unusable CA (one file without the
   *     other, a key readable by others, a certificate that does not match the key or expired)
   */
  public static CertificateAuthority openOrCreate(Path dir, Clock clock, Duration nodeLifetime) {
    if (nodeLifetime.compareTo(Duration.ofMinutes(1)) < 0
        || nodeLifetime.compareTo(Duration.ofDays(366)) > 0) {
      throw new IllegalArgumentException(
          "node certificate lifetime must be between 1 minute and 366 days, was " + nodeLifetime);
    }
    try {
      Path keyFile = dir.resolve(KEY_FILE);
      Path certFile = dir.resolve(CERT_FILE);
      boolean hasKey = Files.exists(keyFile);
      boolean hasCert = Files.exists(certFile);
      if (hasKey != hasCert) {
        throw new IllegalStateException(
            "CA directory "
                + dir
                + " has "
                + (hasKey ? KEY_FILE + " but no " + CERT_FILE : CERT_FILE + " but no " + KEY_FILE)
                + "; restore the missing file or empty the directory to create a new CA (every"
                + " node must then re-join)");
      }
      if (!hasKey) {
        return create(dir, clock, nodeLifetime);
      }
      if (!Pem.isOwnerOnly(keyFile)) {
        throw new IllegalStateException(
            "CA key "
                + keyFile
                + " is readable by group or others (mode "
                + java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(keyFile))
                + "); run: chmod 600 "
                + keyFile);
      }
      PrivateKey key = Pem.parsePrivateKey(Files.readString(keyFile));
      X509Certificate cert = Pem.parseCertificates(Files.readString(certFile)).get(0);
      CertificateAuthority ca = new CertificateAuthority(key, cert, clock, nodeLifetime);
      ca.checkKeyMatches();
      if (cert.getNotAfter().toInstant().isBefore(clock.instant())) {
        throw new IllegalStateException(
            "CA certificate " + certFile + " expired at " + cert.getNotAfter().toInstant());
      }
      LOG.info("loaded node CA from {} (expires {})", dir, cert.getNotAfter().toInstant());
      return ca;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the CA directory " + dir, e);
    }
  }

  private static CertificateAuthority create(Path dir, Clock clock, Duration nodeLifetime)
      throws IOException {
    Files.createDirectories(dir);
    try {
      Files.setPosixFilePermissions(
          dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    } catch (IOException e) {
      LOG.warn("cannot restrict CA directory {} to its owner: {}", dir, e.getMessage());
    }
    KeyPair kp = generateEcKeyPair();
    Instant now = clock.instant();
    X500Name name =
        new X500NameBuilder(BCStyle.INSTANCE)
            .addRDN(BCStyle.O, "mycnet-storage")
            .addRDN(BCStyle.CN, "mycnet-storage node CA")
            .build();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              name,
              randomSerial(new SecureRandom()),
              Date.from(now.minus(CLOCK_SKEW)),
              Date.from(now.plus(CA_LIFETIME)),
              name,
              kp.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(
          Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
      X509Certificate cert = sign(b, kp.getPrivate());
      Pem.writeOwnerOnly(dir.resolve(KEY_FILE), Pem.privateKey(kp.getPrivate()));
      Pem.writePublic(dir.resolve(CERT_FILE), Pem.certificate(cert));
      LOG.info("created a new node CA in {} (expires {})", dir, cert.getNotAfter().toInstant());
      return new CertificateAuthority(kp.getPrivate(), cert, clock, nodeLifetime);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot create the CA certificate", e);
    }
  }

  public X509Certificate certificate() {
    return caCert;
  }

  /** The CA bundle agents trust, PEM. */
  public String bundlePem() {
    return Pem.certificate(caCert);
  }

  public Duration nodeLifetime() {
    return nodeLifetime;
  }

  public Clock clock() {
    return clock;
  }

  /**
   * Parses and checks a PKCS#10 CSR for {@code nodeId}: DER well formed, self-signature valid,
   * subject CN equal to the node id, key EC P-256/P-384 or RSA of at least 2048 bits.
   *
   * @throws CsrRejectedException saying what is wrong
   */
  public PKCS10CertificationRequest checkCsr(byte[] der, String nodeId) {
    if (der == null || der.length == 0) {
      throw new CsrRejectedException("csr_der is empty: send a PKCS#10 CSR in DER encoding", false);
    }
    PKCS10CertificationRequest csr;
    try {
      csr = new PKCS10CertificationRequest(der);
    } catch (IOException | RuntimeException e) {
      throw new CsrRejectedException(
          "csr_der is not a DER-encoded PKCS#10 certificate signing request: " + e.getMessage(),
          false);
    }
    PublicKey key;
    try {
      key = new JcaPKCS10CertificationRequest(csr).getPublicKey();
      boolean valid = csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key));
      if (!valid) {
        throw new CsrRejectedException(
            "the CSR's signature does not verify with the key it carries: the CSR was altered or"
                + " signed with another key",
            false);
      }
    } catch (GeneralSecurityException | OperatorCreationException | PKCSException e) {
      throw new CsrRejectedException("the CSR's key or signature is unusable: " + e, false);
    }
    if (key instanceof RSAPublicKey rsa) {
      if (rsa.getModulus().bitLength() < MIN_RSA_BITS) {
        throw new CsrRejectedException(
            "the CSR's RSA key has "
                + rsa.getModulus().bitLength()
                + " bits; at least "
                + MIN_RSA_BITS
                + " are required (EC P-256 is preferred)",
            false);
      }
    } else if (key instanceof ECPublicKey ec) {
      int bits = ec.getParams().getCurve().getField().getFieldSize();
      if (bits != 256 && bits != 384) {
        throw new CsrRejectedException(
            "the CSR's EC key is on a " + bits + "-bit curve; use P-256 or P-384", false);
      }
    } else {
      throw new CsrRejectedException(
          "the CSR's key algorithm " + key.getAlgorithm() + " is not supported; use EC P-256",
          false);
    }
    String cn = commonName(csr.getSubject());
    if (cn == null) {
      throw new CsrRejectedException(
          "the CSR's subject has no CN; it must be CN=" + nodeId + " (the node id)", false);
    }
    if (!cn.equals(nodeId)) {
      throw new CsrRejectedException(
          "the CSR asks for CN=" + cn + " but the node id is " + nodeId, true);
    }
    return csr;
  }

  /**
   * Signs a node certificate for a checked CSR (see {@link #checkCsr}): subject {@code CN=<node
   * id>, O=mycnet-storage nodes}, SAN dNSName = node id, client and server authentication, the
   * configured node lifetime.
   */
  public NodeCertificate signNode(PKCS10CertificationRequest csr, String nodeId) {
    return signNode(csr, nodeId, List.of(), clock.instant());
  }

  /**
   * As {@link #signNode(PKCS10CertificationRequest, String)}, with the host the node serves on as a
   * further SAN (iPAddress for an IP literal, else dNSName; a wildcard or empty host is left out):
   * clients that check the server's name against the address they dialled (libnbd over {@code
   * nbds://}) accept the node's TLS ports.
   */
  public NodeCertificate signNode(
      PKCS10CertificationRequest csr, String nodeId, List<String> serverHosts) {
    return signNode(csr, nodeId, serverHosts, clock.instant());
  }

  /** As {@link #signNode(PKCS10CertificationRequest, String)} with an explicit issue time. */
  public NodeCertificate signNode(PKCS10CertificationRequest csr, String nodeId, Instant now) {
    return signNode(csr, nodeId, List.of(), now);
  }

  private NodeCertificate signNode(
      PKCS10CertificationRequest csr, String nodeId, List<String> serverHosts, Instant now) {
    NodeIds.require(nodeId);
    try {
      PublicKey key = new JcaPKCS10CertificationRequest(csr).getPublicKey();
      X500Name subject =
          new X500NameBuilder(BCStyle.INSTANCE)
              .addRDN(BCStyle.O, "mycnet-storage nodes")
              .addRDN(BCStyle.CN, nodeId)
              .build();
      BigInteger serial = randomSerial(random);
      Instant notBefore = now.minus(CLOCK_SKEW);
      Instant notAfter = now.plus(nodeLifetime);
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              caCert, serial, Date.from(notBefore), Date.from(notAfter), subject, key);
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_clientAuth, KeyPurposeId.id_kp_serverAuth}));
      List<GeneralName> sans = new ArrayList<>();
      sans.add(new GeneralName(GeneralName.dNSName, nodeId));
      for (String h : serverHosts) {
        if (h == null || h.isBlank() || h.equals("0.0.0.0") || h.equals("::") || h.equals(nodeId)) {
          continue;
        }
        sans.add(
            isIpLiteral(h)
                ? new GeneralName(GeneralName.iPAddress, h)
                : new GeneralName(GeneralName.dNSName, h));
      }
      b.addExtension(
          Extension.subjectAlternativeName,
          false,
          new GeneralNames(sans.toArray(GeneralName[]::new)));
      b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key));
      b.addExtension(
          Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
      X509Certificate cert = sign(b, caKey);
      Duration life = Duration.between(now, notAfter);
      return new NodeCertificate(
          nodeId,
          cert,
          serialHex(cert),
          notBefore,
          notAfter,
          now.plus(life.multipliedBy(2).dividedBy(3)));
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot sign the certificate of node " + nodeId, e);
    }
  }

  /** The CN prefix of volume client certificates: {@code client:<service namespace>}. */
  public static final String CLIENT_PREFIX = "client:";

  /**
   * Signs a volume client certificate for {@code namespace}: subject {@code CN=client:<namespace>,
   * O=mycnet-storage clients}, client authentication only, the node lifetime. Agents admit it to
   * the volumes of that namespace and to volumes shared with it (docs/data-path.md).
   */
  public X509Certificate signClient(PublicKey key, String namespace) {
    // A service namespace's store id is <kubernetes namespace>.<name>: a DNS-1123 subdomain.
    if (namespace == null
        || namespace.length() > 253
        || !namespace.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")) {
      throw new IllegalArgumentException(
          "namespace '" + namespace + "' is not a service namespace id (a DNS-1123 subdomain)");
    }
    try {
      Instant now = clock.instant();
      X500Name subject =
          new X500NameBuilder(BCStyle.INSTANCE)
              .addRDN(BCStyle.O, "mycnet-storage clients")
              .addRDN(BCStyle.CN, CLIENT_PREFIX + namespace)
              .build();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              caCert,
              randomSerial(random),
              Date.from(now.minus(CLOCK_SKEW)),
              Date.from(now.plus(nodeLifetime)),
              subject,
              key);
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
      return sign(b, caKey);
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot sign a client certificate for " + namespace, e);
    }
  }

  /** A TLS server identity for the control plane: fresh key, in memory only. */
  public record ServerIdentity(PrivateKey key, X509Certificate certificate) {}

  /**
   * Issues the control plane's TLS server certificate for {@code names} (DNS names and IP
   * literals), valid {@link #SERVER_LIFETIME}.
   */
  public ServerIdentity issueServerIdentity(List<String> names) {
    if (names.isEmpty()) {
      throw new IllegalArgumentException("the server certificate needs at least one name");
    }
    try {
      KeyPair kp = generateEcKeyPair();
      Instant now = clock.instant();
      X500Name subject =
          new X500NameBuilder(BCStyle.INSTANCE)
              .addRDN(BCStyle.O, "mycnet-storage")
              .addRDN(BCStyle.CN, "mycnet-storage control plane")
              .build();
      List<GeneralName> sans = new ArrayList<>();
      for (String n : names) {
        sans.add(
            isIpLiteral(n)
                ? new GeneralName(GeneralName.iPAddress, n)
                : new GeneralName(GeneralName.dNSName, n));
      }
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              caCert,
              randomSerial(random),
              Date.from(now.minus(CLOCK_SKEW)),
              Date.from(now.plus(SERVER_LIFETIME)),
              subject,
              kp.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      b.addExtension(
          Extension.subjectAlternativeName,
          false,
          new GeneralNames(sans.toArray(GeneralName[]::new)));
      b.addExtension(
          Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
      return new ServerIdentity(kp.getPrivate(), sign(b, caKey));
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot issue the control plane's server certificate", e);
    }
  }

  /** The CN of a certificate's subject, or null. */
  public static String commonName(X509Certificate cert) {
    return commonName(X500Name.getInstance(cert.getSubjectX500Principal().getEncoded()));
  }

  static String commonName(X500Name name) {
    RDN[] cns = name.getRDNs(BCStyle.CN);
    if (cns.length != 1) {
      return null;
    }
    ASN1Encodable v = cns[0].getFirst().getValue();
    return IETFUtils.valueToString(v);
  }

  /** Lower-case hex serial, the form used in etcd keys and logs. */
  public static String serialHex(X509Certificate cert) {
    return cert.getSerialNumber().toString(16);
  }

  /**
   * Client TLS of a volume client of {@code namespace} (gRPC, Netty): a fresh key, a certificate
   * from {@link #signClient}, and this CA as the only trust anchor, to reach agents' data ports.
   */
  public io.grpc.netty.shaded.io.netty.handler.ssl.SslContext volumeClientTls(String namespace) {
    return volumeClientTls(namespace, cert -> {});
  }

  /**
   * As {@link #volumeClientTls(String)}, handing the signed certificate to {@code issued} first
   * (e.g. {@link SecurityStore#recordIssuedClient}, so that it can be revoked by namespace).
   */
  public io.grpc.netty.shaded.io.netty.handler.ssl.SslContext volumeClientTls(
      String namespace, java.util.function.Consumer<X509Certificate> issued) {
    KeyPair kp = generateEcKeyPair();
    X509Certificate cert = signClient(kp.getPublic(), namespace);
    issued.accept(cert);
    try {
      return io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient()
          .keyManager(kp.getPrivate(), cert)
          .trustManager(caCert)
          .build();
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalStateException("cannot build client TLS for " + namespace, e);
    }
  }

  /** An EC P-256 key pair from the platform's default provider. */
  public static KeyPair generateEcKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is not available in this JVM", e);
    }
  }

  private void checkKeyMatches() {
    try {
      byte[] probe = "mycnet-ca-key-check".getBytes(StandardCharsets.UTF_8);
      java.security.Signature s = java.security.Signature.getInstance(SIGNATURE);
      s.initSign(caKey);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(caCert.getPublicKey());
      s.update(probe);
      if (!s.verify(sig)) {
        throw new IllegalStateException(
            "CA key and CA certificate do not belong together; restore the matching pair");
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("CA key is unusable: " + e.getMessage(), e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
      throws GeneralSecurityException {
    try {
      ContentSigner signer = new JcaContentSignerBuilder(SIGNATURE).build(key);
      return new JcaX509CertificateConverter().getCertificate(b.build(signer));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  /** 127 random bits, positive, as RFC 5280 recommends (unpredictable, at most 20 octets). */
  private static BigInteger randomSerial(SecureRandom random) {
    return new BigInteger(127, random).setBit(126);
  }

  private static boolean isIpLiteral(String s) {
    if (s.indexOf(':') >= 0) {
      return true;
    }
    if (!s.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
      return false;
    }
    try {
      InetAddress.getByName(s);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
