package io.mycnet.storage.agent.nbd;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NBD server's protocol handling, byte by byte, with a raw client over a real Unix socket (and
 * plain TCP for the TLS requirement): bad input ends only the connection that sent it, bounds hold.
 */
@Timeout(120)
class NbdServerTest {
  @TempDir Path dir;
  private SparseVolume vol;
  private TestExports exports;
  private NbdServer server;

  @BeforeEach
  void setUp() throws IOException {
    vol = new SparseVolume(dir, "vol-1", 4 << 20);
    exports = new TestExports().add(vol, "ns-a", false);
  }

  @AfterEach
  void tearDown() throws IOException {
    vol.release();
    if (server != null) {
      server.close();
    }
    vol.close();
  }

  private NbdServer unix(NbdServer.Limits limits) throws IOException {
    server = NbdServer.unix(dir.resolve("nbd.sock"), exports, limits);
    return server;
  }

  private RawClient session(boolean structured) throws IOException {
    RawClient c = RawClient.unix(server.socketPath());
    c.hello();
    c.go("vol-1", structured);
    return c;
  }

  private static void assertReadWorks(RawClient c, long cookie) throws IOException {
    c.request(0, Nbd.CMD_READ, cookie, 0, 512, null);
    RawClient.Simple r = c.simple();
    assertEquals(cookie, r.cookie());
    assertEquals(0, r.error());
    c.data(512);
  }

  @Test
  void socketIsOwnerOnlyAndAStaleOneIsReplaced() throws Exception {
    Path socket = dir.resolve("nbd.sock");
    try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      stale.bind(UnixDomainSocketAddress.of(socket));
    }
    assertTrue(Files.exists(socket), "the stale socket file stays behind");
    unix(NbdServer.Limits.defaults());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    assertEquals(null, server.address());
    try (RawClient c = session(false)) {
      assertReadWorks(c, 1);
    }
    server.close();
    assertTrue(Files.notExists(socket), "close removes the socket");
    Path file = dir.resolve("not-a-socket");
    Files.writeString(file, "data");
    IOException e =
        assertThrows(
            IOException.class,
            () -> NbdServer.unix(file, exports, NbdServer.Limits.defaults()).close());
    assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
    assertEquals("data", Files.readString(file));
  }

  @Test
  void limitsAreChecked() {
    assertThrows(IllegalArgumentException.class, () -> new NbdServer.Limits(0, 1 << 20, 4096));
    assertThrows(IllegalArgumentException.class, () -> new NbdServer.Limits(4, 1 << 20, 512));
    assertThrows(IllegalArgumentException.class, () -> new NbdServer.Limits(4, 4096, 8192));
    assertEquals(new NbdServer.Limits(64, 64L << 20, 32 << 20), NbdServer.Limits.defaults());
  }

  @Test
  void wrongMagicEndsOnlyThatConnection() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient good = session(false);
        RawClient optionGarbage = RawClient.unix(server.socketPath());
        RawClient requestGarbage = session(false)) {
      optionGarbage.hello();
      optionGarbage.out.write("GARBAGE!".getBytes());
      optionGarbage.out.flush();
      assertTrue(optionGarbage.closedByServer());
      byte[] garbage = new byte[28];
      new Random(3).nextBytes(garbage);
      requestGarbage.out.write(garbage);
      requestGarbage.out.flush();
      assertTrue(requestGarbage.closedByServer());
      await().atMost(Duration.ofSeconds(30)).until(() -> vol.closed.get() == 1);
      assertReadWorks(good, 7);
      assertEquals(1, server.connections());
    }
  }

  @Test
  void optionClaimingFourGibibytesIsRefusedWithoutReadingIt() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient c = RawClient.unix(server.socketPath())) {
      c.hello();
      c.out.writeLong(Nbd.IHAVEOPT);
      c.out.writeInt(Nbd.OPT_INFO);
      c.out.writeInt(0xFFFFFFFF);
      c.out.flush();
      // The answer comes without a byte of the claimed data sent: nothing was read or allocated.
      RawClient.OptionReply r = c.optionReply();
      assertEquals(Nbd.REP_ERR_TOO_BIG, r.type());
      assertTrue(r.text().contains("4294967295"), r.text());
      assertTrue(c.closedByServer());
    }
    try (RawClient c = session(false)) {
      assertReadWorks(c, 1);
    }
  }

  @Test
  void unknownOptionThenAGoodOne() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient c = RawClient.unix(server.socketPath())) {
      int flags = c.hello();
      assertEquals(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES, flags);
      c.option(99, "junk!".getBytes());
      RawClient.OptionReply r = c.optionReply();
      assertEquals(99, r.option());
      assertEquals(Nbd.REP_ERR_UNSUP, r.type());
      c.option(Nbd.OPT_STARTTLS, new byte[0]);
      assertEquals(Nbd.REP_ERR_POLICY, c.optionReply().type(), "no TLS on the Unix socket");
      c.option(Nbd.OPT_LIST, new byte[0]);
      RawClient.OptionReply server1 = c.optionReply();
      assertEquals(Nbd.REP_SERVER, server1.type());
      ByteBuffer b = ByteBuffer.wrap(server1.data());
      byte[] name = new byte[b.getInt()];
      b.get(name);
      byte[] desc = new byte[b.remaining()];
      b.get(desc);
      assertEquals("vol-1", new String(name));
      assertEquals("ns-a/claim-vol-1", new String(desc));
      assertEquals(Nbd.REP_ACK, c.optionReply().type());
      c.option(Nbd.OPT_GO, RawClient.goData("no-such-volume"));
      RawClient.OptionReply unknown = c.optionReply();
      assertEquals(Nbd.REP_ERR_UNKNOWN, unknown.type());
      assertTrue(unknown.text().contains("no export no-such-volume"), unknown.text());
      int tflags = c.go("vol-1", false);
      assertEquals(0, tflags & Nbd.FLAG_READ_ONLY);
      assertNotEquals(0, tflags & Nbd.FLAG_CAN_MULTI_CONN);
      assertReadWorks(c, 3);
    }
  }

  @Test
  void plainTcpGetsTlsRequired() throws Exception {
    SSLContext tls = new TestPki(dir).server;
    server =
        NbdServer.tls(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            tls,
            exports,
            NbdServer.Limits.defaults());
    assertEquals(null, server.socketPath());
    try (RawClient c = RawClient.tcp(server.address())) {
      c.hello();
      c.option(Nbd.OPT_LIST, new byte[0]);
      assertEquals(Nbd.REP_ERR_TLS_REQD, c.optionReply().type());
      c.option(Nbd.OPT_GO, RawClient.goData("vol-1"));
      assertEquals(Nbd.REP_ERR_TLS_REQD, c.optionReply().type());
      c.option(Nbd.OPT_EXPORT_NAME, "vol-1".getBytes());
      assertTrue(c.closedByServer());
    }
    assertEquals(0, vol.opened.get());
  }

  @Test
  void oversizeWriteIsConsumedAndRefused() throws Exception {
    unix(new NbdServer.Limits(8, 1 << 20, 64 << 10));
    try (RawClient c = session(false)) {
      byte[] big = new byte[200 << 10];
      new Random(1).nextBytes(big);
      c.request(0, Nbd.CMD_WRITE, 1, 0, big.length, big);
      RawClient.Simple r = c.simple();
      assertEquals(1, r.cookie());
      assertEquals(Nbd.EINVAL, r.error());
      c.request(0, Nbd.CMD_READ, 2, 0, 100 << 10, null);
      assertEquals(Nbd.EINVAL, c.simple().error(), "an oversize read too");
      assertReadWorks(c, 3);
      assertArrayEquals(new byte[200 << 10], vol.readDirect(0, 200 << 10), "nothing written");
    }
  }

  @Test
  void aDeviceOutOfMemoryIsAnIoErrorAndTheSessionGoesOn() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient c = session(false)) {
      vol.failNextFlush =
          new OutOfMemoryError("Cannot reserve 2097152 bytes of direct buffer memory (test)");
      c.request(0, Nbd.CMD_FLUSH, 1, 0, 0, null);
      RawClient.Simple r = c.simple();
      assertEquals(1, r.cookie());
      assertEquals(Nbd.EIO, r.error(), "answered, not left waiting");
      assertReadWorks(c, 2);
    }
  }

  @Test
  void unknownCommandAndFlagAreInvalidAndTheSessionGoesOn() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient c = session(true)) {
      c.request(0, 42, 1, 0, 512, null);
      RawClient.Chunk e = c.chunk();
      assertEquals(Nbd.REPLY_TYPE_ERROR, e.type());
      assertEquals(Nbd.EINVAL, e.errno());
      c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_READ, 2, 0, 512, null);
      assertEquals(Nbd.EINVAL, c.chunk().errno());
      c.request(0, Nbd.CMD_READ, 3, vol.size - 100, 512, null);
      assertEquals(Nbd.EINVAL, c.chunk().errno(), "read past the end");
      c.request(0, Nbd.CMD_WRITE, 4, vol.size - 100, 512, new byte[512]);
      assertEquals(Nbd.ENOSPC, c.chunk().errno(), "write past the end");
      c.request(0, Nbd.CMD_WRITE, 5, 4096, 3, new byte[] {7, 8, 9});
      assertEquals(0, c.simple().error());
      c.request(0, Nbd.CMD_READ, 6, 4095, 5, null);
      RawClient.Chunk d = c.chunk();
      assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, d.type());
      assertEquals(Nbd.REPLY_FLAG_DONE, d.flags() & Nbd.REPLY_FLAG_DONE);
      ByteBuffer b = ByteBuffer.wrap(d.payload());
      assertEquals(4095, b.getLong());
      byte[] got = new byte[5];
      b.get(got);
      assertArrayEquals(new byte[] {0, 7, 8, 9, 0}, got);
      // A read over data then a hole: a data chunk, then a hole chunk marked done.
      c.request(0, Nbd.CMD_READ, 7, 4096, 3 * 4096, null);
      RawClient.Chunk first = c.chunk();
      RawClient.Chunk second = c.chunk();
      assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, first.type());
      assertEquals(8 + 4096, first.payload().length);
      assertEquals(Nbd.REPLY_TYPE_OFFSET_HOLE, second.type());
      assertEquals(Nbd.REPLY_FLAG_DONE, second.flags());
      ByteBuffer h = ByteBuffer.wrap(second.payload());
      assertEquals(8192, h.getLong());
      assertEquals(8192, h.getInt());
      // Block status with REQ_ONE: one descriptor, the data block.
      c.request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 8, 4096, 1 << 20, null);
      RawClient.Chunk s = c.chunk();
      assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, s.type());
      ByteBuffer sb = ByteBuffer.wrap(s.payload());
      assertEquals(Nbd.BASE_ALLOCATION_ID, sb.getInt());
      assertEquals(4096, sb.getInt());
      assertEquals(0, sb.getInt());
      assertEquals(0, sb.remaining());
      c.request(0, Nbd.CMD_DISC, 9, 0, 0, null);
      assertTrue(c.closedByServer());
      await().atMost(Duration.ofSeconds(30)).until(() -> vol.closed.get() == 1);
    }
  }

  @Test
  void aClientVanishingMidRequestEndsOnlyItsConnection() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient other = session(false)) {
      RawClient c = session(false);
      c.request(0, Nbd.CMD_WRITE, 1, 8192, 1 << 20, null);
      byte[] part = new byte[1000];
      new Random(2).nextBytes(part);
      c.out.write(part);
      c.out.flush();
      c.close();
      await().atMost(Duration.ofSeconds(30)).until(() -> vol.closed.get() == 1);
      await().atMost(Duration.ofSeconds(30)).until(() -> server.connections() == 1);
      assertArrayEquals(new byte[1000], vol.readDirect(8192, 1000), "no partial write");
      assertReadWorks(other, 2);
    }
  }

  @Test
  void requestsInFlightAreBoundedByCount() throws Exception {
    unix(new NbdServer.Limits(4, 1 << 20, 64 << 10));
    vol.hold(-2);
    try (RawClient c = session(false)) {
      for (int i = 0; i < 10; i++) {
        c.request(0, Nbd.CMD_READ, i, i * 4096L, 4096, null);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> vol.running.get() == 4);
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(30))
          .until(() -> vol.running.get() == 4);
      vol.release();
      Set<Long> cookies = new HashSet<>();
      for (int i = 0; i < 10; i++) {
        RawClient.Simple r = c.simple();
        assertEquals(0, r.error());
        c.data(4096);
        cookies.add(r.cookie());
      }
      assertEquals(10, cookies.size());
      assertEquals(4, vol.maxRunning.get());
    }
  }

  @Test
  void requestsInFlightAreBoundedByBytes() throws Exception {
    unix(new NbdServer.Limits(64, 128 << 10, 64 << 10));
    vol.hold(-2);
    try (RawClient c = session(false)) {
      for (int i = 0; i < 6; i++) {
        c.request(0, Nbd.CMD_READ, i, 0, 64 << 10, null);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> vol.running.get() == 2);
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(30))
          .until(() -> vol.running.get() == 2);
      vol.release();
      for (int i = 0; i < 6; i++) {
        assertEquals(0, c.simple().error());
        c.data(64 << 10);
      }
      assertEquals(2, vol.maxRunning.get());
    }
  }

  @Test
  void repliesComeOutOfOrder() throws Exception {
    unix(NbdServer.Limits.defaults());
    vol.hold(0);
    try (RawClient c = session(false)) {
      c.request(0, Nbd.CMD_READ, 1, 0, 4096, null);
      c.request(0, Nbd.CMD_READ, 2, 4096, 4096, null);
      RawClient.Simple first = c.simple();
      assertEquals(2, first.cookie(), "the later request, not held, is answered first");
      c.data(4096);
      vol.release();
      assertEquals(1, c.simple().cookie());
      c.data(4096);
    }
  }

  @Test
  void closeEndsConnectionsAndClosesTheirDevices() throws Exception {
    unix(NbdServer.Limits.defaults());
    try (RawClient c = session(false)) {
      assertReadWorks(c, 1);
      assertEquals(1, server.connections());
      server.close();
      assertTrue(c.closedByServer());
      assertEquals(1, vol.closed.get());
      assertEquals(0, server.connections());
    }
  }
}
