package io.mycnet.storage.agent.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * The NBD server's listening ends: a Unix socket for the node's own attachments (owner-only) and a
 * TCP port with forced mutual TLS. This version binds both and closes every connection at once; the
 * protocol itself (handshake, options, transmission) is served by the full server.
 */
public final class NbdServer implements AutoCloseable {

  /** Per-connection bounds on what is in flight, and the largest payload of one request. */
  public record Limits(int maxRequestsInFlight, long maxBytesInFlight, int maxPayloadBytes) {
    public static Limits defaults() {
      return new Limits(64, 64L << 20, 32 << 20);
    }
  }

  private final ServerSocketChannel unix;
  private final SSLServerSocket tls;
  private final Path socketPath;
  private final Thread acceptor;
  private volatile boolean closed;

  private NbdServer(ServerSocketChannel unix, SSLServerSocket tls, Path socketPath) {
    this.unix = unix;
    this.tls = tls;
    this.socketPath = socketPath;
    this.acceptor = new Thread(this::acceptLoop, "nbd-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public static NbdServer unix(Path socket, ExportDirectory exports, Limits limits)
      throws IOException {
    Files.deleteIfExists(socket);
    ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    ch.bind(UnixDomainSocketAddress.of(socket));
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    return new NbdServer(ch, null, socket);
  }

  public static NbdServer tls(
      InetSocketAddress bind, SSLContext tls, ExportDirectory exports, Limits limits)
      throws IOException {
    SSLServerSocket s = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
    s.setNeedClientAuth(true);
    s.bind(bind);
    return new NbdServer(null, s, null);
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        if (unix != null) {
          SocketChannel c = unix.accept();
          c.close();
        } else {
          SSLSocket c = (SSLSocket) tls.accept();
          c.close();
        }
      } catch (IOException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  public InetSocketAddress address() {
    return tls == null ? null : (InetSocketAddress) tls.getLocalSocketAddress();
  }

  public Path socketPath() {
    return socketPath;
  }

  public int connections() {
    return 0;
  }

  @Override
  public void close() {
    closed = true;
    try {
      if (unix != null) {
        unix.close();
        Files.deleteIfExists(socketPath);
      }
      if (tls != null) {
        tls.close();
      }
    } catch (IOException e) {
      // closing: nothing left to do
    }
  }
}
