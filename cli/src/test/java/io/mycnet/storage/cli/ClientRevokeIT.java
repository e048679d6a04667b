package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.RevocationRecord;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mycnet client revoke} against a real etcd: it writes the revocations the control plane
 * pushes to the agents (RevocationDataPathIT shows them refused on the data path), only for the
 * certificates named, and refuses bad input without writing anything.
 */
class ClientRevokeIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  @TempDir Path dir;
  SecurityStore security;
  EtcdStore store;
  CertificateAuthority ca;

  @BeforeEach
  void localState() {
    String endpoint = ETCD.endpoints().get(0);
    Properties p = new Properties();
    p.setProperty("etcd.client.port", endpoint.substring(endpoint.lastIndexOf(':') + 1));
    // Not used by this command; local mode writes them.
    p.setProperty("control-plane.http", "1");
    p.setProperty("control-plane.api", "http://127.0.0.1:1");
    new LocalState(dir).save(p);
    store = new EtcdStore(ETCD.client(), Duration.ofSeconds(5));
    security = new SecurityStore(store, EtcdKeys.defaults(), Clock.systemUTC());
    ca =
        CertificateAuthority.openOrCreate(
            dir.resolve("ca"), Clock.systemUTC(), Duration.ofHours(1));
  }

  String issue(String namespace) {
    X509Certificate c =
        ca.signClient(CertificateAuthority.generateEcKeyPair().getPublic(), namespace);
    String serial = CertificateAuthority.serialHex(c);
    security.recordIssuedClient(namespace, serial, c.getNotAfter().toInstant());
    return serial;
  }

  int revocations() {
    return store
        .list(EtcdKeys.defaults().prefix() + "/security/revoked-", RevocationRecord.parser())
        .size();
  }

  @Test
  void revokesEveryRecordedCertificateOfANamespaceAndOnlyThose() {
    String a1 = issue("payments.ledger");
    String a2 = issue("payments.ledger");
    String b = issue("analytics.jobs");
    MycnetCliTest.Run r =
        MycnetCliTest.run(
            "client", "revoke", "--namespace", "payments.ledger", "--state-dir=" + dir);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("revoked 2 client certificate(s)").contains(a1).contains(a2);
    assertThat(security.serialRevocation(a1)).isPresent();
    assertThat(security.serialRevocation(a2).orElseThrow().getReason())
        .contains("client:payments.ledger")
        .contains("revoked with mycnet client revoke");
    assertThat(security.serialRevocation(b)).isEmpty();

    r = MycnetCliTest.run("client", "revoke", b, "--reason", "leaked", "--state-dir=" + dir);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(security.serialRevocation(b).orElseThrow().getReason()).isEqualTo("leaked");
    assertThat(revocations()).isEqualTo(3);
  }

  @Test
  void badInputIsRefusedAndWritesNothing() {
    issue("shop.cart");
    int before = revocations();
    for (String[] args :
        new String[][] {
          {"client", "revoke"},
          {"client", "revoke", "abc", "--namespace", "shop.cart"},
          {"client", "revoke", "XYZ"},
          {"client", "revoke", "--namespace", "Bad_NS"},
          {"client", "revoke", "abc", "--reason", " "},
        }) {
      String[] withState = java.util.Arrays.copyOf(args, args.length + 1);
      withState[args.length] = "--state-dir=" + dir;
      MycnetCliTest.Run r = MycnetCliTest.run(withState);
      assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(2);
      assertThat(r.err()).startsWith("mycnet: ");
    }
    MycnetCliTest.Run r =
        MycnetCliTest.run("client", "revoke", "--namespace", "nobody", "--state-dir=" + dir);
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("no unexpired client certificate of namespace nobody");
    assertThat(revocations()).isEqualTo(before);
  }
}
