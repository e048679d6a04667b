package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.Pem;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NBD client certificate directory: the files libnbd and qemu read, owner-only, parsing and
 * chaining to local mode's CA; and, with the real nbdkit and nbdinfo, that GnuTLS accepts it.
 */
class NbdClientCertificatesTest {
  @TempDir Path tmp;

  private CertificateAuthority ca(String dir, Clock clock) {
    return CertificateAuthority.openOrCreate(tmp.resolve(dir), clock, Duration.ofDays(7));
  }

  @Test
  void writesTheThreeFilesOwnerOnlyAndTheyParseAndChainToTheCa() throws Exception {
    CertificateAuthority ca = ca("ca", Clock.systemUTC());
    Path dir = tmp.resolve("state/nbd-tls/payments.ledger");
    List<X509Certificate> issued = new ArrayList<>();
    NbdClientCertificates.Written w =
        NbdClientCertificates.write(ca, "payments.ledger", dir, Duration.ofDays(1), issued::add);

    assertThat(w.reused()).isFalse();
    assertThat(issued).containsExactly(w.certificate());
    try (var files = Files.list(dir)) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .containsExactlyInAnyOrder("ca-cert.pem", "client-cert.pem", "client-key.pem");
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)))
        .isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.getParent())))
        .isEqualTo("rwx------");
    for (String f : List.of("ca-cert.pem", "client-cert.pem", "client-key.pem")) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(f))))
          .as(f)
          .isEqualTo("rw-------");
    }

    List<X509Certificate> caFile =
        Pem.parseCertificates(Files.readString(dir.resolve("ca-cert.pem")));
    assertThat(caFile).containsExactly(ca.certificate());
    List<X509Certificate> certFile =
        Pem.parseCertificates(Files.readString(dir.resolve("client-cert.pem")));
    assertThat(certFile).hasSize(1);
    X509Certificate cert = certFile.get(0);
    assertThat(cert).isEqualTo(w.certificate());
    assertThat(CertificateAuthority.commonName(cert)).isEqualTo("client:payments.ledger");
    assertThat(cert.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.2"); // clientAuth

    // A PKIX chain from the client certificate to the CA file's certificate.
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(caFile.get(0), null)));
    params.setRevocationEnabled(false);
    CertPathValidator.getInstance("PKIX")
        .validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(cert)), params);

    // The key is the certificate's.
    PrivateKey key = Pem.parsePrivateKey(Files.readString(dir.resolve("client-key.pem")));
    byte[] probe = "probe".getBytes(StandardCharsets.UTF_8);
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(key);
    s.update(probe);
    byte[] sig = s.sign();
    s.initVerify(cert.getPublicKey());
    s.update(probe);
    assertThat(s.verify(sig)).isTrue();
    // The public key is inside the key file's ECPrivateKey (GnuTLS requires it).
    var info =
        org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(
            java.util.Base64.getMimeDecoder()
                .decode(
                    Files.readString(dir.resolve("client-key.pem"))
                        .replace("-----BEGIN PRIVATE KEY-----", "")
                        .replace("-----END PRIVATE KEY-----", "")));
    assertThat(
            org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey())
                .getPublicKey()
                .getOctets())
        .isEqualTo(
            org.bouncycastle.asn1.x509.SubjectPublicKeyInfo.getInstance(
                    cert.getPublicKey().getEncoded())
                .getPublicKeyData()
                .getOctets());
  }

  @Test
  void aGoodCertificateIsKeptAndAnExpiringForeignOrBrokenOneReplaced() throws Exception {
    CertificateAuthority ca = ca("ca", Clock.systemUTC());
    Path dir = tmp.resolve("nbd-tls/payments.ledger");
    List<X509Certificate> issued = new ArrayList<>();
    var first =
        NbdClientCertificates.write(ca, "payments.ledger", dir, Duration.ofDays(1), issued::add);
    var again =
        NbdClientCertificates.write(ca, "payments.ledger", dir, Duration.ofDays(1), issued::add);
    assertThat(again.reused()).isTrue();
    assertThat(again.certificate()).isEqualTo(first.certificate());
    assertThat(issued).hasSize(1);

    // Less than a day left, seen from a clock 6.5 days on: a new one.
    CertificateAuthority later =
        ca("ca", Clock.offset(Clock.systemUTC(), Duration.ofDays(6).plusHours(12)));
    var renewed =
        NbdClientCertificates.write(later, "payments.ledger", dir, Duration.ofDays(1), issued::add);
    assertThat(renewed.reused()).isFalse();
    assertThat(renewed.certificate()).isNotEqualTo(first.certificate());

    // Another namespace's directory content: replaced.
    var other =
        NbdClientCertificates.write(ca, "analytics.events", dir, Duration.ofDays(1), issued::add);
    assertThat(other.reused()).isFalse();
    assertThat(CertificateAuthority.commonName(other.certificate()))
        .isEqualTo("client:analytics.events");

    // Another CA: replaced, and the CA file follows.
    CertificateAuthority otherCa = ca("other-ca", Clock.systemUTC());
    var rechained =
        NbdClientCertificates.write(
            otherCa, "analytics.events", dir, Duration.ofDays(1), issued::add);
    assertThat(rechained.reused()).isFalse();
    assertThat(Pem.parseCertificates(Files.readString(dir.resolve("ca-cert.pem"))))
        .containsExactly(otherCa.certificate());

    // A key that is not the certificate's (a write cut between the files): replaced.
    Files.copy(
        tmp.resolve("other-ca/ca.key"),
        dir.resolve("client-key.pem"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.setPosixFilePermissions(
        dir.resolve("client-key.pem"), PosixFilePermissions.fromString("rw-------"));
    assertThat(
            NbdClientCertificates.write(
                    otherCa, "analytics.events", dir, Duration.ofDays(1), issued::add)
                .reused())
        .isFalse();

    // A file someone opened to the group: replaced, owner-only again.
    Files.setPosixFilePermissions(
        dir.resolve("client-key.pem"), PosixFilePermissions.fromString("rw-r-----"));
    assertThat(
            NbdClientCertificates.write(
                    otherCa, "analytics.events", dir, Duration.ofDays(1), issued::add)
                .reused())
        .isFalse();
    assertThat(
            PosixFilePermissions.toString(
                Files.getPosixFilePermissions(dir.resolve("client-key.pem"))))
        .isEqualTo("rw-------");
  }

  @Test
  void aNamespaceThatIsNoServiceNamespaceIdIsRefusedAndNothingIsWritten() {
    CertificateAuthority ca = ca("ca", Clock.systemUTC());
    Path dir = tmp.resolve("nbd-tls/Bad_NS");
    assertThatThrownBy(
            () -> NbdClientCertificates.write(ca, "Bad_NS", dir, Duration.ofDays(1), c -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a service namespace id");
    assertThat(tmp.resolve("nbd-tls")).doesNotExist();
  }

  /**
   * The directory works for GnuTLS: nbdinfo (libnbd) reaches an nbdkit that requires TLS and a
   * client certificate of the CA, and a directory signed by another CA is refused.
   */
  @Test
  void nbdinfoReachesATlsOnlyNbdkitWithTheDirectoryAndNotWithAForeignOne() throws Exception {
    assumeTrue(onPath("nbdkit") && onPath("nbdinfo"), "nbdkit and nbdinfo (.ci/run installs them)");
    CertificateAuthority ca = ca("ca", Clock.systemUTC());
    Path server = Files.createDirectories(tmp.resolve("server"));
    CertificateAuthority.ServerIdentity id = ca.issueServerIdentity(List.of("127.0.0.1"));
    Pem.writeOwnerOnly(server.resolve("ca-cert.pem"), Pem.certificate(ca.certificate()));
    Pem.writeOwnerOnly(server.resolve("server-cert.pem"), Pem.certificate(id.certificate()));
    Pem.writeOwnerOnly(
        server.resolve("server-key.pem"),
        NbdClientCertificates.privateKeyPem(id.key(), id.certificate().getPublicKey()));
    Path good = tmp.resolve("client/payments.ledger");
    NbdClientCertificates.write(ca, "payments.ledger", good, Duration.ofDays(1), c -> {});
    Path foreign = tmp.resolve("foreign/payments.ledger");
    NbdClientCertificates.write(
        ca("foreign-ca", Clock.systemUTC()),
        "payments.ledger",
        foreign,
        Duration.ofDays(1),
        c -> {});

    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Process nbdkit =
        new ProcessBuilder(
                "nbdkit",
                "-f",
                "--exit-with-parent",
                "-i",
                "127.0.0.1",
                "-p",
                String.valueOf(port),
                "--tls=require",
                "--tls-certificates=" + server,
                "--tls-verify-peer",
                "memory",
                "1M")
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("nbdkit.log").toFile())
            .start();
    try {
      awaitListening(port, nbdkit);
      String uri = BlockExport.tlsUri("payments.ledger", "127.0.0.1", port, good);
      Result ok = run("nbdinfo", "--size", uri);
      assertThat(ok.code()).as(ok.output()).isZero();
      assertThat(ok.output().strip()).isEqualTo("1048576");

      Result refused =
          run(
              "nbdinfo",
              "--size",
              BlockExport.tlsUri("payments.ledger", "127.0.0.1", port, foreign));
      assertThat(refused.code()).as(refused.output()).isNotZero();
    } finally {
      nbdkit.destroy();
      if (!nbdkit.waitFor(10, TimeUnit.SECONDS)) {
        nbdkit.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  record Result(int code, String output) {}

  private Result run(String... command) throws IOException, InterruptedException {
    Path out = Files.createTempFile(tmp, "out", ".txt");
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError(String.join(" ", command) + " did not finish within 60 s");
    }
    return new Result(p.exitValue(), Files.readString(out));
  }

  private void awaitListening(int port, Process p) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new AssertionError("nbdkit exited: " + Files.readString(tmp.resolve("nbdkit.log")));
      }
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(100);
      }
    }
    throw new AssertionError("nbdkit did not listen on " + port + " within 60 s");
  }

  private static boolean onPath(String name) {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(d, name))) {
        return true;
      }
    }
    return false;
  }
}
