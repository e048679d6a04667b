package io.mycnet.storage.agent.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NBD server against clients no one here wrote, run as separate processes: libnbd's nbdinfo,
 * nbdcopy and nbdsh, and qemu-img, on the node's Unix socket and on TCP with TLS (GnuTLS on the
 * client side, JSSE on ours). Each test is skipped, with the reason, when its client is not
 * installed (Debian: libnbd-bin, python3-libnbd, qemu-utils); CI installs them.
 */
@Timeout(120)
class NbdRealClientTest {
  private static final long MIB = 1 << 20;
  private static final Map<String, Boolean> FOUND = new java.util.concurrent.ConcurrentHashMap<>();

  @TempDir static Path dir;
  private static final List<SparseVolume> volumes = new ArrayList<>();
  private static NbdServer unix;
  private static NbdServer tls;
  private static Path certsA;
  private static Path certsB;

  @BeforeAll
  static void start() throws Exception {
    TestExports exports = new TestExports();
    exports.add(volume("vol-a", 64 * MIB), "ns-a", false);
    exports.add(volume("vol-sparse", 16 * MIB), "ns-a", false);
    exports.add(volume("vol-edge", MIB + 100), "ns-a", false);
    exports.add(volume("vol-ro", MIB), "ns-a", true);
    exports.add(volume("vol-b", MIB), "ns-b", false);
    exports.add(volume("vol-fio", 32 * MIB), "ns-a", false);
    unix = NbdServer.unix(dir.resolve("nbd.sock"), exports, NbdServer.Limits.defaults());
    TestPki pki = new TestPki(dir);
    tls =
        NbdServer.tls(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            pki.server,
            exports,
            NbdServer.Limits.defaults());
    certsA = pki.clientDirectory(dir.resolve("certs-a"), pki.client("ns-a"));
    certsB = pki.clientDirectory(dir.resolve("certs-b"), pki.client("ns-b"));
  }

  private static SparseVolume volume(String name, long size) throws IOException {
    SparseVolume v = new SparseVolume(dir, name, size);
    volumes.add(v);
    return v;
  }

  @AfterAll
  static void stop() throws IOException {
    if (unix != null) {
      unix.close();
    }
    if (tls != null) {
      tls.close();
    }
    for (SparseVolume v : volumes) {
      v.close();
    }
  }

  private static String unixUri(String export) {
    return "nbd+unix:///" + export + "?socket=" + unix.socketPath();
  }

  private static String tlsUri(String export, Path certs) {
    return "nbds://127.0.0.1:"
        + tls.address().getPort()
        + "/"
        + export
        + "?tls-certificates="
        + certs;
  }

  private static void need(String program, String debianPackage) {
    boolean found =
        FOUND.computeIfAbsent(
            program,
            p -> {
              for (String d : path().split(File.pathSeparator)) {
                if (Files.isExecutable(Path.of(d, p))) {
                  return true;
                }
              }
              return false;
            });
    assumeTrue(
        found,
        program
            + " is not installed (Debian package "
            + debianPackage
            + "): this real-client test is skipped; CI installs it");
  }

  private static void needNbdsh() throws Exception {
    need("nbdsh", "python3-libnbd");
    assumeTrue(
        run("nbdsh", "-c", "pass").exit() == 0,
        "nbdsh is installed but its python module does not load: real-client test skipped");
  }

  /**
   * The Debian python module of libnbd is installed for the system python: /usr/bin goes first so
   * that nbdsh finds it even where another python3 comes first on PATH.
   */
  private static String path() {
    return "/usr/bin" + File.pathSeparator + System.getenv().getOrDefault("PATH", "/bin");
  }

  record Result(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\nstdout: " + out + "\nstderr: " + err;
    }
  }

  /** Runs a client as a separate process, bounded in time; it is killed if it overruns. */
  static Result run(String... command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("PATH", path());
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    try {
      if (!p.waitFor(90, TimeUnit.SECONDS)) {
        throw new AssertionError(String.join(" ", command) + " did not finish within 90 s");
      }
      return new Result(p.exitValue(), Files.readString(out).trim(), Files.readString(err).trim());
    } finally {
      if (p.isAlive()) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private static Result ok(String... command) throws Exception {
    Result r = run(command);
    assertEquals(0, r.exit(), () -> String.join(" ", command) + " failed: " + r);
    return r;
  }

  @Test
  void nbdinfoSeesSizeAndCapabilities() throws Exception {
    need("nbdinfo", "libnbd-bin");
    assertEquals(String.valueOf(64 * MIB), ok("nbdinfo", "--size", unixUri("vol-a")).out());
    for (String can : List.of("flush", "fua", "trim", "zero", "multi-conn", "df")) {
      ok("nbdinfo", "--can", can, unixUri("vol-a"));
    }
    assertEquals(2, run("nbdinfo", "--can", "fast-zero", unixUri("vol-a")).exit());
    assertEquals(2, run("nbdinfo", "--is", "read-only", unixUri("vol-a")).exit());
    ok("nbdinfo", "--is", "read-only", unixUri("vol-ro"));
    Result json = ok("nbdinfo", "--json", unixUri("vol-edge"));
    assertTrue(json.out().contains("\"export-size\": " + (MIB + 100)), json.out());
    assertTrue(json.out().contains("\"block_size_preferred\": 4096"), json.out());
    assertTrue(json.out().contains("\"block_size_maximum\": " + (32 * MIB)), json.out());
    assertTrue(json.out().contains("\"description\": \"ns-a/claim-vol-edge\""), json.out());
  }

  @Test
  void holesAreMappedByNbdinfoAndQemuImg() throws Exception {
    needNbdsh();
    need("nbdinfo", "libnbd-bin");
    ok(
        "nbdsh",
        "-u",
        unixUri("vol-sparse"),
        "-c",
        "h.pwrite(b'\\x01' * 65536, 0)\nh.pwrite(b'\\x02' * 4096, 8 * 1024 * 1024)\nh.flush()");
    Result map = ok("nbdinfo", "--map", unixUri("vol-sparse"));
    List<String> lines = map.out().lines().map(l -> l.trim().replaceAll("\\s+", " ")).toList();
    assertEquals(
        List.of(
            "0 65536 0 data",
            "65536 8323072 3 hole,zero",
            "8388608 4096 0 data",
            "8392704 8384512 3 hole,zero"),
        lines,
        map.out());
    need("qemu-img", "qemu-utils");
    Result qmap = ok("qemu-img", "map", "--output=json", "-f", "raw", unixUri("vol-sparse"));
    String q = qmap.out().replaceAll("\\s+", "");
    assertTrue(q.contains("\"start\":0,\"length\":65536,\"depth\":0,"), qmap.out());
    assertTrue(
        q.contains(
                "\"start\":65536,\"length\":8323072,\"depth\":0,\"present\":true,\"zero\":true,\"data\":false")
            || q.contains(
                "\"start\":65536,\"length\":8323072,\"depth\":0,\"zero\":true,\"data\":false"),
        qmap.out());
  }

  @Test
  void nbdcopyInOverTheSocketOutOverTlsAndQemuImgCompare() throws Exception {
    need("nbdcopy", "libnbd-bin");
    Path in = dir.resolve("random.bin");
    byte[] chunk = new byte[(int) MIB];
    Random random = new Random(15);
    try (var out = Files.newOutputStream(in)) {
      for (int i = 0; i < 64; i++) {
        random.nextBytes(chunk);
        out.write(chunk);
      }
    }
    ok("nbdcopy", in.toString(), unixUri("vol-a"));
    Path back = dir.resolve("back.bin");
    ok("nbdcopy", tlsUri("vol-a", certsA), back.toString());
    assertEquals(sha256(in), sha256(back));
    need("qemu-img", "qemu-utils");
    ok("qemu-img", "compare", "-f", "raw", "-F", "raw", in.toString(), unixUri("vol-a"));
    // One byte changed through the export: qemu-img sees the difference.
    ok("nbdsh", "-u", unixUri("vol-a"), "-c", "h.pwrite(b'\\x00\\x01', 12345)");
    assertEquals(
        1,
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", in.toString(), unixUri("vol-a"))
            .exit());
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream s = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = s.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** The script's helper: the call must fail with that errno, then the session must still read. */
  private static final String EXPECT =
      String.join(
          "\n",
          "import nbd",
          "def expect(errname, f):",
          "    try:",
          "        f()",
          "    except nbd.Error as e:",
          "        assert e.errno == errname, (errname, e.errno, e.string)",
          "        return",
          "    raise AssertionError('no error, expected ' + errname)",
          "");

  @Test
  void nbdshEdgeCasesGetTheProtocolsErrorsAndTheSessionLives() throws Exception {
    needNbdsh();
    String script =
        EXPECT
            + String.join(
                "\n",
                "for structured in (True, False):",
                "    h = nbd.NBD()",
                "    h.set_request_structured_replies(structured)",
                "    h.connect_uri('" + unixUri("vol-edge") + "')",
                "    assert h.get_structured_replies_negotiated() == structured",
                "    h.set_strict_mode(0)",
                "    size = h.get_size()",
                "    pattern = bytes(range(256)) * 64",
                "    h.pwrite(pattern, 0)",
                "    h.pwrite(b'XYZ', 4097)",
                "    h.pwrite(b'Q', 8191)",
                "    h.pwrite(b'\\x07' * 5000, 9000)",
                "    want = bytearray(pattern)",
                "    want[4097:4100] = b'XYZ'",
                "    want[8191:8192] = b'Q'",
                "    want[9000:14000] = b'\\x07' * 5000",
                "    assert h.pread(16384, 0) == bytes(want), 'unaligned writes touched a neighbour'",
                "    h.pwrite(b'end', size - 3)",
                "    assert h.pread(103, size - 103)[-3:] == b'end'",
                "    h.zero(1000, 2000)",
                "    want[2000:3000] = bytes(1000)",
                "    assert h.pread(4096, 0) == bytes(want[0:4096])",
                "    expect('EINVAL', lambda: h.pread(4096, size - 100))",
                "    assert h.pread(3, 4097) == b'XYZ'",
                "    expect('ENOSPC', lambda: h.pwrite(b'x' * 4096, size - 100))",
                "    assert h.pread(3, 4097) == b'XYZ'",
                "    expect('EINVAL', lambda: h.pread(512, 0, nbd.CMD_FLAG_FUA))",
                "    assert h.pread(3, 4097) == b'XYZ'",
                "    expect('EINVAL', lambda: h.flush(nbd.CMD_FLAG_REQ_ONE))",
                "    assert h.pread(3, 4097) == b'XYZ'",
                "    expect('EINVAL', lambda: h.pwrite(b'x' * (33 * 1024 * 1024), 0))",
                "    assert h.pread(3, 4097) == b'XYZ'",
                "    expect('EINVAL', lambda: h.pread(33 * 1024 * 1024, 0))",
                "    assert h.pread(3, 4097) == b'XYZ'",
                "    h.shutdown()",
                "h = nbd.NBD()",
                "h.connect_uri('" + unixUri("vol-ro") + "')",
                "h.set_strict_mode(0)",
                "assert h.is_read_only()",
                "expect('EPERM', lambda: h.pwrite(b'x', 0))",
                "expect('EPERM', lambda: h.trim(4096, 0))",
                "expect('EPERM', lambda: h.zero(4096, 0))",
                "assert h.pread(1, 0) == b'\\x00'",
                "h.shutdown()",
                "print('ok')");
    Result r = ok("nbdsh", "-c", script);
    assertEquals("ok", r.out(), r.toString());
  }

  @Test
  void tlsClientCertificateDecidesWhatIsListedAndOpened() throws Exception {
    need("nbdinfo", "libnbd-bin");
    assertEquals(String.valueOf(64 * MIB), ok("nbdinfo", "--size", tlsUri("vol-a", certsA)).out());
    Result listA = ok("nbdinfo", "--list", "--json", tlsUri("", certsA));
    assertTrue(listA.out().contains("\"export-name\": \"vol-a\""), listA.out());
    assertTrue(listA.out().contains("\"export-name\": \"vol-ro\""), listA.out());
    assertFalse(listA.out().contains("vol-b"), listA.out());
    Result listB = ok("nbdinfo", "--list", "--json", tlsUri("", certsB));
    assertTrue(listB.out().contains("\"export-name\": \"vol-b\""), listB.out());
    assertFalse(listB.out().contains("vol-a"), listB.out());
    // Plain NBD over TCP is refused.
    Result plain =
        run("nbdinfo", "--size", "nbd://127.0.0.1:" + tls.address().getPort() + "/vol-a");
    assertNotEquals(0, plain.exit(), plain.toString());
    assertTrue(plain.err().toLowerCase().contains("tls"), plain.toString());
    // Another namespace's certificate: NBD_REP_ERR_POLICY with our message.
    Result refused = run("nbdinfo", "--size", tlsUri("vol-a", certsB));
    assertNotEquals(0, refused.exit(), refused.toString());
    assertTrue(refused.err().contains("server policy prevents NBD_OPT_GO"), refused.toString());
  }

  @Test
  void policyRefusalIsTheProtocolsPolicyError() throws Exception {
    needNbdsh();
    String script =
        String.join(
            "\n",
            "import nbd",
            "h = nbd.NBD()",
            "h.set_uri_allow_local_file(True)",
            "try:",
            "    h.connect_uri('" + tlsUri("vol-a", certsB) + "')",
            "    raise AssertionError('opened')",
            "except nbd.Error as e:",
            "    assert 'server policy prevents NBD_OPT_GO' in e.string, e.string",
            "h = nbd.NBD()",
            "h.set_uri_allow_local_file(True)",
            "h.connect_uri('" + tlsUri("vol-b", certsB) + "')",
            "assert h.pread(4, 0) == bytes(4)",
            "assert h.get_tls_negotiated()",
            "print('b-ok')");
    Result r = ok("nbdsh", "-c", script);
    assertEquals("b-ok", r.out(), r.toString());
  }

  @Test
  void fioRandomWritesAtQueueDepth32Verify() throws Exception {
    need("fio", "fio");
    // Over the Unix socket only: fio's nbd engine does not let libnbd read tls-certificates=DIR
    // (nbd_set_uri_allow_local_file is never called), so it cannot present a client certificate.
    for (String uri : List.of(unixUri("vol-fio"))) {
      Result r =
          ok(
              "fio",
              "--name=verify",
              "--ioengine=nbd",
              "--uri=" + uri,
              "--rw=randwrite",
              "--bs=4k",
              "--iodepth=32",
              "--size=16m",
              "--verify=crc32c",
              "--do_verify=1",
              "--verify_fatal=1",
              "--output-format=terse",
              "--terse-version=3");
      String[] f = r.out().lines().reduce((a, b) -> b).orElse("").split(";");
      // terse v3: field 5 is the job's error code; 49 the write IOPS.
      assertEquals("0", f[4], r.toString());
      System.out.println(
          "fio 4 KiB randwrite QD32 + crc32c verify on "
              + uri.split(":")[0]
              + ": write IOPS "
              + f[48]);
    }
  }
}
