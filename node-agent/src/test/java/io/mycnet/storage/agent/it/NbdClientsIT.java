package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mycnet.storage.agent.it.BlockExportCluster.Run;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every volume is a block device for NBD clients no one here wrote: {@code nbdinfo}, {@code
 * nbdcopy}, {@code qemu-img}, {@code nbdsh} and, through {@code nbdfuse} and a loop device, the
 * kernel's ext4, against the agents' frontends of a real cluster (etcd, the production control
 * plane, agent processes), the volumes claimed and attached as a user does; then bad input from a
 * raw client against the running agent, which stays up and keeps serving.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NbdClientsIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "nbdcl1.0123456789abcdef";
  static final List<String> NODES = List.of("c1", "c2", "c3");
  static final Duration T = Duration.ofSeconds(60);

  @TempDir static Path dir;
  static BlockExportCluster c;
  static String small;

  @BeforeAll
  static void start() throws Exception {
    BlockExportCluster.requireClients(BlockExportCluster.CLIENTS);
    c = new BlockExportCluster(dir, ETCD, TOKEN, NODES, "nbd-clients-it-logs");
    c.serviceNamespace("apps");
    small = c.claim("small", "apps", "16Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("c1", "small", false);
  }

  @AfterAll
  static void stop() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  @Test
  @Order(1)
  void nbdinfoSeesTheSizeTheCapabilitiesAndTheHoles() {
    String uri = c.unixUri("c1", small);
    assertThat(c.ok(T, "nbdinfo", "--size", uri).out().strip()).isEqualTo("16777216");
    for (String cap : List.of("flush", "fua", "trim", "zero")) {
      assertThat(c.run(T, "nbdinfo", "--can", cap, uri).code()).as("--can %s", cap).isZero();
    }
    assertThat(c.run(T, "nbdinfo", "--is", "read-only", uri).code()).isNotZero();
    // The export's description is "<namespace>/<claim>".
    assertThat(c.ok(T, "nbdinfo", uri).out()).contains(BlockExportCluster.KNS + "/small");

    // 1 MiB of data at 4 MiB, an unaligned write across a block boundary; the rest never written.
    c.ok(
        T,
        "nbdsh",
        "-u",
        uri,
        "-c",
        String.join(
            "\n",
            "h.pwrite(b'\\xab' * 1048576, 4 << 20)",
            "h.pwrite(b'xyz', (8 << 20) + 4095)",
            "b = h.pread(8, (8 << 20) + 4092)",
            "assert b == b'\\0\\0\\0xyz\\0\\0', b",
            "assert h.pread(4096, 4 << 20) == b'\\xab' * 4096",
            // A read past the end is the protocol's error and the session lives.
            "try:",
            "    h.pread(4096, 16 << 20)",
            "    raise SystemExit('read past the end succeeded')",
            "except nbd.Error as e:",
            "    print('past end:', e)",
            "assert h.pread(3, (8 << 20) + 4095) == b'xyz'",
            "h.flush()"));

    List<long[]> map = map(c.ok(T, "nbdinfo", "--map", uri).out());
    assertThat(map).as("extents cover the device").isNotEmpty();
    assertThat(map.get(0)[0]).isZero();
    long[] last = map.get(map.size() - 1);
    assertThat(last[0] + last[1]).isEqualTo(16L << 20);
    assertThat(extentAt(map, 0)[2] & 1).as("offset 0 is a hole").isEqualTo(1);
    assertThat(extentAt(map, 12L << 20)[2] & 1).as("offset 12 MiB is a hole").isEqualTo(1);
    assertThat(extentAt(map, 4L << 20)[2] & 1).as("offset 4 MiB holds data").isZero();
    assertThat(extentAt(map, (5L << 20) - 1)[2] & 1).isZero();
    assertThat(extentAt(map, 8L << 20)[2] & 1).isZero();

    // qemu-img sees the same allocation.
    String json = c.ok(T, "qemu-img", "map", "--output=json", "-f", "raw", uri).out();
    assertThat(json).contains("\"data\": false").contains("\"data\": true");
    assertThat(json)
        .containsPattern("\"start\": 4194304, \"length\": \\d+, \"depth\": 0, [^}]*\"data\": true");
  }

  /** {@code nbdinfo --map} lines: offset, length, type (bit 0: hole, bit 1: zero). */
  static List<long[]> map(String out) {
    List<long[]> extents = new ArrayList<>();
    for (String l : out.split("\n")) {
      String[] f = l.strip().split("\\s+");
      if (f.length >= 3 && f[0].matches("\\d+")) {
        extents.add(new long[] {Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])});
      }
    }
    return extents;
  }

  static long[] extentAt(List<long[]> map, long offset) {
    return map.stream()
        .filter(e -> e[0] <= offset && offset < e[0] + e[1])
        .findFirst()
        .orElseThrow(() -> new AssertionError("no extent at " + offset));
  }

  @Test
  @Order(2)
  void aReadOnlyAttachmentIsAReadOnlyExport() {
    String ro = c.claim("ro", "apps", "8Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("c2", "ro", true);
    String uri = c.unixUri("c2", ro);
    assertThat(c.run(T, "nbdinfo", "--is", "read-only", uri).code()).isZero();
    Run w =
        c.nbdsh(
            T,
            uri,
            String.join(
                "\n",
                "try:",
                "    h.pwrite(b'x' * 4096, 0)",
                "    raise SystemExit('write to a read-only export succeeded')",
                "except nbd.Error as e:",
                "    print('refused:', e)",
                "assert h.pread(4096, 0) == bytes(4096)"));
    assertThat(w.code()).as("%s", w).isZero();
    assertThat(w.out()).contains("refused:");
  }

  @Test
  @Order(3)
  void nbdcopyCopies256MiBInAndOutAndQemuImgComparesThem() throws Exception {
    String big = c.claim("big", "apps", "256Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("c2", "big", false);
    Path in = dir.resolve("random.img");
    Random r = new Random(15);
    byte[] buf = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(in)) {
      for (int i = 0; i < 256; i++) {
        r.nextBytes(buf);
        out.write(buf);
      }
    }
    String uri = c.unixUri("c2", big);
    Duration copy = Duration.ofSeconds(180);
    c.ok(copy, "nbdcopy", in.toString(), uri);
    Path back = dir.resolve("back.img");
    c.ok(copy, "nbdcopy", uri, back.toString());
    assertThat(BlockExportCluster.sha256(back)).isEqualTo(BlockExportCluster.sha256(in));
    Run cmp = c.run(copy, "qemu-img", "compare", "-f", "raw", "-F", "raw", in.toString(), uri);
    assertThat(cmp.code()).as("%s", cmp).isZero();
    assertThat(cmp.out()).contains("Images are identical");
    // A byte changed on the volume: qemu-img sees the difference.
    c.ok(T, "nbdsh", "-u", uri, "-c", "h.pwrite(b'\\x00\\x01', 100 << 20)");
    assertThat(
            c.run(copy, "qemu-img", "compare", "-f", "raw", "-F", "raw", in.toString(), uri).code())
        .isEqualTo(1);
    Files.delete(in);
    Files.delete(back);
  }

  @Test
  @Order(4)
  void ext4OnTheExportThroughNbdfuseAndALoopDevice() throws Exception {
    assumeTrue(
        "root".equals(System.getProperty("user.name")),
        "the filesystem test needs root (losetup, mount); running as "
            + System.getProperty("user.name"));
    assumeTrue(
        Files.exists(Path.of("/dev/loop-control")) && Files.exists(Path.of("/dev/fuse")),
        "the filesystem test needs /dev/loop-control and /dev/fuse");
    List<String> missing =
        BlockExportCluster.missing(List.of("nbdfuse", "losetup", "mkfs.ext4", "mount", "fsck"));
    assumeTrue(missing.isEmpty(), "missing for the filesystem test: " + missing);
    String fs = c.claim("fs", "apps", "64Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("c3", "fs", false);
    String uri = c.unixUri("c3", fs);
    Path mnt = Files.createDirectories(dir.resolve("mnt"));
    List<String> sums = new ArrayList<>();
    // First: mkfs, mount, a tree of files, unmount; the device goes away entirely.
    try (LoopDevice dev = new LoopDevice(uri, dir.resolve("fuse-1"))) {
      c.ok(T, "mkfs.ext4", "-q", "-F", dev.loop);
      dev.mount(mnt);
      Random r = new Random(4);
      for (int d = 0; d < 4; d++) {
        Path sub = Files.createDirectories(mnt.resolve("dir" + d).resolve("deeper"));
        for (int f = 0; f < 8; f++) {
          byte[] data = new byte[1000 + r.nextInt(300_000)];
          r.nextBytes(data);
          Path p = sub.resolve("file" + f);
          Files.write(p, data);
          sums.add(mnt.relativize(p) + " " + BlockExportCluster.sha256(p));
        }
      }
      dev.unmount();
    }
    // Then a new nbdfuse and loop device (nothing cached): fsck finds it clean, the files are
    // there with their bytes.
    try (LoopDevice dev = new LoopDevice(uri, dir.resolve("fuse-2"))) {
      Run fsck = c.run(T, "fsck", "-n", "-f", dev.loop);
      assertThat(fsck.code()).as("%s", fsck).isZero();
      assertThat(fsck.out() + fsck.err()).contains(" files").doesNotContain("Fix?");
      dev.mount(mnt);
      for (String s : sums) {
        String[] f = s.split(" ");
        assertThat(BlockExportCluster.sha256(mnt.resolve(f[0]))).as(f[0]).isEqualTo(f[1]);
      }
      dev.unmount();
    }
  }

  /**
   * The export as a file ({@code nbdfuse}) on a loop device; {@link #close} unmounts, detaches the
   * loop device and stops nbdfuse by PID, whatever state the test left.
   */
  final class LoopDevice implements AutoCloseable {
    final ChildProcess fuse;
    final Path fuseDir;
    String loop;
    Path mounted;

    LoopDevice(String uri, Path fuseDir) throws IOException {
      this.fuseDir = Files.createDirectories(fuseDir);
      Path file = fuseDir.resolve("disk");
      fuse = c.start("nbdfuse-" + fuseDir.getFileName(), List.of("nbdfuse", file.toString(), uri));
      try {
        org.awaitility.Awaitility.await()
            .atMost(Duration.ofSeconds(30))
            .ignoreExceptions()
            .until(() -> Files.size(file) == 64L << 20);
        loop = c.ok(T, "losetup", "--find", "--show", file.toString()).out().strip();
        assertThat(loop).startsWith("/dev/loop");
      } catch (RuntimeException | AssertionError e) {
        close();
        throw e;
      }
    }

    void mount(Path at) {
      c.ok(T, "mount", loop, at.toString());
      mounted = at;
    }

    void unmount() {
      c.ok(T, "umount", mounted.toString());
      mounted = null;
    }

    @Override
    public void close() {
      if (mounted != null) {
        c.run(T, "umount", mounted.toString());
      }
      if (loop != null && loop.startsWith("/dev/loop")) {
        c.run(T, "losetup", "-d", loop);
      }
      fuse.stop(Duration.ofSeconds(10));
      try {
        // nbdfuse unmounts itself on SIGTERM; a SIGKILLed one leaves its mount behind.
        if (Files.readString(Path.of("/proc/mounts")).contains(" " + fuseDir + " ")) {
          c.run(T, "umount", "-l", fuseDir.toString());
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }

  @Test
  @Order(5)
  void badInputEndsOnlyItsOwnConnection() throws Exception {
    Path socket = c.socket("c1");
    ChildProcess agent = c.dp.agents.get("c1");
    // A second export on the same agent keeps serving while the bad clients come and go.
    String other = c.claim("other", "apps", "8Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("c1", "other", false);
    c.ok(T, "nbdsh", "-u", c.unixUri("c1", other), "-c", "h.pwrite(b'keep' * 1024, 0)");

    // Garbage instead of the client flags and options.
    byte[] garbage = new byte[64 << 10];
    new Random(1).nextBytes(garbage);
    assertEndsConnection(socket, garbage);
    // Wrong option magic.
    ByteBuffer wrong = ByteBuffer.allocate(4 + 16);
    wrong.putInt(3).putLong(0x1234567890abcdefL).putInt(7).putInt(0);
    assertEndsConnection(socket, wrong.array());
    // An option that claims 4 GiB - 1 of data: refused or disconnected, nothing allocated; many at
    // once on a 128 MiB agent heap.
    ByteBuffer huge = ByteBuffer.allocate(4 + 16);
    huge.putInt(3).putLong(0x49484156454F5054L).putInt(7).putInt(0xFFFFFFFF);
    var pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> all = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        all.add(
            pool.submit(
                () -> {
                  assertEndsOrRefuses(socket, huge.array());
                  return null;
                }));
      }
      for (Future<?> f : all) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    // A client that vanishes in the middle of a 1 MiB write.
    vanishMidWrite(socket, small);
    // Garbage on the TLS port: no NBD session at all.
    try (var s = new java.net.Socket("127.0.0.1", c.tlsPort("c1"))) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(garbage);
      byte[] b = new byte[4096];
      long got = 0;
      int n;
      try {
        while ((n = s.getInputStream().read(b)) >= 0 && got < 1 << 20) {
          got += n;
        }
      } catch (IOException e) {
        // reset by the agent: as good as closed
      }
    }

    assertThat(agent.isAlive()).as("the agent survived").isTrue();
    assertThat(agent.stderr()).doesNotContain("OutOfMemoryError");
    Run keep =
        c.nbdsh(
            T,
            c.unixUri("c1", other),
            "assert h.pread(4096, 0) == b'keep' * 1024\nh.pwrite(b'more' * 1024, 4096)");
    assertThat(keep.code()).as("%s", keep).isZero();
    Run data =
        c.nbdsh(T, c.unixUri("c1", small), "assert h.pread(4096, 4 << 20) == b'\\xab' * 4096");
    assertThat(data.code()).as("%s", data).isZero();
  }

  /** Reads the greeting, sends {@code bytes}, and expects the agent to close within 20 s. */
  static void assertEndsConnection(Path socket, byte[] bytes) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      readGreeting(ch);
      try {
        ch.write(ByteBuffer.wrap(bytes));
      } catch (IOException e) {
        return; // closed while we wrote
      }
      assertThat(untilClosed(ch, Duration.ofSeconds(20)))
          .as("connection closed by the agent within 20 s")
          .isNotNull();
    }
  }

  /**
   * As {@link #assertEndsConnection}, or an option error reply (magic, option, a reply type with
   * the error bit) before the close.
   */
  static void assertEndsOrRefuses(Path socket, byte[] bytes) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      readGreeting(ch);
      ch.write(ByteBuffer.wrap(bytes));
      ch.shutdownOutput();
      byte[] got = untilClosed(ch, Duration.ofSeconds(20));
      assertThat(got).as("connection closed by the agent within 20 s").isNotNull();
      if (got.length >= 20) {
        ByteBuffer reply = ByteBuffer.wrap(got);
        assertThat(reply.getLong(0)).isEqualTo(0x3e889045565a9L);
        assertThat(reply.getInt(12) & 0x80000000).as("an error reply").isNotZero();
      }
    }
  }

  static void readGreeting(SocketChannel ch) throws IOException {
    ByteBuffer g = ByteBuffer.allocate(18);
    while (g.hasRemaining()) {
      if (ch.read(g) < 0) {
        throw new AssertionError("closed before the greeting");
      }
    }
    assertThat(g.getLong(0)).isEqualTo(0x4e42444d41474943L);
    assertThat(g.getLong(8)).isEqualTo(0x49484156454F5054L);
  }

  /**
   * Reads until the peer closes (then: what was read, at most 1 MiB kept) or {@code within} passes
   * (then: null, and the channel is closed by us).
   */
  static byte[] untilClosed(SocketChannel ch, Duration within) {
    java.util.concurrent.atomic.AtomicBoolean timedOut =
        new java.util.concurrent.atomic.AtomicBoolean();
    var timer = Executors.newSingleThreadScheduledExecutor();
    timer.schedule(
        () -> {
          timedOut.set(true);
          try {
            ch.close();
          } catch (IOException e) {
            // closed is what we want
          }
        },
        within.toMillis(),
        TimeUnit.MILLISECONDS);
    java.io.ByteArrayOutputStream kept = new java.io.ByteArrayOutputStream();
    ByteBuffer b = ByteBuffer.allocate(4096);
    try {
      while (true) {
        b.clear();
        int n;
        try {
          n = ch.read(b);
        } catch (IOException e) {
          n = -1;
        }
        if (n < 0) {
          return timedOut.get() ? null : kept.toByteArray();
        }
        if (kept.size() < 1 << 20) {
          kept.write(b.array(), 0, n);
        }
      }
    } finally {
      timer.shutdownNow();
    }
  }

  /**
   * Negotiates {@code export} with NBD_OPT_EXPORT_NAME, sends the header of a 1 MiB write and a
   * part of its payload, and closes.
   */
  static void vanishMidWrite(Path socket, String export) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      readGreeting(ch);
      byte[] name = export.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      ByteBuffer o = ByteBuffer.allocate(4 + 16 + name.length);
      o.putInt(3).putLong(0x49484156454F5054L).putInt(1).putInt(name.length).put(name).flip();
      ch.write(o);
      ByteBuffer info = ByteBuffer.allocate(10);
      while (info.hasRemaining()) {
        if (ch.read(info) < 0) {
          throw new AssertionError("export " + export + " refused");
        }
      }
      assertThat(info.getLong(0)).isEqualTo(16L << 20);
      ByteBuffer w = ByteBuffer.allocate(28 + 1000);
      w.putInt(0x25609513).putShort((short) 0).putShort((short) 1).putLong(77).putLong(0);
      w.putInt(1 << 20).put(new byte[1000]).flip();
      ch.write(w);
    }
  }
}
