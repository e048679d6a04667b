package io.mycnet.storage.bench.nodeapi;

import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.NodeCertificateTrustManager;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The baseline server: a plain gRPC unary service (the standard health check) over the same mutual
 * TLS as the node API (server certificate from the same CA, client certificate required), with no
 * etcd behind it. Usage: {@code PingServerMain <ca-dir>}; prints {@code ready port=N}.
 */
public final class PingServerMain {
  private PingServerMain() {}

  public static void main(String[] args) throws Exception {
    CertificateAuthority ca =
        CertificateAuthority.openOrCreate(
            Path.of(args[0]), Clock.systemUTC(), Duration.ofHours(24));
    var id = ca.issueServerIdentity(List.of("127.0.0.1", "localhost"));
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.SERVING);
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .sslContext(
                GrpcSslContexts.configure(SslContextBuilder.forServer(id.key(), id.certificate()))
                    .trustManager(new NodeCertificateTrustManager(ca.certificate()))
                    .clientAuth(ClientAuth.REQUIRE)
                    .build())
            .executor(Executors.newFixedThreadPool(16))
            // Same keepalive policy as the node API, so clients pinging every 30 s are not sent
            // GOAWAY (too_many_pings) and the comparison stays fair.
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .permitKeepAliveTime(10, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true)
            .addService(health.getHealthService())
            .build()
            .start();
    System.out.println(io.mycnet.storage.common.process.ReadyLine.format("port", server.getPort()));
    System.out.flush();
    server.awaitTermination();
  }
}
