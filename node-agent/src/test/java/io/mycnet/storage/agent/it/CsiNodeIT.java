package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.GetPluginCapabilitiesRequest;
import io.mycnet.storage.csi.v1.GetPluginInfoRequest;
import io.mycnet.storage.csi.v1.IdentityGrpc;
import io.mycnet.storage.csi.v1.NodeExpandVolumeRequest;
import io.mycnet.storage.csi.v1.NodeGetCapabilitiesRequest;
import io.mycnet.storage.csi.v1.NodeGetInfoRequest;
import io.mycnet.storage.csi.v1.NodeGetInfoResponse;
import io.mycnet.storage.csi.v1.NodeGetVolumeStatsRequest;
import io.mycnet.storage.csi.v1.NodeGetVolumeStatsResponse;
import io.mycnet.storage.csi.v1.NodeGrpc;
import io.mycnet.storage.csi.v1.NodePublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeServiceCapability;
import io.mycnet.storage.csi.v1.NodeStageVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnstageVolumeRequest;
import io.mycnet.storage.csi.v1.PluginCapability;
import io.mycnet.storage.csi.v1.ProbeRequest;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import io.mycnet.storage.csi.v1.VolumeUsage;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CSI node plugin of real agents (a cluster with the production control plane; volumes claimed
 * and attached as a user does), driven over each agent's CSI Unix socket with the RPCs a kubelet
 * sends: an ext4 volume staged and published (files written and read back, a read-only publish
 * refuses writes), the agent SIGKILLed and restarted with the volume staged (the files are there
 * and writes work), a raw block volume, idempotency, bad input, a stage refused where the volume is
 * not attached; unstage leaves no mount, loop device or nbdfuse behind. Real nbdfuse, loop devices,
 * mkfs and mount: needs root, /dev/loop-control and /dev/fuse.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CsiNodeIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "csind1.0123456789abcdef";
  static final List<String> NODES = List.of("k1", "k2", "k3");
  static final Duration T = Duration.ofSeconds(60);

  @TempDir static Path dir;
  static BlockExportCluster c;
  static final Map<String, ManagedChannel> channels = new HashMap<>();

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(
        "root".equals(System.getProperty("user.name")),
        "the CSI node plugin needs root (losetup, mount); running as "
            + System.getProperty("user.name"));
    assumeTrue(
        Files.exists(Path.of("/dev/loop-control")) && Files.exists(Path.of("/dev/fuse")),
        "the CSI node plugin needs /dev/loop-control and /dev/fuse");
    BlockExportCluster.requireClients(
        List.of("nbdfuse", "nbdkit", "losetup", "mkfs.ext4", "blkid", "mount", "umount"));
    c = new BlockExportCluster(dir, ETCD, TOKEN, NODES, "csi-node-it-logs");
    c.serviceNamespace("apps");
  }

  @AfterAll
  static void stop() throws Exception {
    channels.values().forEach(ManagedChannel::shutdownNow);
    try {
      cleanUpMountsAndDevices();
    } finally {
      if (c != null) {
        c.close();
      }
    }
  }

  // ---- clients ----

  static ManagedChannel channel(String node) {
    return channels.computeIfAbsent(
        node, n -> UnixSocketGrpc.channel(Path.of(c.readyFields(n).get("csi"))));
  }

  static NodeGrpc.NodeBlockingStub node(String node) {
    return NodeGrpc.newBlockingStub(channel(node)).withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  static VolumeCapability mount(String fs, Mode mode) {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
        .build();
  }

  static VolumeCapability block() {
    return VolumeCapability.newBuilder()
        .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(Mode.SINGLE_NODE_WRITER))
        .build();
  }

  static NodeStageVolumeRequest stage(String volume, Path staging, VolumeCapability cap) {
    return NodeStageVolumeRequest.newBuilder()
        .setVolumeId(volume)
        .setStagingTargetPath(staging.toString())
        .setVolumeCapability(cap)
        .build();
  }

  static NodePublishVolumeRequest publish(
      String volume, Path staging, Path target, VolumeCapability cap, boolean ro) {
    return NodePublishVolumeRequest.newBuilder()
        .setVolumeId(volume)
        .setStagingTargetPath(staging.toString())
        .setTargetPath(target.toString())
        .setVolumeCapability(cap)
        .setReadonly(ro)
        .build();
  }

  static void unpublish(String node, String volume, Path target) {
    node(node)
        .nodeUnpublishVolume(
            NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volume)
                .setTargetPath(target.toString())
                .build());
  }

  static void unstage(String node, String volume, Path staging) {
    node(node)
        .nodeUnstageVolume(
            NodeUnstageVolumeRequest.newBuilder()
                .setVolumeId(volume)
                .setStagingTargetPath(staging.toString())
                .build());
  }

  static void assertStatus(Runnable call, Status.Code code, String messagePart) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
              assertThat(e.getStatus().getDescription()).contains(messagePart);
            });
  }

  // ---- the tests ----

  @Test
  @Order(1)
  void identityAndNodeInfo() {
    IdentityGrpc.IdentityBlockingStub id = IdentityGrpc.newBlockingStub(channel("k1"));
    assertThat(id.getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName())
        .isEqualTo(CsiNames.DRIVER_NAME);
    assertThat(
            id.getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList())
        .extracting(cap -> cap.getService().getType())
        .containsExactly(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS);
    await()
        .atMost(T)
        .until(() -> id.probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
    NodeGetInfoResponse info = node("k1").nodeGetInfo(NodeGetInfoRequest.getDefaultInstance());
    assertThat(info.getNodeId()).isEqualTo("k1");
    assertThat(info.getMaxVolumesPerNode()).isEqualTo(64);
    assertThat(info.getAccessibleTopology().getSegmentsMap())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                CsiNames.TOPOLOGY_PREFIX + "region",
                "eu",
                CsiNames.TOPOLOGY_PREFIX + "zone",
                "z1",
                CsiNames.TOPOLOGY_PREFIX + "rack",
                "r1",
                CsiNames.TOPOLOGY_NODE,
                "k1"));
    assertThat(
            node("k1")
                .nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList())
        .extracting(cap -> cap.getRpc().getType())
        .containsExactlyInAnyOrder(
            NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
            NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
            NodeServiceCapability.RPC.Type.EXPAND_VOLUME,
            NodeServiceCapability.RPC.Type.VOLUME_CONDITION);
  }

  @Test
  @Order(2)
  void badInputGetsTheSpecsCodesAndChangesNothing() throws Exception {
    String vol = c.claim("badinput", "apps", "16Mi", "SERVICE", "STANDARD", 2, "STRONG");
    Path staging = Files.createDirectories(dir.resolve("bad-staging"));
    VolumeCapability ext4 = mount("", Mode.SINGLE_NODE_WRITER);
    NodeGrpc.NodeBlockingStub n = node("k2");
    assertStatus(
        () -> n.nodeStageVolume(stage("", staging, ext4)),
        Status.Code.INVALID_ARGUMENT,
        "volume_id");
    assertStatus(
        () ->
            n.nodeStageVolume(
                NodeStageVolumeRequest.newBuilder()
                    .setVolumeId(vol)
                    .setVolumeCapability(ext4)
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "staging_target_path");
    assertStatus(
        () ->
            n.nodeStageVolume(
                NodeStageVolumeRequest.newBuilder()
                    .setVolumeId(vol)
                    .setStagingTargetPath(staging.toString())
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_capability");
    assertStatus(
        () ->
            n.nodeStageVolume(
                stage(vol, staging, ext4).toBuilder().setStagingTargetPath("rel/dir").build()),
        Status.Code.INVALID_ARGUMENT,
        "not an absolute path");
    assertStatus(
        () ->
            n.nodeStageVolume(
                stage(vol, staging, ext4).toBuilder()
                    .setStagingTargetPath(staging + "/../x")
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "'..'");
    assertStatus(
        () -> n.nodeStageVolume(stage(vol, staging, mount("btrfs", Mode.SINGLE_NODE_WRITER))),
        Status.Code.INVALID_ARGUMENT,
        "fs_type 'btrfs'");
    assertStatus(
        () -> n.nodeStageVolume(stage(vol, staging, mount("ext4", Mode.MULTI_NODE_MULTI_WRITER))),
        Status.Code.INVALID_ARGUMENT,
        "MULTI_NODE_MULTI_WRITER");
    // Not attached to k2: the node's own trust gate refuses.
    assertStatus(
        () -> n.nodeStageVolume(stage(vol, staging, ext4)),
        Status.Code.FAILED_PRECONDITION,
        "volume " + vol + " is not published to node k2 (ControllerPublishVolume first)");
    // Attached, then detached: the refusal says how it ended.
    c.attached("k2", "badinput", false);
    assertThat(c.detach("k2", "badinput")).startsWith("detach ok");
    await()
        .atMost(T)
        .untilAsserted(
            () ->
                assertStatus(
                    () -> n.nodeStageVolume(stage(vol, staging, ext4)),
                    Status.Code.FAILED_PRECONDITION,
                    "cannot be staged on node k2: detached: "));
    Path target = dir.resolve("bad-target");
    assertStatus(
        () -> n.nodePublishVolume(publish(vol, staging, target, ext4, false)),
        Status.Code.FAILED_PRECONDITION,
        "is not staged at");
    assertStatus(
        () ->
            n.nodePublishVolume(
                publish(vol, staging, target, ext4, false).toBuilder()
                    .clearStagingTargetPath()
                    .build()),
        Status.Code.FAILED_PRECONDITION,
        "staging_target_path is required");
    assertStatus(
        () ->
            n.nodePublishVolume(
                publish(vol, staging, target, ext4, false).toBuilder()
                    .clearVolumeCapability()
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_capability");
    assertStatus(
        () ->
            n.nodeGetVolumeStats(
                NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId(vol)
                    .setVolumePath(staging.toString())
                    .build()),
        Status.Code.NOT_FOUND,
        "is not staged or published");
    assertStatus(
        () -> n.nodeGetVolumeStats(NodeGetVolumeStatsRequest.newBuilder().setVolumeId(vol).build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_path");
    assertStatus(
        () ->
            n.nodeExpandVolume(
                NodeExpandVolumeRequest.newBuilder()
                    .setVolumeId("fake-vol-id")
                    .setVolumePath("some/path")
                    .build()),
        Status.Code.NOT_FOUND,
        "is not staged or published");
    // Unstaging and unpublishing what is not there is done already.
    unstage("k2", vol, staging);
    assertThat(Files.exists(target)).isFalse();
    assertThat(mountsUnder(dir)).isEmpty();
  }

  @Test
  @Order(3)
  void ext4StagedPublishedSurvivesAnAgentKillAndUnstagesWithoutATrace() throws Exception {
    String vol = c.claim("fs", "apps", "64Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("k1", "fs", false);
    Path staging = Files.createDirectories(dir.resolve("fs-staging"));
    Path target = dir.resolve("pods/p1/volumes/fs");
    Path readOnly = dir.resolve("pods/p2/volumes/fs");
    VolumeCapability cap = mount("ext4", Mode.SINGLE_NODE_WRITER);
    NodeGrpc.NodeBlockingStub n = node("k1");

    n.nodeStageVolume(stage(vol, staging, cap));
    n.nodeStageVolume(stage(vol, staging, cap)); // idempotent
    assertThat(Mounts.at(staging)).as("staging mount").isNotNull();
    assertThat(Mounts.at(staging).fsType()).isEqualTo("ext4");
    assertStatus(
        () -> n.nodeStageVolume(stage(vol, dir.resolve("elsewhere"), cap)),
        Status.Code.ALREADY_EXISTS,
        "is staged at " + staging);
    assertStatus(
        () -> n.nodeStageVolume(stage(vol, staging, mount("ext4", Mode.SINGLE_NODE_READER_ONLY))),
        Status.Code.ALREADY_EXISTS,
        "another volume capability");

    n.nodePublishVolume(publish(vol, staging, target, cap, false));
    n.nodePublishVolume(publish(vol, staging, target, cap, false)); // idempotent
    assertStatus(
        () -> n.nodePublishVolume(publish(vol, staging, target, cap, true)),
        Status.Code.ALREADY_EXISTS,
        "published with other options");
    Map<String, String> files = writeTree(target, "before", 40);
    n.nodePublishVolume(publish(vol, staging, readOnly, cap, true));
    assertThat(readOnly.resolve("before-0.txt")).hasContent(files.get("before-0.txt"));
    assertThatThrownBy(() -> Files.writeString(readOnly.resolve("nope.txt"), "x"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Read-only file system");

    NodeGetVolumeStatsResponse stats =
        n.nodeGetVolumeStats(
            NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId(vol)
                .setVolumePath(target.toString())
                .build());
    assertThat(stats.getVolumeCondition().getAbnormal()).isFalse();
    assertThat(stats.getVolumeCondition().getMessage()).startsWith("nbdfuse+loop /dev/loop");
    VolumeUsage bytes = usage(stats, VolumeUsage.Unit.BYTES);
    assertThat(bytes.getTotal()).isBetween(40L << 20, 64L << 20);
    assertThat(bytes.getUsed()).isPositive();
    assertThat(usage(stats, VolumeUsage.Unit.INODES).getUsed()).isGreaterThanOrEqualTo(40);
    // The device is as large as the volume: a larger one is for the next stage.
    assertStatus(
        () ->
            n.nodeExpandVolume(
                NodeExpandVolumeRequest.newBuilder()
                    .setVolumeId(vol)
                    .setVolumePath(target.toString())
                    .setCapacityRange(
                        io.mycnet.storage.csi.v1.CapacityRange.newBuilder()
                            .setRequiredBytes(128L << 20))
                    .build()),
        Status.Code.FAILED_PRECONDITION,
        "grows at the next stage");
    assertThat(
            n.nodeExpandVolume(
                    NodeExpandVolumeRequest.newBuilder()
                        .setVolumeId(vol)
                        .setVolumePath(target.toString())
                        .build())
                .getCapacityBytes())
        .isEqualTo(64L << 20);

    // The agent dies with the volume staged and published; it comes back and serves it again.
    c.dp.agents.get("k1").kill();
    channels.remove("k1").shutdownNow();
    c.dp.restart("k1");
    assertThat(sha(target, files)).isTrue();
    Map<String, String> after = writeTree(target, "after", 10);
    assertThat(sha(target, after)).isTrue();
    NodeGetVolumeStatsResponse again =
        node("k1")
            .nodeGetVolumeStats(
                NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId(vol)
                    .setVolumePath(staging.toString())
                    .build());
    assertThat(again.getVolumeCondition().getAbnormal())
        .as(again.getVolumeCondition().getMessage())
        .isFalse();

    String loop =
        again.getVolumeCondition().getMessage().replaceAll("^nbdfuse\\+loop (\\S+):.*", "$1");
    assertStatus(
        () -> unstage("k1", vol, staging),
        Status.Code.FAILED_PRECONDITION,
        "is still published at");
    unpublish("k1", vol, readOnly);
    unstage("k1", vol, dir.resolve("elsewhere")); // not staged there: OK, nothing undone
    assertThat(Mounts.at(staging)).as("still staged").isNotNull();
    unpublish("k1", vol, target);
    unpublish("k1", vol, target); // idempotent
    assertThat(target).doesNotExist();
    unstage("k1", vol, staging);
    unstage("k1", vol, staging); // idempotent
    assertThat(mountsUnder(dir)).isEmpty();
    assertThat(c.ok(T, "losetup", "-a").out()).doesNotContain(dir.toString());
    assertThat(nbdfuseUnder(dir)).isEmpty();
    assertThat(Files.exists(Path.of("/sys/block/" + Path.of(loop).getFileName() + "/loop")))
        .as("loop device %s detached", loop)
        .isFalse();

    // Staged again: the same files (the file system is found, not made again).
    node("k1").nodeStageVolume(stage(vol, staging, cap));
    node("k1").nodePublishVolume(publish(vol, staging, target, cap, false));
    assertThat(sha(target, files)).isTrue();
    unpublish("k1", vol, target);
    unstage("k1", vol, staging);
    assertThat(mountsUnder(dir)).isEmpty();
  }

  @Test
  @Order(4)
  void aRawBlockVolumeIsTheDeviceBoundOnTheTarget() throws Exception {
    String vol = c.claim("raw", "apps", "32Mi", "SERVICE", "STANDARD", 2, "STRONG");
    c.attached("k3", "raw", false);
    Path staging = Files.createDirectories(dir.resolve("raw-staging"));
    Path target = dir.resolve("pods/p3/dev/raw");
    NodeGrpc.NodeBlockingStub n = node("k3");
    n.nodeStageVolume(stage(vol, staging, block()));
    n.nodeStageVolume(stage(vol, staging, block()));
    assertThat(Mounts.at(staging)).as("nothing mounted on a block volume's staging path").isNull();
    assertStatus(
        () ->
            n.nodePublishVolume(
                publish(vol, staging, target, mount("", Mode.SINGLE_NODE_WRITER), false)),
        Status.Code.INVALID_ARGUMENT,
        "staged for block access");
    n.nodePublishVolume(publish(vol, staging, target, block(), false));
    n.nodePublishVolume(publish(vol, staging, target, block(), false));
    byte[] data = new byte[1 << 20];
    new Random(7).nextBytes(data);
    try (RandomAccessFile f = new RandomAccessFile(target.toFile(), "rws")) {
      assertThat(f.length()).isEqualTo(32L << 20);
      f.seek(4 << 20);
      f.write(data);
    }
    NodeGetVolumeStatsResponse stats =
        n.nodeGetVolumeStats(
            NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId(vol)
                .setVolumePath(target.toString())
                .build());
    assertThat(usage(stats, VolumeUsage.Unit.BYTES).getTotal()).isEqualTo(32L << 20);
    unpublish("k3", vol, target);
    assertThat(target).doesNotExist();
    unstage("k3", vol, staging);
    // Through a new device stack, the bytes are there.
    n.nodeStageVolume(stage(vol, staging, block()));
    n.nodePublishVolume(publish(vol, staging, target, block(), true));
    byte[] back = new byte[data.length];
    try (RandomAccessFile f = new RandomAccessFile(target.toFile(), "r")) {
      f.seek(4 << 20);
      f.readFully(back);
    }
    assertThat(Arrays.equals(back, data)).isTrue();
    assertThatThrownBy(
            () -> {
              try (RandomAccessFile f = new RandomAccessFile(target.toFile(), "rw")) {
                f.write(1);
              }
            })
        .isInstanceOf(IOException.class);
    unpublish("k3", vol, target);
    unstage("k3", vol, staging);
    assertThat(mountsUnder(dir)).isEmpty();
    assertThat(nbdfuseUnder(dir)).isEmpty();
  }

  // ---- helpers ----

  static VolumeUsage usage(NodeGetVolumeStatsResponse r, VolumeUsage.Unit unit) {
    return r.getUsageList().stream().filter(u -> u.getUnit() == unit).findFirst().orElseThrow();
  }

  /** Writes {@code count} files of random text (synced); returns name -> content. */
  static Map<String, String> writeTree(Path root, String prefix, int count) throws IOException {
    Map<String, String> out = new HashMap<>();
    Random r = new Random(prefix.hashCode());
    for (int i = 0; i < count; i++) {
      byte[] b = new byte[1000 + r.nextInt(20000)];
      for (int j = 0; j < b.length; j++) {
        b[j] = (byte) ('a' + r.nextInt(26));
      }
      String name = prefix + "-" + i + ".txt";
      String content = new String(b, StandardCharsets.US_ASCII);
      Files.writeString(root.resolve(name), content);
      out.put(name, content);
    }
    try (var ch = java.nio.channels.FileChannel.open(root)) {
      ch.force(true);
    }
    c.ok(T, "sync", "-f", root.toString());
    return out;
  }

  static boolean sha(Path root, Map<String, String> files) throws IOException {
    for (Map.Entry<String, String> e : files.entrySet()) {
      assertThat(Files.readString(root.resolve(e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
    }
    return true;
  }

  /** The mount points under {@code root}, deepest last. */
  static List<Path> mountsUnder(Path root) throws IOException {
    List<Path> out = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      Path p = Path.of(f[4].replace("\\040", " "));
      if (p.startsWith(root.toRealPath())) {
        out.add(p);
      }
    }
    return out;
  }

  /** The nbdfuse processes whose command line names a path under {@code root}. */
  static List<ProcessHandle> nbdfuseUnder(Path root) {
    try (Stream<ProcessHandle> all = ProcessHandle.allProcesses()) {
      return all.filter(
              p ->
                  p.info().commandLine().orElse("").contains("nbdfuse")
                      && p.info().commandLine().orElse("").contains(root.toString()))
          .toList();
    }
  }

  /** Whatever a failed test left: mounts under dir (deepest first), loop devices, nbdfuse. */
  static void cleanUpMountsAndDevices() throws IOException {
    if (c == null) {
      return;
    }
    List<Path> mounts = mountsUnder(dir);
    for (int i = mounts.size() - 1; i >= 0; i--) {
      Path m = mounts.get(i);
      if (m.toString().contains("/csi/fuse/")) {
        continue;
      }
      c.run(T, "umount", "-l", m.toString());
    }
    for (String line : c.run(T, "losetup", "-a").out().split("\n")) {
      if (line.contains(dir.toString())) {
        c.run(T, "losetup", "-d", line.substring(0, line.indexOf(':')));
      }
    }
    for (Path m : mountsUnder(dir)) {
      c.run(T, "umount", "-l", m.toString());
    }
    for (ProcessHandle p : nbdfuseUnder(dir)) {
      ChildProcess.kill(p);
    }
  }

  /** /proc/self/mountinfo, for the assertions. */
  static final class Mounts {
    record Mount(Path point, String fsType) {}

    static Mount at(Path p) throws IOException {
      Mount found = null;
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String[] f = line.split(" ");
        int sep = Arrays.asList(f).indexOf("-");
        if (Path.of(f[4]).equals(p.toRealPath())) {
          found = new Mount(p, f[sep + 1]);
        }
      }
      return found;
    }
  }
}
