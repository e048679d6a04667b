package io.mycnet.storage.agent.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replication.PeerChannels;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.operator.security.CertificateAuthority;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data port's decision on a peer certificate against the revocation list, with certificates
 * signed by a real CA, and the list's durability in the agent's data directory.
 */
class DataPortRevocationTest {
  @TempDir Path dir;
  CertificateAuthority ca;

  @BeforeEach
  void ca() {
    ca =
        CertificateAuthority.openOrCreate(
            dir.resolve("ca"), Clock.systemUTC(), Duration.ofHours(1));
  }

  X509Certificate node(String id) {
    KeyPair kp = NodeIdentity.generateKeyPair();
    return ca.signNode(ca.checkCsr(NodeIdentity.csr(kp, id), id), id).certificate();
  }

  X509Certificate client(String namespace) {
    return ca.signClient(NodeIdentity.generateKeyPair().getPublic(), namespace);
  }

  static String serial(X509Certificate c) {
    return CertificateAuthority.serialHex(c);
  }

  @Test
  void nothingRevokedAdmitsNodesAndClients() {
    Revocations none = Revocations.of(RevocationList.getDefaultInstance());
    assertThat(DataServer.refusal(node("n1"), none)).isNull();
    assertThat(DataServer.refusal(client("app"), none)).isNull();
  }

  @Test
  void noCertificateIsUnauthenticated() {
    Status s = DataServer.refusal(null, Revocations.of(RevocationList.getDefaultInstance()));
    assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  @Test
  void aRevokedClientSerialIsRefusedAndOnlyThatCertificate() {
    X509Certificate revoked = client("app");
    X509Certificate other = client("app");
    Revocations r = Revocations.of(RevocationList.newBuilder().addSerials(serial(revoked)).build());
    Status s = DataServer.refusal(revoked, r);
    assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(s.getDescription())
        .contains(serial(revoked))
        .contains("client:app")
        .contains("revoked");
    assertThat(DataServer.refusal(other, r)).isNull();
  }

  @Test
  void aRevokedNodeIdRefusesEveryCertificateOfThatNodeButNoClient() {
    X509Certificate first = node("n2");
    X509Certificate renewed = node("n2");
    Revocations r = Revocations.of(RevocationList.newBuilder().addNodeIds("n2").build());
    for (X509Certificate c : new X509Certificate[] {first, renewed}) {
      Status s = DataServer.refusal(c, r);
      assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(s.getDescription()).contains("node n2").contains("revoked").contains(serial(c));
    }
    assertThat(DataServer.refusal(node("n3"), r)).isNull();
    // A client namespace that happens to spell a revoked node id is another identity.
    assertThat(DataServer.refusal(client("n2"), r)).isNull();
  }

  @Test
  void aRevokedNodeSerialIsRefusedEvenWhenTheNodeIdIsNot() {
    X509Certificate old = node("n4");
    X509Certificate current = node("n4");
    Revocations r = Revocations.of(RevocationList.newBuilder().addSerials(serial(old)).build());
    assertThat(DataServer.refusal(old, r).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(DataServer.refusal(current, r)).isNull();
  }

  @Test
  void theListSurvivesARestartAndAReadmissionLiftsTheNodeId() throws Exception {
    X509Certificate n = node("n5");
    X509Certificate c = client("app");
    Path data = dir.resolve("agent");
    Revocations r = Revocations.open(data);
    assertThat(DataServer.refusal(n, r)).isNull();
    RevocationList list =
        RevocationList.newBuilder().addNodeIds("n5").addSerials(serial(c)).setRevision(7).build();
    assertThat(r.update(list)).isTrue();
    assertThat(r.update(list)).isFalse();
    assertThat(r.nodeRevoked("n5")).isTrue();

    Revocations restarted = Revocations.open(data);
    assertThat(DataServer.refusal(n, restarted).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(DataServer.refusal(c, restarted).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);

    assertThat(
            restarted.update(
                RevocationList.newBuilder().addSerials(serial(c)).setRevision(9).build()))
        .isTrue();
    assertThat(DataServer.refusal(n, restarted)).isNull();
    assertThat(DataServer.refusal(n, Revocations.open(data))).isNull();
    assertThat(DataServer.refusal(c, Revocations.open(data)).getCode())
        .isEqualTo(Status.Code.PERMISSION_DENIED);
  }

  @Test
  void theAgentCallsNoRevokedPeer() throws Exception {
    Revocations r = Revocations.of(RevocationList.newBuilder().addNodeIds("gone").build());
    // Nothing listens on port 1: a call that left the agent would fail UNAVAILABLE.
    try (PeerChannels peers = new PeerChannels(new IdentityKeys(), r)) {
      assertThat(peers.revoked("gone")).isTrue();
      assertThat(peers.revoked("n1")).isFalse();
      io.mycnet.storage.api.v1.ReadIndexRequest req =
          io.mycnet.storage.api.v1.ReadIndexRequest.newBuilder().setVolumeId("v").build();
      assertThatThrownBy(
              () ->
                  peers
                      .blocking("gone", "127.0.0.1:1")
                      .withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                      .readIndex(req))
          .isInstanceOfSatisfying(
              io.grpc.StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(e.getStatus().getDescription()).contains("gone").contains("revoked");
              });
      var forward =
          peers
              .stub("gone", "127.0.0.1:1")
              .apply(io.mycnet.storage.api.v1.ReplicaWrite.newBuilder().setVolumeId("v").build());
      assertThatThrownBy(() -> forward.get(10, java.util.concurrent.TimeUnit.SECONDS))
          .hasCauseInstanceOf(io.grpc.StatusRuntimeException.class)
          .hasMessageContaining("PERMISSION_DENIED");
      assertThatThrownBy(
              () ->
                  peers
                      .blocking("n1", "127.0.0.1:1")
                      .withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                      .readIndex(req))
          .isInstanceOfSatisfying(
              io.grpc.StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    }
  }

  @Test
  void aCorruptStoredListIsAnErrorNotAnEmptyList() throws Exception {
    Path data = dir.resolve("agent2");
    Files.createDirectories(data.resolve("state"));
    Files.write(data.resolve("state").resolve(Revocations.FILE), new byte[] {(byte) 0xff, 0x01});
    assertThatThrownBy(() -> Revocations.open(data))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("corrupt");
  }
}
