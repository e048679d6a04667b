package io.mycnet.storage.operator.nodeapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.Heartbeat;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.RenewCertificateRequest;
import io.mycnet.storage.api.v1.RenewCertificateResponse;
import io.mycnet.storage.api.v1.SessionHello;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node API's join and session services over gRPC's in-process transport, on a real CA, token
 * file, security store and node registry in etcd. What the TLS layer and {@link
 * PeerIdentityInterceptor} establish for a session (the node id and certificate of the peer) is put
 * into the call's {@link Context} by the test, from a certificate the CA issued in a join.
 */
class NodeApiServicesIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private static final String TOKEN = "abcdef.0123456789abcdef";
  private static final String TOPOLOGY = "region=eu/zone=a/rack=r1/node=";

  @TempDir Path dir;
  private final String instance = "in-process-" + UUID.randomUUID();
  private final AtomicReference<String> peerNode = new AtomicReference<>();
  private final AtomicReference<X509Certificate> peerCert = new AtomicReference<>();
  private ScheduledThreadPoolExecutor timer;
  private NodeRegistry registry;
  private SecurityStore security;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    Clock clock = Clock.systemUTC();
    EtcdStore store = new EtcdStore(ETCD.client(), Duration.ofSeconds(5));
    EtcdKeys keys = new EtcdKeys("/" + UUID.randomUUID());
    Path tokens = dir.resolve("tokens");
    Files.writeString(tokens, TOKEN + " reusable\n");
    CertificateAuthority ca =
        CertificateAuthority.openOrCreate(
            dir.resolve("ca"), clock, CertificateAuthority.DEFAULT_NODE_LIFETIME);
    security = new SecurityStore(store, keys, clock);
    registry = new NodeRegistry(store, keys, clock, Duration.ofSeconds(10));
    NodeApiSettings settings = NodeApiSettings.defaults();
    RefusalLog refusals = new RefusalLog();
    timer = new ScheduledThreadPoolExecutor(1);
    JoinService join =
        new JoinService(
            settings, ca, BootstrapTokens.load(tokens, clock), security, registry, refusals);
    SessionService session =
        new SessionService(
            settings,
            ca,
            security,
            registry,
            new CommandQueue(store, keys),
            NodeMeasurementListeners.all(),
            clock,
            refusals,
            timer);
    server =
        InProcessServerBuilder.forName(instance)
            .addService(join)
            .addService(ServerInterceptors.intercept(session, new PeerIdentity()))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(instance).build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    timer.shutdownNow();
    security.close();
  }

  /** What PeerIdentityInterceptor derives from the verified TLS peer, set by the test. */
  private final class PeerIdentity implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
      Context ctx =
          Context.current()
              .withValue(NodePeer.NODE_ID, peerNode.get())
              .withValue(NodePeer.CERTIFICATE, peerCert.get());
      return Contexts.interceptCall(ctx, call, headers, next);
    }
  }

  private static KeyPair keys() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static ByteString csr(KeyPair kp, String cn) throws Exception {
    return ByteString.copyFrom(
        new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + cn), kp.getPublic())
            .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()))
            .getEncoded());
  }

  private JoinResponse join(String nodeId, String token, KeyPair kp) throws Exception {
    return NodeJoinGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .join(
            JoinRequest.newBuilder()
                .setBootstrapToken(token)
                .setNodeId(nodeId)
                .setCsrDer(csr(kp, nodeId))
                .setTopologyPath(TOPOLOGY + nodeId)
                .setOwner("acme")
                .setCapacityBytes(1L << 40)
                .setAddress("127.0.0.1:7000")
                .build());
  }

  private static Status.Code codeOf(Throwable t) {
    return Status.fromThrowable(t).getCode();
  }

  private static X509Certificate certificateOf(JoinResponse r) throws Exception {
    return (X509Certificate)
        CertificateFactory.getInstance("X.509")
            .generateCertificate(
                new ByteArrayInputStream(
                    r.getCertificate()
                        .getCertificatePem()
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
  }

  @Test
  void aJoinWithAValidTokenRegistersTheNodeAndBindsItsKey() throws Exception {
    KeyPair kp = keys();
    JoinResponse r = join("n1", TOKEN, kp);

    X509Certificate cert = certificateOf(r);
    assertThat(cert.getSubjectX500Principal().getName()).contains("CN=n1");
    assertThat(cert.getPublicKey()).isEqualTo(kp.getPublic());
    assertThat(r.getCertificate().getCaBundlePem()).contains("BEGIN CERTIFICATE");
    NodeRecord rec = registry.get("n1").orElseThrow();
    assertThat(rec.getState()).isEqualTo(NodeState.NODE_STATE_UP);
    assertThat(rec.getTopologyPath()).isEqualTo(TOPOLOGY + "n1");
    assertThat(rec.getBoundKeySha256().toByteArray()).isEqualTo(JoinService.keySha256(cert));
    // The same key may repeat its join (an agent that lost the answer).
    assertThat(certificateOf(join("n1", TOKEN, kp)).getPublicKey()).isEqualTo(kp.getPublic());
  }

  @Test
  void aWrongTokenIsUnauthenticatedAndWritesNothing() throws Exception {
    assertThatThrownBy(() -> join("n2", "abcdef.ffffffffffffffff", keys()))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> join("n2", "zzzzzz.0123456789abcdef", keys()))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThat(registry.get("n2")).isEmpty();
  }

  @Test
  void badRequestFieldsAreInvalidArguments() throws Exception {
    KeyPair kp = keys();
    assertThatThrownBy(
            () ->
                NodeJoinGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .join(
                        JoinRequest.newBuilder()
                            .setBootstrapToken(TOKEN)
                            .setNodeId("n3")
                            .setCsrDer(csr(kp, "someone-else"))
                            .setTopologyPath(TOPOLOGY + "n3")
                            .setOwner("acme")
                            .setCapacityBytes(1L << 40)
                            .setAddress("127.0.0.1:7000")
                            .build()))
        .satisfies(
            e -> {
              assertThat(codeOf(e)).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(Status.fromThrowable(e).getDescription()).startsWith("csr_der: ");
            });
    assertThat(registry.get("n3")).isEmpty();
  }

  @Test
  void aNodeIdBoundToAnotherKeyIsRefusedAlreadyExists() throws Exception {
    JoinResponse first = join("n4", TOKEN, keys());

    assertThatThrownBy(() -> join("n4", TOKEN, keys()))
        .satisfies(
            e -> {
              assertThat(codeOf(e)).isEqualTo(Status.Code.ALREADY_EXISTS);
              assertThat(Status.fromThrowable(e).getDescription())
                  .contains("mycnet node readmit n4");
            });
    assertThat(registry.get("n4").orElseThrow().getBoundKeySha256().toByteArray())
        .isEqualTo(JoinService.keySha256(certificateOf(first)));
  }

  /** Opens a session, sends {@code messages}, and returns how the control plane ended it. */
  private Status session(AgentMessage... messages) {
    AtomicReference<Status> ended = new AtomicReference<>();
    List<ControlMessage> received = new CopyOnWriteArrayList<>();
    StreamObserver<AgentMessage> toServer =
        NodeSessionGrpc.newStub(channel)
            .session(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ControlMessage m) {
                    received.add(m);
                  }

                  @Override
                  public void onError(Throwable t) {
                    ended.set(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.set(Status.OK);
                  }
                });
    for (AgentMessage m : messages) {
      toServer.onNext(m);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> ended.get() != null);
    return ended.get();
  }

  private static AgentMessage hello(String nodeId) {
    return AgentMessage.newBuilder()
        .setHello(
            SessionHello.newBuilder()
                .setNodeId(nodeId)
                .setAgentVersion("test")
                .setAddress("127.0.0.1:7000"))
        .build();
  }

  @Test
  void aSessionWithoutAPeerIdentityIsUnauthenticated() {
    Status s = session(hello("n5"));

    assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  @Test
  void aSessionIsTheNodeOfItsCertificate() throws Exception {
    JoinResponse r = join("n6", TOKEN, keys());
    peerNode.set("n6");
    peerCert.set(certificateOf(r));

    Status impersonating = session(hello("n7"));
    Status heartbeatFirst =
        session(AgentMessage.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build());

    assertThat(impersonating.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(impersonating.getDescription()).contains("n7");
    assertThat(heartbeatFirst.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
  }

  @Test
  void aRenewalIsForThePeersOwnIdOnly() throws Exception {
    KeyPair kp = keys();
    JoinResponse r = join("n8", TOKEN, kp);
    peerNode.set("n8");
    peerCert.set(certificateOf(r));
    var stub = NodeSessionGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);

    assertThatThrownBy(
            () ->
                stub.renewCertificate(
                    RenewCertificateRequest.newBuilder().setCsrDer(csr(keys(), "n9")).build()))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.PERMISSION_DENIED));
    KeyPair renewed = keys();
    RenewCertificateResponse ok =
        stub.renewCertificate(
            RenewCertificateRequest.newBuilder().setCsrDer(csr(renewed, "n8")).build());

    assertThat(ok.getCertificate().getCertificatePem()).contains("BEGIN CERTIFICATE");
    assertThat(registry.get("n8").orElseThrow().getBoundKeySha256().toByteArray())
        .isEqualTo(
            JoinService.keySha256(
                SubjectPublicKeyInfo.getInstance(renewed.getPublic().getEncoded())));

    peerNode.set("unregistered");
    assertThatThrownBy(
            () ->
                stub.renewCertificate(
                    RenewCertificateRequest.newBuilder()
                        .setCsrDer(csr(keys(), "unregistered"))
                        .build()))
        .satisfies(e -> assertThat(codeOf(e)).isEqualTo(Status.Code.FAILED_PRECONDITION));
  }
}
