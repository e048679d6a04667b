package io.mycnet.storage.operator.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {
  static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  @TempDir Path dir;

  static byte[] csr(KeyPair kp, String cn, String alg) throws Exception {
    return new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + cn), kp.getPublic())
        .build(new JcaContentSignerBuilder(alg).build(kp.getPrivate()))
        .getEncoded();
  }

  CertificateAuthority ca() {
    return CertificateAuthority.openOrCreate(
        dir.resolve("ca"), CLOCK, CertificateAuthority.DEFAULT_NODE_LIFETIME);
  }

  @Test
  void createsTheCaOnceWithAnOwnerOnlyKeyAndReloadsIt() throws Exception {
    CertificateAuthority first = ca();
    Path key = dir.resolve("ca/ca.key");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    X509Certificate cert = first.certificate();
    assertThat(cert.getBasicConstraints()).isEqualTo(0);
    assertThat(Duration.between(NOW, cert.getNotAfter().toInstant()))
        .isGreaterThan(Duration.ofDays(3650));
    assertThat(ca().certificate()).isEqualTo(cert);
  }

  @Test
  void refusesAKeyReadableByOthersAndAHalfCa() throws Exception {
    ca();
    Path key = dir.resolve("ca/ca.key");
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(this::ca).hasMessageContaining("chmod 600");
    Files.delete(key);
    assertThatThrownBy(this::ca).hasMessageContaining("has ca.crt but no ca.key");
  }

  @Test
  void signsANodeCertificateForItsOwnCsr() throws Exception {
    CertificateAuthority ca = ca();
    KeyPair kp = CertificateAuthority.generateEcKeyPair();
    PKCS10CertificationRequest csr = ca.checkCsr(csr(kp, "n17", "SHA256withECDSA"), "n17");
    NodeCertificate nc = ca.signNode(csr, "n17");
    X509Certificate c = nc.certificate();
    c.verify(ca.certificate().getPublicKey());
    assertThat(CertificateAuthority.commonName(c)).isEqualTo("n17");
    assertThat(c.getPublicKey()).isEqualTo(kp.getPublic());
    assertThat(c.getBasicConstraints()).isEqualTo(-1);
    assertThat(c.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.1");
    assertThat(c.getSubjectAlternativeNames()).contains(List.of(2, "n17"));
    assertThat(nc.notAfter()).isEqualTo(NOW.plus(Duration.ofHours(24)));
    assertThat(nc.renewAfter()).isEqualTo(NOW.plus(Duration.ofHours(16)));
    assertThat(nc.notBefore()).isEqualTo(NOW.minus(CertificateAuthority.CLOCK_SKEW));
    assertThat(ca.signNode(csr, "n17").serial()).isNotEqualTo(nc.serial());
    new NodeCertificateTrustManager(ca.certificate())
        .checkClientTrusted(new X509Certificate[] {c}, "ECDHE_ECDSA");
  }

  @Test
  void aNodeCertificateNamesTheHostItServesOn() throws Exception {
    CertificateAuthority ca = ca();
    KeyPair kp = CertificateAuthority.generateEcKeyPair();
    PKCS10CertificationRequest csr = ca.checkCsr(csr(kp, "n17", "SHA256withECDSA"), "n17");
    assertThat(
            ca.signNode(csr, "n17", List.of("127.0.0.1"))
                .certificate()
                .getSubjectAlternativeNames())
        .containsExactlyInAnyOrder(List.of(2, "n17"), List.of(7, "127.0.0.1"));
    assertThat(
            ca.signNode(csr, "n17", List.of("node-17.example"))
                .certificate()
                .getSubjectAlternativeNames())
        .containsExactlyInAnyOrder(List.of(2, "n17"), List.of(2, "node-17.example"));
    // A wildcard listen address names no host.
    assertThat(
            ca.signNode(csr, "n17", List.of("0.0.0.0")).certificate().getSubjectAlternativeNames())
        .containsExactly(List.of(2, "n17"));
  }

  @Test
  void refusesCsrsItMustNotSign() throws Exception {
    CertificateAuthority ca = ca();
    KeyPair kp = CertificateAuthority.generateEcKeyPair();
    assertThatThrownBy(() -> ca.checkCsr(csr(kp, "n18", "SHA256withECDSA"), "n17"))
        .isInstanceOfSatisfying(
            CsrRejectedException.class, e -> assertThat(e.identityMismatch()).isTrue())
        .hasMessageContaining("asks for CN=n18 but the node id is n17");
    assertThatThrownBy(() -> ca.checkCsr(new byte[] {1, 2, 3}, "n17"))
        .hasMessageContaining("not a DER-encoded PKCS#10");
    byte[] tampered = csr(kp, "n17", "SHA256withECDSA");
    tampered[tampered.length - 5] ^= 0x01;
    assertThatThrownBy(() -> ca.checkCsr(tampered, "n17")).isInstanceOf(CsrRejectedException.class);
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(1024);
    assertThatThrownBy(() -> ca.checkCsr(csr(rsa.generateKeyPair(), "n17", "SHA256withRSA"), "n17"))
        .hasMessageContaining("at least 2048");
  }

  @Test
  void theTrustManagerRefusesCertificatesOfAnotherCa() throws Exception {
    CertificateAuthority ours = ca();
    CertificateAuthority other =
        CertificateAuthority.openOrCreate(dir.resolve("other"), CLOCK, Duration.ofHours(1));
    KeyPair kp = CertificateAuthority.generateEcKeyPair();
    X509Certificate foreign =
        other
            .signNode(other.checkCsr(csr(kp, "n17", "SHA256withECDSA"), "n17"), "n17")
            .certificate();
    assertThatThrownBy(
            () ->
                new NodeCertificateTrustManager(ours.certificate())
                    .checkClientTrusted(new X509Certificate[] {foreign}, "ECDHE_ECDSA"))
        .hasMessageContaining("not signed by this control plane's CA");
  }

  @Test
  void serverIdentityCarriesTheConfiguredNames() throws Exception {
    var id = ca().issueServerIdentity(List.of("localhost", "127.0.0.1", "::1"));
    assertThat(id.certificate().getSubjectAlternativeNames())
        .contains(List.of(2, "localhost"), List.of(7, "127.0.0.1"));
  }

  @Test
  void nodeIdsAreDnsSubdomains() {
    assertThat(NodeIds.problem("edge-3.rack-1")).isNull();
    assertThat(NodeIds.problem("N17")).contains("DNS-1123");
    assertThat(NodeIds.problem("-n")).contains("DNS-1123");
    assertThat(NodeIds.problem("")).contains("empty");
  }
}
