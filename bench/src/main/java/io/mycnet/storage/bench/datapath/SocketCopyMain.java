package io.mycnet.storage.bench.datapath;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The second, informational baseline of the rebuild figure (the baseline is {@link FileCopyMain}'s
 * file-to-file copy): a plain TCP copy of N bytes from one JVM's memory to another's, nothing else
 * (no TLS, no checksums, no disk).
 *
 * <ul>
 *   <li>{@code server}: listens on a free loopback port, prints {@code ready port=N}, accepts one
 *       connection, reads an 8-byte length and then that many bytes (discarding them), answers one
 *       byte and exits.
 *   <li>{@code client PORT BYTES}: connects, sends the length and the bytes (1 MiB writes of random
 *       data), waits for the answer and prints {@code copied BYTES bytes in NANOS ns}.
 * </ul>
 */
public final class SocketCopyMain {
  private SocketCopyMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length >= 1 && args[0].equals("server")) {
      server();
    } else if (args.length == 3 && args[0].equals("client")) {
      client(Integer.parseInt(args[1]), Long.parseLong(args[2]));
    } else {
      System.err.println("usage: SocketCopyMain server | client PORT BYTES");
      System.exit(2);
    }
  }

  static void server() throws Exception {
    try (ServerSocket ss = new ServerSocket()) {
      ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      System.out.println(
          io.mycnet.storage.common.process.ReadyLine.format("port", ss.getLocalPort()));
      System.out.flush();
      try (Socket s = ss.accept()) {
        s.setReceiveBufferSize(4 << 20);
        DataInputStream in = new DataInputStream(s.getInputStream());
        long n = in.readLong();
        byte[] buf = new byte[1 << 20];
        InputStream raw = s.getInputStream();
        long got = 0;
        while (got < n) {
          int r = raw.read(buf, 0, (int) Math.min(buf.length, n - got));
          if (r < 0) {
            throw new IllegalStateException("connection closed after " + got + " of " + n);
          }
          got += r;
        }
        OutputStream out = s.getOutputStream();
        out.write(1);
        out.flush();
      }
    }
  }

  static void client(int port, long bytes) throws Exception {
    byte[] buf = new byte[1 << 20];
    ThreadLocalRandom.current().nextBytes(buf);
    try (Socket s = new Socket()) {
      s.setSendBufferSize(4 << 20);
      s.setTcpNoDelay(true);
      long t0 = System.nanoTime();
      s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeLong(bytes);
      long sent = 0;
      while (sent < bytes) {
        int n = (int) Math.min(buf.length, bytes - sent);
        buf[0] = (byte) sent; // not the same bytes every time
        out.write(buf, 0, n);
        sent += n;
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
