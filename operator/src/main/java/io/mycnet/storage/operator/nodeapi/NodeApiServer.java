package io.mycnet.storage.operator.nodeapi;

import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.NodeCertificateTrustManager;
import io.mycnet.storage.operator.security.SecurityStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's node API: two gRPC servers (grpc-netty-shaded) on two ports.
 *
 * <ul>
 *   <li><b>join port</b>: TLS with the control plane's server certificate, no client certificate;
 *       serves {@code NodeJoin} and the health service. Agents verify the server against the CA
 *       file they were given with their token.
 *   <li><b>session port</b>: mutual TLS, client certificate REQUIRED and trusted only when signed
 *       by this control plane's CA ({@link NodeCertificateTrustManager}); serves {@code
 *       NodeSession} behind {@link PeerIdentityInterceptor} (node id from the certificate) and the
 *       health service.
 * </ul>
 *
 * <p>Keepalive (both ports): the server pings a connection idle for {@link #KEEPALIVE_TIME} (30 s)
 * and drops it when the ping is not answered within {@link #KEEPALIVE_TIMEOUT} (10 s), so a node
 * whose network vanished without a FIN loses its session within ~40 s (its liveness lease expires
 * on its own schedule, independently). Clients may ping every {@link #PERMIT_KEEPALIVE_TIME} (10 s)
 * or slower, also without active calls; agents use 30 s. The join port also closes connections idle
 * for 60 s.
 *
 * <p>Every call runs on a bounded executor ({@code handlerThreads}); graceful {@link #close}: the
 * health service turns NOT_SERVING, sessions end with UNAVAILABLE (agents reconnect to the next
 * control plane), the servers stop accepting and are given 5 s for calls in flight.
 */
public final class NodeApiServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeApiServer.class);
  public static final java.time.Duration KEEPALIVE_TIME = java.time.Duration.ofSeconds(30);
  public static final java.time.Duration KEEPALIVE_TIMEOUT = java.time.Duration.ofSeconds(10);
  public static final java.time.Duration PERMIT_KEEPALIVE_TIME = java.time.Duration.ofSeconds(10);
  public static final int MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

  private final NodeApiSettings settings;
  private final CertificateAuthority ca;
  private final SecurityStore security;
  private final RefusalLog refusals = new RefusalLog();
  private final HealthStatusManager health = new HealthStatusManager();
  private final ExecutorService executor;
  private final ScheduledExecutorService timer;
  private final JoinService join;
  private final SessionService session;
  private final NodeRegistry registry;
  private Server sessionServer;
  private Server joinServer;

  public NodeApiServer(
      NodeApiSettings settings,
      CertificateAuthority ca,
      BootstrapTokens tokens,
      SecurityStore security,
      NodeRegistry registry,
      CommandQueue queue,
      NodeMeasurementListener listener,
      Clock clock) {
    this.settings = settings;
    this.ca = ca;
    this.security = security;
    this.registry = registry;
    this.executor =
        new ThreadPoolExecutor(
            settings.handlerThreads(),
            settings.handlerThreads(),
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            named("node-api"));
    ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, named("node-api-timer"));
    t.setRemoveOnCancelPolicy(true);
    this.timer = t;
    this.join = new JoinService(settings, ca, tokens, security, registry, refusals);
    this.session =
        new SessionService(
            settings, ca, security, registry, queue, listener, clock, refusals, timer);
  }

  /** Starts with the session port on {@code port} and the join port on {@code port + 1}. */
  public NodeApiServer start(int port) {
    return start(new InetSocketAddress(port), new InetSocketAddress(port == 0 ? 0 : port + 1));
  }

  /**
   * Starts both servers. Port 0 picks a free port (see {@link #sessionPort}, {@link #joinPort}).
   */
  public synchronized NodeApiServer start(
      InetSocketAddress sessionAddress, InetSocketAddress joinAddress) {
    if (sessionServer != null) {
      throw new IllegalStateException("already started");
    }
    security.startWatching();
    CertificateAuthority.ServerIdentity id = ca.issueServerIdentity(settings.serverNames());
    try {
      SslContext mtls =
          GrpcSslContexts.configure(SslContextBuilder.forServer(id.key(), id.certificate()))
              .trustManager(new NodeCertificateTrustManager(ca.certificate()))
              .clientAuth(ClientAuth.REQUIRE)
              .build();
      SslContext tls =
          GrpcSslContexts.configure(SslContextBuilder.forServer(id.key(), id.certificate()))
              .clientAuth(ClientAuth.NONE)
              .build();
      ServerCredentials sessionCreds =
          InternalNettyServerCredentials.create(
              new TlsGuard(InternalProtocolNegotiators.serverTls(mtls), refusals, "session"));
      ServerCredentials joinCreds =
          InternalNettyServerCredentials.create(
              new TlsGuard(InternalProtocolNegotiators.serverTls(tls), refusals, "join"));
      RemoteAddressInterceptor remote = new RemoteAddressInterceptor();
      PeerIdentityInterceptor identity =
          new PeerIdentityInterceptor(security, session.clock(), refusals);
      sessionServer =
          base(NettyServerBuilder.forAddress(sessionAddress, sessionCreds))
              .addService(ServerInterceptors.intercept(session, identity, remote))
              .addService(health.getHealthService())
              .build()
              .start();
      joinServer =
          base(NettyServerBuilder.forAddress(joinAddress, joinCreds))
              .maxConnectionIdle(60, TimeUnit.SECONDS)
              .addService(ServerInterceptors.intercept(join, remote))
              .addService(health.getHealthService())
              .build()
              .start();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up TLS for the node API", e);
    } catch (IOException e) {
      close();
      throw new UncheckedIOException(
          "cannot listen on " + sessionAddress + " / " + joinAddress + ": " + e.getMessage(), e);
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(NodeSessionGrpc.SERVICE_NAME, ServingStatus.SERVING);
    health.setStatus(NodeJoinGrpc.SERVICE_NAME, ServingStatus.SERVING);
    LOG.info(
        "node API listening: session (mutual TLS) on port {}, join (TLS) on port {}",
        sessionPort(),
        joinPort());
    return this;
  }

  private NettyServerBuilder base(NettyServerBuilder b) {
    return b.executor(executor)
        .keepAliveTime(KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
        .keepAliveTimeout(KEEPALIVE_TIMEOUT.toSeconds(), TimeUnit.SECONDS)
        .permitKeepAliveTime(PERMIT_KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .maxInboundMessageSize(MAX_MESSAGE_BYTES);
  }

  public int sessionPort() {
    return sessionServer.getPort();
  }

  public int joinPort() {
    return joinServer.getPort();
  }

  /** Where rebuild completions and unhealthy replicas go (the replication manager). */
  public NodeApiServer replicaEvents(ReplicaEvents events) {
    session.replicaEvents(events);
    return this;
  }

  /** Latest rebuild progress per {@code volume@node} (bytes done / total), for status. */
  public java.util.Map<String, io.mycnet.storage.api.v1.ReplicaReport> rebuildProgress() {
    return java.util.Map.copyOf(session.rebuilds());
  }

  /** Completes with the result of {@code commandId} when its agent answers. */
  java.util.concurrent.CompletableFuture<io.mycnet.storage.api.v1.CommandResult> awaitResult(
      String commandId) {
    return session
        .awaited()
        .computeIfAbsent(commandId, k -> new java.util.concurrent.CompletableFuture<>());
  }

  /** Number of open sessions (agents connected). */
  public int sessionCount() {
    return session.sessions().size();
  }

  /** Heartbeats handled since start. */
  public long heartbeatsHandled() {
    return session.heartbeatsHandled().sum();
  }

  /**
   * Removes a node as an operator does ({@code NodeAdmission.remove}: one etcd transaction that
   * revokes its id, certificates and single-use token and marks its record REMOVED) and ends its
   * session here at once.
   */
  public List<String> removeNode(String nodeId, String reason) {
    List<String> serials =
        new io.mycnet.storage.operator.security.NodeAdmission(registry, security, session.clock())
            .remove(nodeId, reason)
            .revokedSerials();
    session.end(nodeId, Status.UNAUTHENTICATED.withDescription("node removed: " + reason));
    return serials;
  }

  @Override
  public synchronized void close() {
    health.enterTerminalState();
    session.endAll(
        Status.UNAVAILABLE.withDescription("control plane shutting down; reconnect with backoff"));
    for (Server s : Optional.ofNullable(sessionServer).stream().toList()) {
      s.shutdown();
    }
    if (joinServer != null) {
      joinServer.shutdown();
    }
    try {
      for (Server s : new Server[] {sessionServer, joinServer}) {
        if (s != null && !s.awaitTermination(5, TimeUnit.SECONDS)) {
          s.shutdownNow();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    timer.shutdownNow();
    executor.shutdown();
    security.close();
  }

  private static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
