package io.mycnet.storage.agent.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD server (docs/block-export.md, "The NBD server"): fixed newstyle negotiation and the
 * transmission phase, serving what an {@link ExportDirectory} opens. Either on the node's own Unix
 * socket (owner-only; the caller is the node itself) or on TCP with TLS forced (every connection
 * must upgrade with NBD_OPT_STARTTLS and present a client certificate the {@link SSLContext}
 * verifies). Each connection has its reader thread; its requests run on a bounded worker pool
 * shared by the server and are answered as they complete, bounded per connection by {@link Limits}.
 */
public final class NbdServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

  /** How long {@link #close()} waits for a connection to finish the requests it is serving. */
  static final long CLOSE_WAIT_MS = 10_000;

  /**
   * Per-connection bounds: requests in flight, bytes in flight (payloads of writes and reads),
   * largest payload.
   */
  public record Limits(int maxRequestsInFlight, long maxBytesInFlight, int maxPayloadBytes) {
    public Limits {
      if (maxRequestsInFlight < 1) {
        throw new IllegalArgumentException(
            "maxRequestsInFlight must be at least 1, was " + maxRequestsInFlight);
      }
      if (maxPayloadBytes < Nbd.PREFERRED_BLOCK) {
        throw new IllegalArgumentException(
            "maxPayloadBytes must be at least " + Nbd.PREFERRED_BLOCK + ", was " + maxPayloadBytes);
      }
      if (maxBytesInFlight < maxPayloadBytes) {
        throw new IllegalArgumentException(
            "maxBytesInFlight ("
                + maxBytesInFlight
                + ") must be at least maxPayloadBytes ("
                + maxPayloadBytes
                + ")");
      }
    }

    /** 64 requests, 64 MiB and a 32 MiB payload (the protocol's default maximum). */
    public static Limits defaults() {
      return new Limits(64, 64L << 20, 32 << 20);
    }
  }

  private static final AtomicInteger SERVERS = new AtomicInteger();

  private final ServerSocket tcp;
  private final ServerSocketChannel unix;
  private final Path socketPath;
  private final Object socketFileKey;
  private final SSLContext tls;
  private final ExportDirectory exports;
  private final Limits limits;
  private final ExecutorService workers;
  private final Thread acceptor;
  private final Set<NbdConnection> open = ConcurrentHashMap.newKeySet();
  private final AtomicLong ids = new AtomicLong();
  private volatile boolean closed;

  private NbdServer(
      ServerSocket tcp,
      ServerSocketChannel unix,
      Path socketPath,
      Object socketFileKey,
      SSLContext tls,
      ExportDirectory exports,
      Limits limits) {
    this.tcp = tcp;
    this.unix = unix;
    this.socketPath = socketPath;
    this.socketFileKey = socketFileKey;
    this.tls = tls;
    this.exports = Objects.requireNonNull(exports, "exports");
    this.limits = Objects.requireNonNull(limits, "limits");
    int n = SERVERS.incrementAndGet();
    AtomicInteger workerIds = new AtomicInteger();
    // Requests block on the replicas' network round trips, not on this CPU.
    int poolSize = Math.max(32, 4 * Runtime.getRuntime().availableProcessors());
    this.workers =
        new ThreadPoolExecutor(
            poolSize,
            poolSize,
            30,
            TimeUnit.SECONDS,
            // Unbounded queue, bounded use: every connection holds at most maxRequestsInFlight.
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, "nbd-" + n + "-worker-" + workerIds.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    ((ThreadPoolExecutor) workers).allowCoreThreadTimeOut(true);
    this.acceptor = new Thread(this::acceptLoop, "nbd-" + n + "-accept");
    acceptor.setDaemon(true);
  }

  /**
   * The node's own socket: created with owner-only permissions (0600; a stale socket file is
   * replaced).
   */
  public static NbdServer unix(Path socket, ExportDirectory exports, Limits limits)
      throws IOException {
    Path target = socket.toAbsolutePath();
    Path parent = target.getParent();
    Files.createDirectories(parent);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      BasicFileAttributes a =
          Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (!a.isOther()) {
        throw new IOException(
            "cannot create the NBD socket " + target + ": the path exists and is not a socket");
      }
    }
    // Bound in a private directory, restricted, then renamed into place: no moment in which
    // anyone else could connect, and a stale socket is replaced atomically.
    Path staging =
        Files.createTempDirectory(
            parent,
            ".nbd-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      Path tmp = staging.resolve("s");
      ch.bind(UnixDomainSocketAddress.of(tmp), 64);
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      Object key =
          Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
              .fileKey();
      NbdServer s = new NbdServer(null, ch, target, key, null, exports, limits);
      s.acceptor.start();
      LOG.info("NBD server listening on Unix socket {}", target);
      return s;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    } finally {
      Files.deleteIfExists(staging.resolve("s"));
      Files.deleteIfExists(staging);
    }
  }

  /**
   * TCP, TLS forced: every connection must NBD_OPT_STARTTLS; {@code tls} requires and verifies a
   * client certificate.
   */
  public static NbdServer tls(
      InetSocketAddress bind, SSLContext tls, ExportDirectory exports, Limits limits)
      throws IOException {
    Objects.requireNonNull(tls, "tls");
    ServerSocket ss = new ServerSocket();
    try {
      ss.setReuseAddress(true);
      ss.bind(bind, 64);
      NbdServer s = new NbdServer(ss, null, null, null, tls, exports, limits);
      s.acceptor.start();
      LOG.info("NBD server listening on {} (TLS required)", s.address());
      return s;
    } catch (IOException | RuntimeException e) {
      ss.close();
      throw e;
    }
  }

  /** TCP: the bound address (port 0 becomes the real one); Unix socket: null. */
  public InetSocketAddress address() {
    return tcp == null ? null : (InetSocketAddress) tcp.getLocalSocketAddress();
  }

  /** Unix socket: its path; TCP: null. */
  public Path socketPath() {
    return socketPath;
  }

  /** Connections open now. */
  public int connections() {
    return open.size();
  }

  private void acceptLoop() {
    while (!closed) {
      NbdConnection.Link link;
      try {
        link = tcp != null ? tcpLink(tcp.accept()) : unixLink(unix.accept());
      } catch (IOException e) {
        if (!closed) {
          LOG.warn("NBD server stops accepting: {}", e.toString());
        }
        return;
      }
      long id = ids.incrementAndGet();
      NbdConnection c = new NbdConnection(id, link, tls, exports, limits, workers, this::ended);
      open.add(c);
      if (closed) {
        c.abort();
      }
      Thread t = new Thread(c, "nbd-conn-" + id);
      t.setDaemon(true);
      t.start();
    }
  }

  private void ended(NbdConnection c) {
    open.remove(c);
  }

  /** Stops accepting, closes every connection and, through them, their BlockDevices. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (tcp != null) {
        tcp.close();
      } else {
        unix.close();
      }
    } catch (IOException e) {
      LOG.debug("closing the NBD listener: {}", e.toString());
    }
    List<NbdConnection> now = new ArrayList<>(open);
    for (NbdConnection c : now) {
      c.abort();
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MS);
    for (NbdConnection c : now) {
      c.awaitEnd(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }
    workers.shutdown();
    try {
      acceptor.join(CLOSE_WAIT_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (socketPath != null) {
      try {
        // Only the socket this server made: a newer server may have replaced it since.
        if (Files.exists(socketPath, LinkOption.NOFOLLOW_LINKS)
            && Objects.equals(
                socketFileKey,
                Files.readAttributes(
                        socketPath, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .fileKey())) {
          Files.delete(socketPath);
        }
      } catch (IOException e) {
        LOG.debug("removing the NBD socket {}: {}", socketPath, e.toString());
      }
    }
    LOG.info(
        "NBD server on {} closed", socketPath != null ? socketPath : String.valueOf(address()));
  }

  private static NbdConnection.Link tcpLink(Socket s) throws IOException {
    s.setTcpNoDelay(true);
    return new NbdConnection.Link(
        s, null, s.getInputStream(), s.getOutputStream(), "tcp " + s.getRemoteSocketAddress());
  }

  private static NbdConnection.Link unixLink(SocketChannel ch) {
    // Not Channels.newInputStream/newOutputStream: those serialise reads and writes of a blocking
    // channel on one lock, and replies are written while the reader waits for the next request.
    InputStream in =
        new InputStream() {
          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
              return 0;
            }
            return ch.read(ByteBuffer.wrap(b, off, len));
          }
        };
    OutputStream out =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(b, off, len);
            while (buf.hasRemaining()) {
              ch.write(buf);
            }
          }
        };
    return new NbdConnection.Link(null, ch, in, out, "unix socket");
  }
}
