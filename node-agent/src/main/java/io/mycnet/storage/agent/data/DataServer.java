package io.mycnet.storage.agent.data;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.common.settings.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The agent's data port: mutual TLS (certificates of the control plane's CA only), serving {@code
 * VolumeIo} to clients (CN {@code client:<namespace>}, {@link VolumeIoService}) and {@code
 * ReplicaPeer} to other agents (CN = node id, {@link ReplicaPeerService}). The identity comes from
 * the verified certificate, never from a message: {@link CallerIdentity} checks every call against
 * the control plane's revocation list ({@link Revocations}) and refuses a revoked certificate
 * serial, or a node certificate of a revoked node id, with PERMISSION_DENIED, also on connections
 * opened before the revocation (every RPC here is unary, so the per-call check ends a revoked
 * client's stream of calls at its next call). This class owns the server's lifecycle: TLS, port,
 * threads.
 */
public final class DataServer implements AutoCloseable {
  public static final int MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

  private final ReplicaStore store;
  private final String nodeId;
  private final ReplicaReporter reporter;
  private final Revocations revocations;
  private final ExecutorService executor;
  private Server server;

  public DataServer(
      ReplicaStore store, String nodeId, ReplicaReporter reporter, Revocations revocations) {
    this.store = store;
    this.nodeId = nodeId;
    this.reporter = reporter;
    this.revocations = revocations;
    this.executor =
        Executors.newFixedThreadPool(
            32,
            r -> {
              Thread t = new Thread(r, "data-port");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * The two services behind the identity interceptor, as the data port serves them; {@code
   * certificates} says where a call's certificate comes from ({@link CallerIdentity#TLS} on the
   * port).
   */
  static List<ServerServiceDefinition> services(
      ReplicaStore store,
      ReplicaReporter reporter,
      Revocations revocations,
      CallerIdentity.CertificateSource certificates) {
    DataCalls calls = new DataCalls(store, reporter);
    CallerIdentity identity = new CallerIdentity(revocations, certificates);
    return List.of(
        ServerInterceptors.intercept(new VolumeIoService(calls), identity),
        ServerInterceptors.intercept(new ReplicaPeerService(calls), identity));
  }

  public DataServer start(String listen, IdentityKeys keys) throws IOException {
    HostPort at = HostPort.parseListen(listen);
    var tls =
        GrpcSslContexts.configure(SslContextBuilder.forServer(keys.keyManager()))
            .trustManager(keys.trustManager())
            .clientAuth(ClientAuth.REQUIRE)
            .build();
    NettyServerBuilder b =
        NettyServerBuilder.forAddress(new InetSocketAddress(at.host(), at.port()))
            .sslContext(tls)
            .executor(executor)
            .maxInboundMessageSize(MAX_MESSAGE_BYTES)
            .permitKeepAliveTime(10, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true);
    for (ServerServiceDefinition s : services(store, reporter, revocations, CallerIdentity.TLS)) {
      b.addService(s);
    }
    server = b.build().start();
    return this;
  }

  public int port() {
    return server.getPort();
  }

  String nodeId() {
    return nodeId;
  }

  @Override
  public void close() {
    if (server != null) {
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    executor.shutdownNow();
  }
}
