package io.mycnet.storage.csi;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * gRPC over a Unix domain socket (Netty epoll), the transport CSI uses between the kubelet or the
 * sidecars and a driver. The server accepts any {@code :authority}; the socket's directory is the
 * access control (the kubelet's plugin directory, or the agent's data directory).
 */
public final class UnixSocketGrpc {
  private UnixSocketGrpc() {}

  /** A started server and the event loops it owns; {@link #close()} stops both. */
  public record Served(Server server, Path socket, EventLoopGroup boss, EventLoopGroup workers)
      implements AutoCloseable {
    @Override
    public void close() {
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        server.shutdownNow();
        Thread.currentThread().interrupt();
      } finally {
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        try {
          Files.deleteIfExists(socket);
        } catch (IOException ignored) {
          // the next start removes a stale socket file too
        }
      }
    }
  }

  /**
   * Serves {@code services} on {@code socket}, replacing a stale socket file left by a process that
   * died (a socket nobody listens on).
   *
   * @throws IOException when the socket cannot be bound (the message names the path)
   */
  public static Served serve(Path socket, List<BindableService> services) throws IOException {
    requireEpoll();
    Files.createDirectories(socket.toAbsolutePath().getParent());
    Files.deleteIfExists(socket);
    EventLoopGroup boss = new EpollEventLoopGroup(1);
    EventLoopGroup workers = new EpollEventLoopGroup(2);
    NettyServerBuilder b =
        NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(boss)
            .workerEventLoopGroup(workers)
            .maxInboundMessageSize(16 * 1024 * 1024);
    services.forEach(b::addService);
    Server server = b.build();
    try {
      server.start();
    } catch (IOException | RuntimeException e) {
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException("cannot serve gRPC on the Unix socket " + socket + ": " + e, e);
    }
    return new Served(server, socket, boss, workers);
  }

  /** A channel to a Unix socket server; the caller shuts it down (and with it its event loop). */
  public static ManagedChannel channel(Path socket) {
    requireEpoll();
    EventLoopGroup group = new EpollEventLoopGroup(1);
    ManagedChannel ch =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(group)
            .overrideAuthority("localhost")
            .usePlaintext()
            .maxInboundMessageSize(16 * 1024 * 1024)
            .build();
    return new OwningChannel(ch, group);
  }

  private static void requireEpoll() {
    if (!Epoll.isAvailable()) {
      throw new IllegalStateException(
          "gRPC over Unix sockets needs Netty's epoll transport (Linux x86_64 or aarch64): "
              + Epoll.unavailabilityCause());
    }
  }
}
