package io.mycnet.storage.agent.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** A byte-level NBD client for the protocol tests: it sends exactly what a test tells it to. */
final class RawClient implements AutoCloseable {
  private final AutoCloseable conn;
  private final ExecutorService reader = Executors.newSingleThreadExecutor();
  DataInputStream in;
  DataOutputStream out;

  private RawClient(AutoCloseable conn, InputStream in, OutputStream out) {
    this.conn = conn;
    this.in = new DataInputStream(in);
    this.out = new DataOutputStream(out);
  }

  static RawClient unix(Path socket) throws IOException {
    SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    return new RawClient(ch, Channels.newInputStream(ch), Channels.newOutputStream(ch));
  }

  static RawClient tcp(InetSocketAddress address) throws IOException {
    Socket s = new Socket(address.getAddress(), address.getPort());
    return new RawClient(s, s.getInputStream(), s.getOutputStream());
  }

  /** Reads the greeting and answers with fixed newstyle and no zeroes. */
  int hello() throws IOException {
    assertEquals(Nbd.NBDMAGIC, in.readLong());
    assertEquals(Nbd.IHAVEOPT, in.readLong());
    int flags = in.readUnsignedShort();
    out.writeInt(Nbd.CLIENT_FLAG_FIXED_NEWSTYLE | Nbd.CLIENT_FLAG_NO_ZEROES);
    out.flush();
    return flags;
  }

  void option(int option, byte[] data) throws IOException {
    out.writeLong(Nbd.IHAVEOPT);
    out.writeInt(option);
    out.writeInt(data.length);
    out.write(data);
    out.flush();
  }

  record OptionReply(int option, int type, byte[] data) {
    String text() {
      return new String(data, StandardCharsets.UTF_8);
    }
  }

  OptionReply optionReply() throws IOException {
    assertEquals(Nbd.OPTION_REPLY_MAGIC, in.readLong());
    int option = in.readInt();
    int type = in.readInt();
    int length = in.readInt();
    if (length < 0 || length > 1 << 20) {
      throw new IOException("option reply of " + length + " bytes");
    }
    byte[] data = new byte[length];
    in.readFully(data);
    return new OptionReply(option, type, data);
  }

  static byte[] goData(String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(4 + n.length + 2)
        .putInt(n.length)
        .put(n)
        .putShort((short) 0)
        .array();
  }

  /** Negotiates (structured replies, base:allocation when asked) and enters transmission. */
  int go(String name, boolean structured) throws IOException {
    if (structured) {
      option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
      assertEquals(Nbd.REP_ACK, optionReply().type());
      byte[] n = name.getBytes(StandardCharsets.UTF_8);
      byte[] q = Nbd.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
      option(
          Nbd.OPT_SET_META_CONTEXT,
          ByteBuffer.allocate(4 + n.length + 4 + 4 + q.length)
              .putInt(n.length)
              .put(n)
              .putInt(1)
              .putInt(q.length)
              .put(q)
              .array());
      assertEquals(Nbd.REP_META_CONTEXT, optionReply().type());
      assertEquals(Nbd.REP_ACK, optionReply().type());
    }
    option(Nbd.OPT_GO, goData(name));
    int flags = -1;
    while (true) {
      OptionReply r = optionReply();
      if (r.type() == Nbd.REP_ACK) {
        return flags;
      }
      assertEquals(Nbd.REP_INFO, r.type(), () -> "GO refused: " + r.text());
      ByteBuffer b = ByteBuffer.wrap(r.data());
      if (b.getShort() == Nbd.INFO_EXPORT) {
        b.getLong();
        flags = Short.toUnsignedInt(b.getShort());
      }
    }
  }

  void request(int flags, int type, long cookie, long offset, int length, byte[] payload)
      throws IOException {
    out.writeInt(Nbd.REQUEST_MAGIC);
    out.writeShort(flags);
    out.writeShort(type);
    out.writeLong(cookie);
    out.writeLong(offset);
    out.writeInt(length);
    if (payload != null) {
      out.write(payload);
    }
    out.flush();
  }

  record Simple(long cookie, int error) {}

  /** A simple reply's header (the data of a successful read follows; see {@link #data}). */
  Simple simple() throws IOException {
    assertEquals(Nbd.SIMPLE_REPLY_MAGIC, in.readInt());
    int error = in.readInt();
    return new Simple(in.readLong(), error);
  }

  byte[] data(int length) throws IOException {
    byte[] b = new byte[length];
    in.readFully(b);
    return b;
  }

  record Chunk(int flags, int type, long cookie, byte[] payload) {
    int errno() {
      return ByteBuffer.wrap(payload).getInt();
    }
  }

  Chunk chunk() throws IOException {
    assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, in.readInt());
    int flags = in.readUnsignedShort();
    int type = in.readUnsignedShort();
    long cookie = in.readLong();
    int length = in.readInt();
    return new Chunk(flags, type, cookie, data(length));
  }

  /** True when the server closes the connection (reads end) within a generous bound. */
  boolean closedByServer() throws Exception {
    Future<Integer> f =
        reader.submit(
            () -> {
              try {
                int n;
                while ((n = in.read()) >= 0) {
                  // discard whatever was still in flight
                }
                return n;
              } catch (IOException e) {
                return -1;
              }
            });
    return f.get(30, TimeUnit.SECONDS) == -1;
  }

  @Override
  public void close() throws Exception {
    reader.shutdownNow();
    conn.close();
  }
}
