package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.agent.it.BlockExportCluster.Run;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may use a volume over the network: the agent's NBD TCP port speaks only TLS with a client
 * certificate of a service namespace (plain NBD is refused); namespace alpha's certificate lists
 * and opens alpha's volumes and the volume beta shares with it read-only, never beta's other
 * volume, and cannot write to the shared one; a node that has not earned the trust a CRITICAL
 * volume needs cannot attach it, and the refusal explains the trust. The node that serves TLS is
 * dialled by its name, {@code localhost}, which its certificate carries: libnbd checks the agent's
 * certificate against the URI's host.
 */
class NbdSecurityIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "nbdse1.0123456789abcdef";
  static final String SERVER = "localhost";
  static final List<String> NODES = List.of(SERVER, "s2", "s3");
  static final String UNTRUSTED = "edge-u";
  static final Duration T = Duration.ofSeconds(60);

  @TempDir static Path dir;
  static BlockExportCluster c;
  static Path alphaCerts;
  static Path betaCerts;
  static String alphaVol;
  static String betaVol;
  static String shared;

  @BeforeAll
  static void start() throws Exception {
    BlockExportCluster.requireClients(List.of("nbdinfo", "nbdsh"));
    c = new BlockExportCluster(dir, ETCD, TOKEN, NODES, "nbd-security-it-logs");
    String alpha = c.serviceNamespace("alpha");
    String beta =
        c.serviceNamespace(
            "beta",
            "sharing:",
            "  - claim: beta-shared",
            "    with: [alpha]",
            "    mode: ReadOnly");
    alphaVol = c.claim("alpha-vol", "alpha", "8Mi", "SERVICE", "STANDARD", 2, "STRONG");
    betaVol = c.claim("beta-vol", "beta", "8Mi", "SERVICE", "STANDARD", 2, "STRONG");
    shared = c.claim("beta-shared", "beta", "8Mi", "SERVICE", "STANDARD", 2, "STRONG");
    for (String claim : List.of("alpha-vol", "beta-vol", "beta-shared")) {
      c.attached(SERVER, claim, false);
    }
    alphaCerts = c.clientCertificates(alpha);
    betaCerts = c.clientCertificates(beta);
  }

  @AfterAll
  static void stop() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  @Test
  void plainNbdOverTcpIsRefused() {
    Run plain = c.run(T, "nbdinfo", "--size", c.plainUri(SERVER, alphaVol));
    assertThat(plain.code()).as("%s", plain).isNotZero();
    assertThat(plain.err()).containsIgnoringCase("TLS");
    // The same export over TLS with alpha's certificate: served.
    Run tls = c.run(T, "nbdinfo", "--size", c.tlsUri(SERVER, alphaVol, alphaCerts));
    assertThat(tls.code()).as("%s", tls).isZero();
    assertThat(tls.out().strip()).isEqualTo(String.valueOf(8 << 20));
  }

  @Test
  void aNamespaceListsAndOpensOnlyWhatItOwnsOrIsSharedWithIt() {
    Run list = c.run(T, "nbdinfo", "--list", c.tlsUri(SERVER, "", alphaCerts));
    assertThat(list.code()).as("%s", list).isZero();
    assertThat(list.out()).contains(alphaVol).contains(shared).doesNotContain(betaVol);
    Run betaList = c.run(T, "nbdinfo", "--list", c.tlsUri(SERVER, "", betaCerts));
    assertThat(betaList.out()).contains(betaVol).contains(shared).doesNotContain(alphaVol);

    Run open = c.run(T, "nbdinfo", "--size", c.tlsUri(SERVER, betaVol, alphaCerts));
    assertThat(open.code()).as("%s", open).isNotZero();
    assertThat(open.out()).doesNotContain(String.valueOf(8 << 20));
    Run write = c.nbdsh(T, c.tlsUri(SERVER, betaVol, alphaCerts), "h.pwrite(b'stolen' * 100, 0)");
    // Refused by the agent when the export is opened: the write is never sent.
    assertThat(write.code()).as("%s", write).isNotZero();
    assertThat(write.err()).contains("nbd_connect_uri").doesNotContain("local file");
    // Nothing of it reached beta's volume.
    Run read =
        c.nbdsh(T, c.tlsUri(SERVER, betaVol, betaCerts), "assert h.pread(600, 0) == bytes(600)");
    assertThat(read.code()).as("%s", read).isZero();
  }

  @Test
  void aReadOnlyShareCannotWrite() {
    String asAlpha = c.tlsUri(SERVER, shared, alphaCerts);
    String asBeta = c.tlsUri(SERVER, shared, betaCerts);
    Run owner = c.nbdsh(T, asBeta, "h.pwrite(b'owner' * 100, 0)");
    assertThat(owner.code()).as("%s", owner).isZero();
    assertThat(c.run(T, "nbdinfo", "--is", "read-only", asAlpha).code()).isZero();
    assertThat(c.run(T, "nbdinfo", "--is", "read-only", asBeta).code()).isNotZero();
    Run w =
        c.nbdsh(
            T,
            asAlpha,
            String.join(
                "\n",
                "assert h.pread(500, 0) == b'owner' * 100",
                "try:",
                "    h.pwrite(b'reader' * 100, 0)",
                "    raise SystemExit('a read-only share wrote')",
                "except nbd.Error as e:",
                "    print('refused:', e)"));
    assertThat(w.code()).as("%s", w).isZero();
    assertThat(w.out()).contains("refused:");
    Run kept = c.nbdsh(T, asBeta, "assert h.pread(500, 0) == b'owner' * 100");
    assertThat(kept.code()).as("%s", kept).isZero();
  }

  @Test
  void aNodeWithoutTheTrustOfACriticalVolumeCannotAttachIt() {
    c.claim("crit", "alpha", "8Mi", "SERVICE", "CRITICAL", 2, "STRONG");
    // A node that joined just now, with no history: live, but far from CRITICAL trust.
    c.cp.startAgentAt(
        UNTRUSTED,
        TOKEN,
        "region=eu/zone=z9/rack=r1/node=" + UNTRUSTED,
        "--nbd-address=127.0.0.1:0");
    await().atMost(Duration.ofSeconds(30)).until(() -> c.cp.registry.isLive(UNTRUSTED));
    c.kubeNode(UNTRUSTED);
    String r = c.attach(UNTRUSTED, "crit", false);
    System.out.println("attach of a CRITICAL volume on an unvetted node: " + r);
    assertThat(r).startsWith("attach refused").containsIgnoringCase("trust");
    assertThat(c.allocation(BlockExportCluster.volumeId("crit")).getAttachmentsList()).isEmpty();
    // A vetted node attaches it.
    assertThat(c.attach("s2", "crit", false)).startsWith("attach ok");
  }
}
