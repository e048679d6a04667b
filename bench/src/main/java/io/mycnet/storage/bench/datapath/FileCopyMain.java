package io.mycnet.storage.bench.datapath;

import java.io.IOException;
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
    try (FileChannel out =
        FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      int[] syncs = {0};
      long got =
          SocketCopyMain.serve(
              new SocketCopyMain.Sink() {
                long unsynced;
                long lastSync = System.nanoTime();

                @Override
                public void accept(byte[] buf, int n) throws IOException {
                  ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                  while (b.hasRemaining()) {
                    out.write(b);
                  }
                  unsynced += n;
                  if (unsynced >= SYNC_BYTES || System.nanoTime() - lastSync >= SYNC_NANOS) {
                    out.force(false);
                    syncs[0]++;
                    unsynced = 0;
                    lastSync = System.nanoTime();
                  }
                }

                @Override
                public void end() throws IOException {
                  out.force(false);
                  syncs[0]++;
                }
              });
      System.out.println("received " + got + " bytes, " + syncs[0] + " fdatasyncs");
    }
  }

  static void client(int port, Path source) throws Exception {
    try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
      long bytes = in.size();
      SocketCopyMain.send(
          port,
          bytes,
          (buf, sent, max) -> {
            int r = in.read(ByteBuffer.wrap(buf, 0, max), sent);
            if (r < 0) {
              throw new IllegalStateException(source + " ended after " + sent + " of " + bytes);
            }
            return r;
          });
    }
  }
}
