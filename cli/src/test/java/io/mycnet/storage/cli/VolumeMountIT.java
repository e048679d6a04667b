package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.cli.local.LocalCsi;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code mycnet volume mount|unmount} as a user runs them: local mode from the launcher (etcd, the
 * control plane with the CSI controller, six agents with their node plugins, as processes), the
 * sample claims, and the commands as processes. A CRITICAL volume mounted as ext4 on one node holds
 * its files when unmounted and mounted on another; xfs once; the edge node of low trust is refused
 * with the trust gate's reason; {@code local down --wipe} unmounts what is still mounted and leaves
 * no mount, loop device or nbdfuse process behind.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VolumeMountIT {
  static final Path ROOT =
      Path.of(System.getProperty("mycnet.root", "..")).toAbsolutePath().normalize();
  static final String CONSENSUS = "mycnet-demo/payments-consensus"; // CRITICAL, 3 replicas
  static final String CONFIG = "mycnet-demo/payments-config"; // SENSITIVE, 1 GiB
  static Path state;
  static Path mounts;

  @BeforeAll
  static void up() throws Exception {
    state = Path.of("target", "volume-mount-it-state").toAbsolutePath();
    mounts = Path.of("target", "volume-mount-it-mnt").toAbsolutePath();
    if (Files.exists(state)) {
      run(List.of("local", "down", "--wipe"), 180);
    }
    Files.createDirectories(mounts);
    Result up = run(List.of("local", "up"), 300);
    assertThat(up.code).as(up.output).isZero();
    assertThat(up.output).contains("csi=");
    try (LocalClient c = new LocalClient(new LocalState(state))) {
      await()
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofSeconds(1))
          .ignoreExceptions()
          .until(
              () -> {
                List<StorageClaim> all =
                    c.kube().resources(StorageClaim.class).inAnyNamespace().list().getItems();
                return all.size() == 7
                    && all.stream()
                        .allMatch(
                            x ->
                                x.getStatus() != null
                                    && x.getStatus().getPhase() == ClaimPhase.Bound)
                    && c.volumes().stream()
                        .allMatch(v -> v.getState() == VolumeState.VOLUME_STATE_BOUND);
              });
    }
  }

  @AfterAll
  static void down() throws Exception {
    Result r = run(List.of("local", "down", "--wipe"), 180);
    assertThat(r.code).as(r.output).isZero();
    assertThat(r.output).contains("unmounted " + mounts.resolve("config-xfs"));
    assertThat(state).doesNotExist();
    assertThat(LocalCsi.mountsUnder(mounts)).isEmpty();
    assertThat(LocalCsi.mountsUnder(state)).isEmpty();
    assertThat(exec("losetup", "-a")).doesNotContain(state.toString());
    assertThat(
            ProcessHandle.allProcesses()
                .filter(
                    h ->
                        h.info().commandLine().orElse("").contains(state.toString())
                            && h.info().commandLine().orElse("").contains("nbdfuse"))
                .toList())
        .isEmpty();
  }

  record Result(int code, String output) {}

  static Result run(List<String> args, long timeoutSeconds) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ROOT.resolve("mycnet").toString());
    cmd.addAll(args);
    cmd.add("--state-dir=" + state);
    Path log = Files.createTempFile("mycnet-", ".out");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("MYCNET_SKIP_BUILD", "1");
    pb.environment().put("MYCNET_HOME", ROOT.toString());
    Process p = pb.start();
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(
            "mycnet "
                + String.join(" ", args)
                + " did not finish in time:\n"
                + Files.readString(log));
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
    String out = Files.readString(log);
    Files.delete(log);
    return new Result(p.exitValue(), out);
  }

  static String exec(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  /** The file system type mounted at {@code dir}, from /proc/self/mountinfo; null if none. */
  static String fsType(Path dir) throws IOException {
    String type = null;
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      int dash = List.of(f).indexOf("-");
      if (f.length > 4 && LocalCsi.target(Path.of(f[4])).equals(dir) && dash > 0) {
        type = f[dash + 1];
      }
    }
    return type;
  }

  /** Writes {@code count} files of random bytes in five directories, each fsynced. */
  static Map<String, String> writeTree(Path dir, int count, long seed) throws Exception {
    Random random = new Random(seed);
    Map<String, String> sums = new TreeMap<>();
    for (int i = 0; i < count; i++) {
      String rel = "d" + (i % 5) + "/f" + i;
      byte[] data = new byte[4096 + random.nextInt(128 << 10)];
      random.nextBytes(data);
      Path f = dir.resolve(rel);
      Files.createDirectories(f.getParent());
      try (FileChannel ch =
          FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(data));
        ch.force(true);
      }
      sums.put(rel, sha(data));
    }
    return sums;
  }

  static Map<String, String> readTree(Path dir) throws Exception {
    Map<String, String> sums = new TreeMap<>();
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path f : all.filter(Files::isRegularFile).toList()) {
        String rel = dir.relativize(f).toString();
        if (!rel.startsWith("lost+found")) {
          sums.put(rel, sha(Files.readAllBytes(f)));
        }
      }
    }
    return sums;
  }

  static String sha(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  @Test
  @Order(1)
  void aCriticalVolumeMountedAsExt4OnOneNodeHoldsItsFilesOnAnother() throws Exception {
    Path a = Files.createDirectories(mounts.resolve("consensus-a"));
    Result m = run(List.of("volume", "mount", CONSENSUS, a.toString(), "--node", "core-1"), 240);
    assertThat(m.code).as(m.output).isZero();
    assertThat(m.output)
        .contains(
            "volume mycnet-demo.payments-consensus (claim mycnet-demo/payments-consensus, CRITICAL")
        .contains("published mycnet-demo.payments-consensus to core-1 (ControllerPublishVolume")
        .contains("staged at ")
        .contains("mounted at " + a)
        .contains("device: ")
        .contains("usage: ");
    assertThat(fsType(a)).as(m.output).isEqualTo("ext4");
    Map<String, String> written = writeTree(a, 60, 21);

    // Again with the same arguments: idempotent, nothing changes.
    Result again =
        run(List.of("volume", "mount", CONSENSUS, a.toString(), "--node", "core-1"), 240);
    assertThat(again.code).as(again.output).isZero();
    assertThat(readTree(a)).isEqualTo(written);
    Result status = run(List.of("status"), 120);
    assertThat(status.output)
        .contains("CSI (")
        .contains("controller ")
        .contains("mounted " + a + ": mycnet-demo.payments-consensus on core-1 (ext4, read-write)");

    Result u = run(List.of("volume", "unmount", a.toString()), 240);
    assertThat(u.code).as(u.output).isZero();
    assertThat(u.output)
        .contains("NodeUnpublishVolume")
        .contains("NodeUnstageVolume")
        .contains("ControllerUnpublishVolume");
    assertThat(fsType(a)).isNull();
    Result u2 = run(List.of("volume", "unmount", a.toString()), 120);
    assertThat(u2.code).as(u2.output).isZero();
    assertThat(u2.output).contains("nothing mounted at " + a);

    Path b = Files.createDirectories(mounts.resolve("consensus-b"));
    Result m2 = run(List.of("volume", "mount", CONSENSUS, b.toString(), "--node", "core-3"), 240);
    assertThat(m2.code).as(m2.output).isZero();
    assertThat(fsType(b)).isEqualTo("ext4");
    assertThat(readTree(b)).isEqualTo(written);
    Result u3 = run(List.of("volume", "unmount", b.toString()), 240);
    assertThat(u3.code).as(u3.output).isZero();
    try (LocalClient c = new LocalClient(new LocalState(state))) {
      Allocation v = c.volume("mycnet-demo.payments-consensus").orElseThrow();
      assertThat(v.getAttachmentsList()).isEmpty();
    }
  }

  @Test
  @Order(2)
  void theEdgeNodeIsRefusedWithTheTrustGatesReasonAndNothingStaysBehind() throws Exception {
    Path e = Files.createDirectories(mounts.resolve("consensus-edge"));
    Result r = run(List.of("volume", "mount", CONSENSUS, e.toString(), "--node", "edge-1"), 240);
    assertThat(r.code).as(r.output).isEqualTo(1);
    assertThat(r.output)
        .contains("ControllerPublishVolume of mycnet-demo.payments-consensus to edge-1 refused")
        .contains("FAILED_PRECONDITION")
        .contains("does not admit CRITICAL data")
        .containsIgnoringCase("encryption");
    assertThat(fsType(e)).isNull();
    assertThat(new LocalCsi(new LocalState(state)).recorded(e)).isEmpty();
    try (LocalClient c = new LocalClient(new LocalState(state))) {
      assertThat(c.volume("mycnet-demo.payments-consensus").orElseThrow().getAttachmentsList())
          .isEmpty();
    }
  }

  @Test
  @Order(3)
  void xfsOnceAndLocalDownUnmountsWhatIsStillMounted() throws Exception {
    assertThat(exec("sh", "-c", "command -v mkfs.xfs || echo missing"))
        .as("mkfs.xfs (apt-get install -y xfsprogs; .ci/run installs it)")
        .doesNotContain("missing");
    Path x = Files.createDirectories(mounts.resolve("config-xfs"));
    Result m =
        run(
            List.of("volume", "mount", CONFIG, x.toString(), "--node", "core-2", "--fs", "xfs"),
            240);
    assertThat(m.code).as(m.output).isZero();
    assertThat(fsType(x)).as(m.output).isEqualTo("xfs");
    Map<String, String> written = writeTree(x, 20, 22);
    assertThat(readTree(x)).isEqualTo(written);
    // Left mounted: local down (in @AfterAll) must unmount it before the agents stop.
  }
}
