package io.mycnet.storage.agent.it;

import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.SessionHello;
import java.nio.file.Files;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The node API as a test's own client speaks it over real TCP and TLS: joins with a key pair of the
 * test's choosing (as an attacker holding a bootstrap token would), and session hellos with a node
 * identity. Channels are closed in {@link #close}.
 */
final class NodeApiClient implements AutoCloseable {
  private final ControlPlaneFixture cp;
  private final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();

  NodeApiClient(ControlPlaneFixture cp) {
    this.cp = cp;
  }

  private ManagedChannel channel(int port, SslContext tls) {
    ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls).build();
    channels.add(c);
    return c;
  }

  /** A join of {@code nodeId} with {@code kp}, claiming {@code topology} and {@code address}. */
  JoinResponse join(String nodeId, String token, KeyPair kp, String topology, String address)
      throws Exception {
    return NodeJoinGrpc.newBlockingStub(
            channel(
                cp.joinPort,
                NodeIdentity.joinTls(
                    NodeIdentity.parseCertificates(Files.readString(cp.caFile())))))
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .join(
            JoinRequest.newBuilder()
                .setBootstrapToken(token)
                .setNodeId(nodeId)
                .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, nodeId)))
                .setTopologyPath(topology)
                .setOwner("attacker")
                .setCapacityBytes(1L << 40)
                .setAddress(address)
                .putLabels("storage.mycnet.io/pool", "core")
                .build());
  }

  /** The identity a join answered with, for sessions. */
  static NodeIdentity identity(KeyPair kp, JoinResponse r) throws Exception {
    return new NodeIdentity(
        kp.getPrivate(),
        NodeIdentity.parseCertificates(r.getCertificate().getCertificatePem()).get(0),
        NodeIdentity.parseCertificates(r.getCertificate().getCaBundlePem()));
  }

  /**
   * Opens a session with {@code id}, says hello, and returns OK when the control plane welcomed it,
   * else the status it ended the session with.
   */
  Status hello(NodeIdentity id, String nodeId) {
    List<ControlMessage> received = new CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicReference<Status> ended =
        new java.util.concurrent.atomic.AtomicReference<>();
    StreamObserver<AgentMessage> up =
        NodeSessionGrpc.newStub(channel(cp.sessionPort, id.clientTls()))
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
    up.onNext(
        AgentMessage.newBuilder().setHello(SessionHello.newBuilder().setNodeId(nodeId)).build());
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> ended.get() != null || received.stream().anyMatch(ControlMessage::hasWelcome));
    if (received.stream().anyMatch(ControlMessage::hasWelcome)) {
      up.onCompleted();
      return Status.OK;
    }
    return ended.get();
  }

  @Override
  public void close() throws InterruptedException {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
