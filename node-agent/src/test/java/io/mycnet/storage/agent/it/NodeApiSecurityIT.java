package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.RenewCertificateRequest;
import io.mycnet.storage.api.v1.SessionHello;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every refusal of the node API, against a control plane process over real TCP: each gets the right
 * status code (or a TLS handshake failure for plaintext) and is logged once by the control plane,
 * however often the peer retries.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeApiSecurityIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String FLEET = "fleet2.0123456789abcdef";
  static final String SINGLE = "single.0123456789abcdef";
  static final String REVOKE_ME = "revokd.0123456789abcdef";
  static final int JOIN_FAILURE_LIMIT = 12;

  @TempDir static Path dir;
  static ControlPlaneFixture cp;
  final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void startControlPlane() {
    cp =
        new ControlPlaneFixture(
                dir,
                ETCD.client(),
                ETCD.endpoints(),
                FLEET + " reusable\n" + SINGLE + " single-use\n" + REVOKE_ME + " reusable\n")
            .startControlPlane("--join-failures-per-minute=" + JOIN_FAILURE_LIMIT);
  }

  @AfterAll
  static void stopAll() {
    if (cp != null) {
      cp.close();
    }
  }

  @AfterEach
  void closeChannels() throws InterruptedException {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  // ---- helpers ----

  ManagedChannel channel(int port, SslContext tls) {
    ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls).build();
    channels.add(c);
    return c;
  }

  List<java.security.cert.X509Certificate> ca() throws Exception {
    return NodeIdentity.parseCertificates(Files.readString(cp.caFile()));
  }

  record Joined(KeyPair keys, NodeIdentity identity) {}

  JoinResponse joinCall(String nodeId, String token, KeyPair kp) throws Exception {
    return NodeJoinGrpc.newBlockingStub(channel(cp.joinPort, NodeIdentity.joinTls(ca())))
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .join(
            JoinRequest.newBuilder()
                .setBootstrapToken(token)
                .setNodeId(nodeId)
                .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, nodeId)))
                .setTopologyPath("region=eu/zone=eu-1/rack=r2/node=" + nodeId)
                .setOwner("tests")
                .setCapacityBytes(1L << 30)
                .setAddress("127.0.0.1:9")
                .build());
  }

  Joined join(String nodeId, String token) throws Exception {
    KeyPair kp = NodeIdentity.generateKeyPair();
    JoinResponse r = joinCall(nodeId, token, kp);
    NodeIdentity id =
        new NodeIdentity(
            kp.getPrivate(),
            NodeIdentity.parseCertificates(r.getCertificate().getCertificatePem()).get(0),
            NodeIdentity.parseCertificates(r.getCertificate().getCaBundlePem()));
    return new Joined(kp, id);
  }

  Status.Code joinStatus(String nodeId, String token) throws Exception {
    try {
      joinCall(nodeId, token, NodeIdentity.generateKeyPair());
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  /** A session stream that records what the control plane sends. */
  static final class Recorder implements StreamObserver<ControlMessage> {
    final List<ControlMessage> received = new CopyOnWriteArrayList<>();
    volatile Status ended;

    @Override
    public void onNext(ControlMessage m) {
      received.add(m);
    }

    @Override
    public void onError(Throwable t) {
      ended = Status.fromThrowable(t);
    }

    @Override
    public void onCompleted() {
      ended = Status.OK;
    }

    boolean hasCommand(String id) {
      return received.stream()
          .anyMatch(m -> m.hasCommand() && m.getCommand().getCommandId().equals(id));
    }
  }

  Status sessionStatus(NodeIdentity id, String helloNodeId) {
    Recorder rec = new Recorder();
    StreamObserver<AgentMessage> up =
        NodeSessionGrpc.newStub(channel(cp.sessionPort, id.clientTls())).session(rec);
    up.onNext(
        AgentMessage.newBuilder()
            .setHello(SessionHello.newBuilder().setNodeId(helloNodeId))
            .build());
    await().atMost(Duration.ofSeconds(10)).until(() -> rec.ended != null);
    return rec.ended;
  }

  // ---- tests ----

  @Test
  @Order(1)
  void wrongTokenIsUnauthenticatedAndLoggedOnce() throws Exception {
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(
              () -> joinCall("n-wrong", "fleet2.ffffffffffffffff", NodeIdentity.generateKeyPair()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                assertThat(e.getStatus().getDescription())
                    .contains("bootstrap token fleet2 is not valid");
              });
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cp.controlPlane.countInStderr("bootstrap token fleet2 is not valid") == 1);
    assertThat(cp.controlPlane.stderr()).doesNotContain("ffffffffffffffff");
  }

  @Test
  @Order(2)
  void invalidJoinRequestsGetInvalidArgumentNamingTheField() throws Exception {
    KeyPair kp = NodeIdentity.generateKeyPair();
    // CSR for another CN than the node id asked for.
    StatusRuntimeException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                NodeJoinGrpc.newBlockingStub(channel(cp.joinPort, NodeIdentity.joinTls(ca())))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .join(
                        JoinRequest.newBuilder()
                            .setBootstrapToken(FLEET)
                            .setNodeId("n-x")
                            .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, "n-y")))
                            .setTopologyPath("region=eu")
                            .setOwner("tests")
                            .setCapacityBytes(1)
                            .setAddress("127.0.0.1:9")
                            .build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).contains("csr_der").contains("CN=n-y");
    StatusRuntimeException bad =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                NodeJoinGrpc.newBlockingStub(channel(cp.joinPort, NodeIdentity.joinTls(ca())))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .join(
                        JoinRequest.newBuilder()
                            .setBootstrapToken(FLEET)
                            .setNodeId("N_X")
                            .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, "N_X")))
                            .build()));
    assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(bad.getStatus().getDescription()).startsWith("node_id:");
  }

  @Test
  @Order(3)
  void singleUseTokenIsBoundToItsNodeAndRefusedAfterRevocation() throws Exception {
    Joined a = join("n-single", SINGLE);
    // The same node may repeat its join with the same key (a lost answer); another key for the
    // same node id is another machine, and another node may not use the token.
    assertThat(joinCall("n-single", SINGLE, a.keys()).hasCertificate()).isTrue();
    assertThat(joinStatus("n-single", SINGLE)).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(joinStatus("n-other", SINGLE)).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(sessionStatusOpen(a.identity(), "n-single")).isTrue();

    // Remove (revoke) the node from another process: the control plane sees it through etcd.
    cp.security.revokeNode("n-single", "decommissioned by the test");
    cp.registry.remove("n-single");
    for (int i = 0; i < 3; i++) {
      assertThat(joinStatus("n-single", SINGLE)).isEqualTo(Status.Code.PERMISSION_DENIED);
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> cp.controlPlane.countInStderr("node n-single was removed from the cluster") == 1);
    // Its certificate is refused from then on.
    Status s = sessionStatus(a.identity(), "n-single");
    assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(s.getDescription()).contains("was revoked");
    assertThat(sessionStatus(a.identity(), "n-single").getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cp.controlPlane.countInStderr("of node n-single was revoked") == 1);

    // Revocations are durable: a restarted control plane still refuses them.
    cp.controlPlane.stop();
    cp.startControlPlane("--join-failures-per-minute=" + JOIN_FAILURE_LIMIT);
    assertThat(sessionStatus(a.identity(), "n-single").getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(joinStatus("n-single", SINGLE)).isEqualTo(Status.Code.PERMISSION_DENIED);

    // A revoked reusable token is refused for everyone.
    assertThat(joinStatus("n-r1", REVOKE_ME)).isEqualTo(Status.Code.OK);
    cp.security.revokeToken("revokd", "leaked");
    assertThat(joinStatus("n-r2", REVOKE_ME)).isEqualTo(Status.Code.PERMISSION_DENIED);
  }

  boolean sessionStatusOpen(NodeIdentity id, String nodeId) {
    Recorder rec = new Recorder();
    StreamObserver<AgentMessage> up =
        NodeSessionGrpc.newStub(channel(cp.sessionPort, id.clientTls())).session(rec);
    up.onNext(
        AgentMessage.newBuilder().setHello(SessionHello.newBuilder().setNodeId(nodeId)).build());
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !rec.received.isEmpty() || rec.ended != null);
    up.onCompleted();
    return rec.received.stream().anyMatch(ControlMessage::hasWelcome);
  }

  @Test
  @Order(4)
  void expiredCertificateIsUnauthenticatedAndLoggedOnce() throws Exception {
    // Sign with the control plane's own CA (same CA directory), as if issued two days ago.
    Clock past = Clock.fixed(Instant.now().minus(Duration.ofDays(2)), ZoneOffset.UTC);
    CertificateAuthority ca =
        CertificateAuthority.openOrCreate(cp.caDir, past, Duration.ofHours(24));
    KeyPair kp = NodeIdentity.generateKeyPair();
    PKCS10CertificationRequest csr = ca.checkCsr(NodeIdentity.csr(kp, "n-expired"), "n-expired");
    var cert = ca.signNode(csr, "n-expired");
    NodeIdentity expired = new NodeIdentity(kp.getPrivate(), cert.certificate(), ca());
    for (int i = 0; i < 3; i++) {
      Status s = sessionStatus(expired, "n-expired");
      assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(s.getDescription()).contains("expired at").contains("rejoin");
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cp.controlPlane.countInStderr("node certificate of n-expired") == 1);
  }

  @Test
  @Order(5)
  void aNodeCannotReportForOrReceiveTheCommandsOfAnotherNode() throws Exception {
    Joined a = join("n-a", FLEET);
    join("n-b", FLEET);
    NodeCommand forB =
        NodeCommand.newBuilder()
            .setCommandId("cmd-for-b")
            .setCreateReplica(
                CreateReplica.newBuilder().setVolumeId("vol-b").setEpoch(1).setSizeBytes(1))
            .build();
    cp.queue.enqueue("n-b", forB);

    // A's certificate, a hello naming B: refused, logged once.
    for (int i = 0; i < 2; i++) {
      Status s = sessionStatus(a.identity(), "n-b");
      assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(s.getDescription()).contains("certificate is for node n-a");
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cp.controlPlane.countInStderr("the hello names node n-b") == 1);

    // Renewal for B over A's channel: refused.
    KeyPair kp = NodeIdentity.generateKeyPair();
    StatusRuntimeException renew =
        org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () ->
                NodeSessionGrpc.newBlockingStub(channel(cp.sessionPort, a.identity().clientTls()))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .renewCertificate(
                        RenewCertificateRequest.newBuilder()
                            .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, "n-b")))
                            .build()));
    assertThat(renew.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);

    // A's own session: gets A's (empty) queue, never B's command; a result naming B's command
    // acknowledges nothing.
    Recorder rec = new Recorder();
    StreamObserver<AgentMessage> up =
        NodeSessionGrpc.newStub(channel(cp.sessionPort, a.identity().clientTls())).session(rec);
    up.onNext(
        AgentMessage.newBuilder().setHello(SessionHello.newBuilder().setNodeId("n-a")).build());
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> rec.received.stream().anyMatch(ControlMessage::hasWelcome));
    assertThat(rec.received.get(0).getWelcome().getNodeId()).isEqualTo("n-a");
    // A heartbeat over A's channel renews A's lease, never B's.
    up.onNext(
        AgentMessage.newBuilder()
            .setHeartbeat(io.mycnet.storage.api.v1.Heartbeat.newBuilder().setSequence(1))
            .build());
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> rec.received.stream().anyMatch(ControlMessage::hasHeartbeatAck));
    assertThat(cp.registry.isLive("n-a")).isTrue();
    assertThat(cp.registry.isLive("n-b")).isFalse();
    up.onNext(
        AgentMessage.newBuilder()
            .setCommandResult(CommandResult.newBuilder().setCommandId("cmd-for-b").setOk(true))
            .build());
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(3))
        .until(() -> !rec.hasCommand("cmd-for-b") && rec.ended == null);
    assertThat(cp.queue.pending("n-b"))
        .extracting(NodeCommand::getCommandId)
        .containsExactly("cmd-for-b");
    up.onCompleted();

    // Renewal of A's own certificate over its channel works.
    KeyPair fresh = NodeIdentity.generateKeyPair();
    var renewed =
        NodeSessionGrpc.newBlockingStub(channel(cp.sessionPort, a.identity().clientTls()))
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .renewCertificate(
                RenewCertificateRequest.newBuilder()
                    .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(fresh, "n-a")))
                    .build());
    assertThat(renewed.getCertificate().getSerial()).isNotEqualTo(a.identity().serial());
    assertThat(cp.registry.get("n-a").orElseThrow().getCertificateSerialsList())
        .contains(a.identity().serial(), renewed.getCertificate().getSerial());
  }

  @Test
  @Order(6)
  void plaintextAndCertificateLessConnectionsFailTheHandshakeAndAreLoggedOnce() throws Exception {
    for (int port : new int[] {cp.sessionPort, cp.joinPort}) {
      for (int i = 0; i < 3; i++) {
        ManagedChannel plain =
            NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        channels.add(plain);
        StatusRuntimeException e =
            org.junit.jupiter.api.Assertions.assertThrows(
                StatusRuntimeException.class,
                () ->
                    HealthGrpc.newBlockingStub(plain)
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .check(HealthCheckRequest.getDefaultInstance()));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        plain.shutdownNow();
      }
    }
    // TLS without a client certificate on the session port: handshake refused.
    for (int i = 0; i < 3; i++) {
      StatusRuntimeException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              StatusRuntimeException.class,
              () ->
                  HealthGrpc.newBlockingStub(channel(cp.sessionPort, NodeIdentity.joinTls(ca())))
                      .withDeadlineAfter(5, TimeUnit.SECONDS)
                      .check(HealthCheckRequest.getDefaultInstance()));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                cp.controlPlane.countInStderr(
                            "plaintext (non-TLS) connection from 127.0.0.1 to the session port")
                        == 1
                    && cp.controlPlane.countInStderr(
                            "plaintext (non-TLS) connection from 127.0.0.1 to the join port")
                        == 1
                    && cp.controlPlane.countInStderr(
                            "TLS handshake with 127.0.0.1 on the session port failed")
                        == 1);
  }

  @Test
  @Order(7)
  void healthServiceAnswersOnBothPorts() throws Exception {
    var joinHealth =
        HealthGrpc.newBlockingStub(channel(cp.joinPort, NodeIdentity.joinTls(ca())))
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(
                HealthCheckRequest.newBuilder().setService("mycnet.storage.v1.NodeJoin").build());
    assertThat(joinHealth.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    Joined h = join("n-health", FLEET);
    var sessionHealth =
        HealthGrpc.newBlockingStub(channel(cp.sessionPort, h.identity().clientTls()))
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(
                HealthCheckRequest.newBuilder()
                    .setService("mycnet.storage.v1.NodeSession")
                    .build());
    assertThat(sessionHealth.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  @Test
  @Order(8)
  void repeatedFailedJoinsFromOneAddressAreRateLimited() throws Exception {
    Status.Code last = null;
    for (int i = 0; i <= JOIN_FAILURE_LIMIT && last != Status.Code.RESOURCE_EXHAUSTED; i++) {
      last = joinStatus("n-brute", "fleet2.aaaaaaaaaaaaaaaa");
    }
    assertThat(last).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    // Even a valid token is turned away for the rest of the minute.
    assertThat(joinStatus("n-late", FLEET)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> cp.controlPlane.countInStderr("too many failed joins from 127.0.0.1") == 1);
  }
}
