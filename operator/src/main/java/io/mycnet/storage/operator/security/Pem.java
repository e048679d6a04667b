package io.mycnet.storage.operator.security;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/** PEM encoding of certificates and private keys (BouncyCastle), and owner-only key files. */
public final class Pem {
  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rw-------");

  private Pem() {}

  public static String certificates(List<X509Certificate> certs) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      for (X509Certificate c : certs) {
        w.writeObject(c);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  public static String certificate(X509Certificate cert) {
    return certificates(List.of(cert));
  }

  /** PKCS#8, unencrypted: protect the file instead (see {@link #writeOwnerOnly}). */
  public static String privateKey(PrivateKey key) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(new JcaPKCS8Generator(key, null));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /**
   * @throws IllegalArgumentException when the text holds no certificate or a malformed one
   */
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

  /**
   * @throws IllegalArgumentException when the text holds no private key
   */
  public static PrivateKey parsePrivateKey(String pem) {
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      Object o;
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
      while ((o = p.readObject()) != null) {
        if (o instanceof PrivateKeyInfo pki) {
          return conv.getPrivateKey(pki);
        }
        if (o instanceof PEMKeyPair kp) {
          return conv.getKeyPair(kp).getPrivate();
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("malformed PEM private key: " + e.getMessage(), e);
    }
    throw new IllegalArgumentException("no PEM private key found");
  }

  /**
   * Writes a file readable by its owner only (mode 0600) atomically: a temporary file created with
   * that mode, fsync'd, then renamed over the target.
   */
  public static void writeOwnerOnly(Path file, String content) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp =
        Files.createTempFile(
            dir,
            "." + file.getFileName(),
            ".tmp",
            PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    try {
      try (var ch = Files.newByteChannel(tmp, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
        ((java.nio.channels.FileChannel) ch).force(true);
      }
      Files.setPosixFilePermissions(tmp, OWNER_ONLY);
      moveAtomically(tmp, file);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Writes a world-readable file (certificates) atomically. */
  public static void writePublic(Path file, String content) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
    try {
      try (var ch = java.nio.channels.FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
        ch.force(true);
      }
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
      moveAtomically(tmp, file);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static void moveAtomically(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** True when group and others have no access to the file. */
  public static boolean isOwnerOnly(Path file) throws IOException {
    Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
    for (PosixFilePermission x : p) {
      if (x.name().startsWith("GROUP") || x.name().startsWith("OTHERS")) {
        return false;
      }
    }
    return true;
  }
}
