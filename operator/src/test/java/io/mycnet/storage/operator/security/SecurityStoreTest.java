package io.mycnet.storage.operator.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.RevocationRecord;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.store.ManualClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The node API's durable security state, on the in-memory store. */
class SecurityStoreTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  final ManualClock clock = new ManualClock();
  final InMemoryStore store = new InMemoryStore(clock);
  final EtcdKeys keys = new EtcdKeys("/t");
  final SecurityStore security = new SecurityStore(store, keys, clock);

  @AfterEach
  void close() {
    security.close();
    store.close();
  }

  NodeCertificate cert(String nodeId, String serial, Duration lifetime) {
    Instant now = clock.instant();
    return new NodeCertificate(
        nodeId,
        null,
        serial,
        now,
        now.plus(lifetime),
        now.plus(lifetime.multipliedBy(2).dividedBy(3)));
  }

  @Test
  void aSingleUseTokenIsSpentOnTheFirstNodeOnly() {
    assertThat(security.tokenUse("tok").exists()).isFalse();
    assertThat(security.claimSingleUse("tok", "n1")).isEmpty();
    assertThat(security.claimSingleUse("tok", "n1")).isEmpty(); // the same node again: fine
    assertThat(security.claimSingleUse("tok", "n2")).contains("n1");
    assertThat(security.tokenUse("tok").value().getNodeId()).isEqualTo("n1");
  }

  @Test
  void issuedCertificatesAreListedUntilTheyExpireOrAreRevoked() {
    assertThat(security.recordIssued(cert("n1", "a1", Duration.ofHours(1)), null))
        .containsExactly("a1");
    assertThat(security.recordIssued(cert("n1", "a2", Duration.ofDays(1)), "tok"))
        .containsExactlyInAnyOrder("a2", "a1");
    security.revokeSerial("a2", "leaked");
    assertThat(security.recordIssued(cert("n1", "a3", Duration.ofDays(1)), null))
        .containsExactlyInAnyOrder("a3", "a1");

    clock.advance(Duration.ofHours(2)); // a1 has expired: it is forgotten
    assertThat(security.recordIssued(cert("n1", "a4", Duration.ofDays(1)), null))
        .containsExactlyInAnyOrder("a4", "a3");
    assertThat(store.keys(security.issuedPrefix("n1")))
        .containsExactlyInAnyOrder(
            security.issuedPrefix("n1") + "a2",
            security.issuedPrefix("n1") + "a3",
            security.issuedPrefix("n1") + "a4");
  }

  @Test
  void revokingANodeRevokesItsIdItsLiveCertificatesAndTheSingleUseTokenItJoinedWith() {
    security.claimSingleUse("tok", "n1");
    security.recordIssued(cert("n1", "c1", Duration.ofDays(1)), "tok");
    security.recordIssued(cert("n1", "c2", Duration.ofDays(1)), null);
    security.recordIssued(cert("n2", "d1", Duration.ofDays(1)), null);

    List<String> serials = security.revokeNode("n1", "stolen");
    assertThat(serials).containsExactlyInAnyOrder("c1", "c2");
    assertThat(security.nodeRevocation("n1"))
        .get()
        .extracting(RevocationRecord::getReason)
        .isEqualTo("stolen");
    assertThat(security.serialRevocation("c1")).isPresent();
    assertThat(security.serialRevocation("d1")).isEmpty();
    assertThat(security.tokenRevocation("tok")).isPresent();
    assertThat(security.nodeRevocation("n2")).isEmpty();
    // idempotent
    assertThat(security.revokeNode("n1", "stolen")).containsExactlyInAnyOrder("c1", "c2");
  }

  @Test
  void theWatchedViewFollowsRevocationsFromAnyProcessAndReadmissions() {
    // revoked before this process started watching: loaded at start
    SecurityStore other = new SecurityStore(store.connect(), keys, clock);
    other.revokeSerial("0ab", "old");
    List<RevocationRecord> seen = new CopyOnWriteArrayList<>();
    AtomicInteger changes = new AtomicInteger();
    security.onRevoked(seen::add);
    security.onChanged(changes::incrementAndGet);
    security.startWatching();
    assertThat(security.cachedSerialRevocation("0ab")).isPresent();
    long loaded = security.revision();
    assertThat(loaded).isPositive();

    // revoked by another process after: seen through the watch
    other.recordIssued(cert("n1", "c1", Duration.ofDays(1)), null);
    other.revokeNode("n1", "removed");
    await().atMost(WAIT).until(() -> security.cachedNodeRevocation("n1").isPresent());
    await().atMost(WAIT).until(() -> security.cachedSerialRevocation("c1").isPresent());
    assertThat(security.revocationList().getNodeIdsList()).containsExactly("n1");
    assertThat(security.revocationList().getSerialsList()).containsExactly("0ab", "c1");
    assertThat(security.revocationList().getRevision()).isGreaterThan(loaded);
    assertThat(seen).extracting(RevocationRecord::getNodeId).contains("n1");
    assertThat(changes.get()).isPositive();

    // re-admission: the id is accepted again, its old certificates stay revoked
    int before = changes.get();
    other.readmitNode("n1");
    await().atMost(WAIT).until(() -> security.cachedNodeRevocation("n1").isEmpty());
    await().atMost(WAIT).until(() -> changes.get() > before);
    assertThat(security.nodeRevocation("n1")).isEmpty();
    assertThat(security.cachedSerialRevocation("c1")).isPresent();
    assertThat(security.revocationList().getNodeIdsList()).isEmpty();
  }

  @Test
  void clientCertificatesAreRevokedByNamespaceWhileUnexpired() {
    assertThat(security.revokeClients("ns1", "nothing recorded")).isEmpty();
    security.recordIssuedClient("ns1", "e1", clock.instant().plus(Duration.ofHours(1)));
    security.recordIssuedClient("ns1", "e2", clock.instant().plus(Duration.ofDays(1)));
    security.recordIssuedClient("ns2", "f1", clock.instant().plus(Duration.ofDays(1)));
    clock.advance(Duration.ofHours(2));
    assertThat(security.revokeClients("ns1", "namespace deleted")).containsExactly("e2");
    assertThat(security.serialRevocation("e2"))
        .get()
        .extracting(RevocationRecord::getReason)
        .isEqualTo(CertificateAuthority.CLIENT_PREFIX + "ns1: namespace deleted");
    assertThat(security.serialRevocation("e1")).isEmpty();
    assertThat(security.serialRevocation("f1")).isEmpty();
  }

  @Test
  void aRevokedTokenIsRecorded() {
    security.revokeToken("tok-1", "lost");
    assertThat(security.tokenRevocation("tok-1"))
        .get()
        .extracting(RevocationRecord::getReason)
        .isEqualTo("lost");
    assertThat(security.tokenRevocation("tok-2")).isEmpty();
  }

  @Test
  void badInputIsRefusedWithoutAWrite() {
    assertThatThrownBy(() -> security.revokeSerial("XYZ", "x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lower-case hex");
    assertThatThrownBy(() -> security.revokeSerial(null, "x"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> security.revokeToken("a/b", "x"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> security.claimSingleUse("", "n1"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(store.keys("/t")).isEmpty();
  }
}
