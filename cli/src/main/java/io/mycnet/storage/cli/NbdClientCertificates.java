package io.mycnet.storage.cli;

import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;

/**
 * A service namespace's NBD client identity as a directory libnbd (GnuTLS) and qemu's {@code
 * tls-creds-x509} read: {@code ca-cert.pem} (the CA the agents' certificates chain to), {@code
 * client-cert.pem} (CN {@code client:<namespace>}, signed by that CA) and {@code client-key.pem}
 * (PKCS#8), the directory and every file readable by the owner only. The certificate is the same
 * identity {@code VolumeIo} accepts (docs/data-path.md).
 */
final class NbdClientCertificates {
  static final String CA_FILE = "ca-cert.pem";
  static final String CERT_FILE = "client-cert.pem";
  static final String KEY_FILE = "client-key.pem";

  private static final Set<PosixFilePermission> DIR_OWNER_ONLY =
      PosixFilePermissions.fromString("rwx------");

  private NbdClientCertificates() {}

  /** The directory and the certificate in it; {@code reused}: it was there and still good. */
  record Written(Path dir, X509Certificate certificate, boolean reused) {}

  /**
   * Writes {@code namespace}'s client identity into {@code dir} (created with mode 0700, its parent
   * too when this creates it), or keeps the one there when it is for the same namespace, chains to
   * {@code ca}, and stays valid for at least {@code keepWhileValidFor}. A new certificate goes to
   * {@code issued} before it is written (so that it can be revoked by namespace).
   *
   * @throws IllegalArgumentException when {@code namespace} is not a service namespace id
   */
  static Written write(
      CertificateAuthority ca,
      String namespace,
      Path dir,
      Duration keepWhileValidFor,
      Consumer<X509Certificate> issued)
      throws IOException {
    X509Certificate kept = usable(ca, namespace, dir, keepWhileValidFor);
    if (kept != null) {
      ownerOnlyDirectory(dir.getParent());
      ownerOnlyDirectory(dir);
      return new Written(dir, kept, true);
    }
    // Signed before anything is created: a bad namespace leaves no directory behind.
    KeyPair kp = CertificateAuthority.generateEcKeyPair();
    X509Certificate cert = ca.signClient(kp.getPublic(), namespace);
    ownerOnlyDirectory(dir.getParent());
    ownerOnlyDirectory(dir);
    issued.accept(cert);
    // The key before the certificate: a reader never finds a new certificate with an old key.
    Pem.writeOwnerOnly(dir.resolve(KEY_FILE), privateKeyPem(kp.getPrivate(), kp.getPublic()));
    Pem.writeOwnerOnly(dir.resolve(CERT_FILE), Pem.certificate(cert));
    Pem.writeOwnerOnly(dir.resolve(CA_FILE), Pem.certificate(ca.certificate()));
    return new Written(dir, cert, false);
  }

  /**
   * An EC private key as PKCS#8 PEM with the public key inside its ECPrivateKey structure. The
   * JDK's encoding leaves the optional public key out, and GnuTLS (libnbd, qemu, nbdkit) refuses
   * such a key ("ASN1 parser: Element was not found").
   */
  static String privateKeyPem(PrivateKey key, PublicKey publicKey) {
    try {
      PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
      org.bouncycastle.asn1.sec.ECPrivateKey inner =
          org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey());
      SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(publicKey.getEncoded());
      int orderBits = ((java.security.interfaces.ECKey) key).getParams().getOrder().bitLength();
      PrivateKeyInfo full =
          new PrivateKeyInfo(
              info.getPrivateKeyAlgorithm(),
              new org.bouncycastle.asn1.sec.ECPrivateKey(
                  orderBits, inner.getKey(), spki.getPublicKeyData(), null));
      return "-----BEGIN PRIVATE KEY-----\n"
          + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(full.getEncoded())
          + "\n-----END PRIVATE KEY-----\n";
    } catch (IOException | ClassCastException e) {
      throw new IllegalArgumentException("not an EC private key: " + e.getMessage(), e);
    }
  }

  private static void ownerOnlyDirectory(Path dir) throws IOException {
    if (dir == null) {
      return;
    }
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(DIR_OWNER_ONLY));
    }
    Files.setPosixFilePermissions(dir, DIR_OWNER_ONLY);
  }

  /** The certificate in {@code dir} when it can be kept, else null. */
  private static X509Certificate usable(
      CertificateAuthority ca, String namespace, Path dir, Duration keepWhileValidFor) {
    try {
      for (String f : List.of(CA_FILE, CERT_FILE, KEY_FILE)) {
        if (!Files.isRegularFile(dir.resolve(f))
            || !Files.getPosixFilePermissions(dir.resolve(f))
                .equals(PosixFilePermissions.fromString("rw-------"))) {
          return null;
        }
      }
      List<X509Certificate> caFile = Pem.parseCertificates(Files.readString(dir.resolve(CA_FILE)));
      if (caFile.size() != 1 || !caFile.get(0).equals(ca.certificate())) {
        return null;
      }
      X509Certificate cert = Pem.parseCertificates(Files.readString(dir.resolve(CERT_FILE))).get(0);
      cert.verify(ca.certificate().getPublicKey());
      // The key must belong to the certificate (a write cut between the two files leaves a pair
      // that does not).
      PrivateKey key = Pem.parsePrivateKey(Files.readString(dir.resolve(KEY_FILE)));
      byte[] probe = "mycnet-nbd-client-key-check".getBytes(StandardCharsets.UTF_8);
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(cert.getPublicKey());
      s.update(probe);
      if (!s.verify(sig)) {
        return null;
      }
      if (!(CertificateAuthority.CLIENT_PREFIX + namespace)
          .equals(CertificateAuthority.commonName(cert))) {
        return null;
      }
      Instant now = ca.clock().instant();
      if (cert.getNotAfter().toInstant().isBefore(now.plus(keepWhileValidFor))
          || cert.getNotBefore().toInstant().isAfter(now)) {
        return null;
      }
      return cert;
    } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
      return null; // anything unreadable or foreign is replaced
    }
  }
}
