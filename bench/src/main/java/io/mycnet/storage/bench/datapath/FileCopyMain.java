package io.mycnet.storage.bench.datapath;

import io.mycnet.storage.common.process.ReadyLine;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The baseline of the rebuild figure: a plain file-to-file copy of a file over TCP from one JVM to
 * another, with the durability a rebuild gives its target (no TLS, no checksums).
 *
 * <ul>
 *   <li>{@code server FILE}: listens on a free loopback port, prints {@code ready port=N}, accepts
 *       one connection, reads an 8-byte length and then that many bytes into {@code FILE} (created,
 *       it must not exist), fdatasyncs it ({@code FileChannel.force(false)}) after every {@link
 *       #SYNC_BYTES} written or when a second has passed since the last one (a rebuild target syncs
 *       about once per second), and at the end; then answers one byte, prints {@code received BYTES
 *       bytes, SYNCS fdatasyncs} and exits.
 *   <li>{@code client PORT FILE}: connects, sends the file's length and its bytes, read from the
 *       file in 1 MiB reads, waits for the answer and prints {@code copied BYTES bytes in NANOS ns}
 *       (connect to answer, so the server's last fdatasync is included).
 * </ul>
 */
public final class FileCopyMain {
  /** The server fdatasyncs at least every this many bytes. */
  static final long SYNC_BYTES = 64L << 20;

  /** ... and at least once a second. */
  static final long SYNC_NANOS = 1_000_000_000L;

  private FileCopyMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("server")) {
      server(Path.of(args[1]));
    } else if (args.length == 3 && args[0].equals("client")) {
      client(Integer.parseInt(args[1]), Path.of(args[2]));
    } else {
      System.err.println("usage: FileCopyMain server FILE | client PORT FILE");
      System.exit(2);
    }
  }

  static void server(Path target) throws Exception {
    try (ServerSocket ss = new ServerSocket();
        FileChannel out =
            FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      System.out.println(ReadyLine.format("port", ss.getLocalPort()));
      System.out.flush();
      try (Socket s = ss.accept()) {
        s.setReceiveBufferSize(4 << 20);
        DataInputStream in = new DataInputStream(s.getInputStream());
        long n = in.readLong();
        byte[] buf = new byte[1 << 20];
        InputStream raw = s.getInputStream();
        long got = 0;
        long unsynced = 0;
        long lastSync = System.nanoTime();
        int syncs = 0;
        while (got < n) {
          int r = raw.read(buf, 0, (int) Math.min(buf.length, n - got));
          if (r < 0) {
            throw new IllegalStateException("connection closed after " + got + " of " + n);
          }
          ByteBuffer b = ByteBuffer.wrap(buf, 0, r);
          while (b.hasRemaining()) {
            out.write(b);
          }
          got += r;
          unsynced += r;
          if (unsynced >= SYNC_BYTES || System.nanoTime() - lastSync >= SYNC_NANOS) {
            out.force(false);
            syncs++;
            unsynced = 0;
            lastSync = System.nanoTime();
          }
        }
        out.force(false);
        syncs++;
        OutputStream ack = s.getOutputStream();
        ack.write(1);
        ack.flush();
        System.out.println("received " + got + " bytes, " + syncs + " fdatasyncs");
      }
    }
  }

  static void client(int port, Path source) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    try (Socket s = new Socket();
        FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
      long bytes = in.size();
      s.setSendBufferSize(4 << 20);
      s.setTcpNoDelay(true);
      long t0 = System.nanoTime();
      s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeLong(bytes);
      long sent = 0;
      while (sent < bytes) {
        buf.clear();
        int r = in.read(buf, sent);
        if (r < 0) {
          throw new IllegalStateException(source + " ended after " + sent + " of " + bytes);
        }
        out.write(buf.array(), 0, r);
        sent += r;
      }
      out.flush();
      if (s.getInputStream().read() != 1) {
        throw new IllegalStateException("no answer from the server");
      }
      long ns = System.nanoTime() - t0;
      System.out.println("copied " + bytes + " bytes in " + ns + " ns");
    }
  }
}
