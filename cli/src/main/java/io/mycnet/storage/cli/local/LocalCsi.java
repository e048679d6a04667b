package io.mycnet.storage.cli.local;

import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.cli.CliException;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeGetVolumeStatsRequest;
import io.mycnet.storage.csi.v1.NodeGetVolumeStatsResponse;
import io.mycnet.storage.csi.v1.NodeGrpc;
import io.mycnet.storage.csi.v1.NodePublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeStageVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.NodeUnstageVolumeRequest;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeUsage;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Local mode as a CSI client: {@code mycnet volume mount} and {@code unmount} send the RPCs the
 * kubelet and the external-attacher send in a cluster, on the sockets local mode serves — the
 * control plane's controller ({@link LocalState#csiControllerSocket}) and each agent's node plugin
 * ({@link LocalState#csiSocket}). A mount is ControllerPublishVolume, NodeStageVolume (staging path
 * {@link LocalState#csiStagingPath}) and NodePublishVolume onto the directory; an unmount undoes
 * them in reverse. Each mount is recorded durably in {@link LocalState#csiMountRecords} before the
 * first RPC, so that {@code unmount} (and {@code local down}) find the volume and the node of a
 * directory, also after a mount that failed half-way.
 */
public final class LocalCsi {
  /** Codes the sidecars retry: a standby or starting server, a concurrent operation. */
  private static final Set<Status.Code> TRANSIENT =
      Set.of(Status.Code.UNAVAILABLE, Status.Code.ABORTED);

  /**
   * How long NodeStageVolume is retried while the node refuses it as not published: the attachment
   * reaches the agent through its command queue, a moment after ControllerPublishVolume answered.
   */
  static final Duration ATTACHMENT_ARRIVAL = Duration.ofSeconds(15);

  private final LocalState state;

  public LocalCsi(LocalState state) {
    this.state = state;
  }

  /** What to mount: the volume, the node, the directory and how. */
  public record MountRequest(
      String volumeId,
      String claim,
      String classification,
      String node,
      Path dir,
      String fsType,
      boolean readOnly,
      boolean block) {}

  /** One mount as recorded under {@code csi/mounts/}. */
  public record Mount(
      Path dir,
      String volumeId,
      String claim,
      String node,
      Path staging,
      String fsType,
      boolean readOnly,
      boolean block) {
    Properties toProperties() {
      Properties p = new Properties();
      p.setProperty("dir", dir.toString());
      p.setProperty("volume", volumeId);
      p.setProperty("claim", claim);
      p.setProperty("node", node);
      p.setProperty("staging", staging.toString());
      p.setProperty("fs", fsType);
      p.setProperty("readOnly", String.valueOf(readOnly));
      p.setProperty("block", String.valueOf(block));
      return p;
    }

    static Mount of(Properties p, Path file) {
      for (String k : List.of("dir", "volume", "claim", "node", "staging")) {
        if (p.getProperty(k) == null || p.getProperty(k).isBlank()) {
          throw new CliException("mount record " + file + " lacks '" + k + "'; remove it by hand");
        }
      }
      return new Mount(
          Path.of(p.getProperty("dir")),
          p.getProperty("volume"),
          p.getProperty("claim"),
          p.getProperty("node"),
          Path.of(p.getProperty("staging")),
          p.getProperty("fs", ""),
          Boolean.parseBoolean(p.getProperty("readOnly")),
          Boolean.parseBoolean(p.getProperty("block")));
    }

    /** How the volume is used there, in words. */
    public String mode() {
      return (block ? "raw block" : fsType) + (readOnly ? ", read-only" : ", read-write");
    }
  }

  /** The outcome of a mount: what it did, in lines, and the volume's stats on the node. */
  public record Mounted(Mount mount, List<String> lines) {}

  /** The normalized absolute form of a directory argument. */
  public static Path target(Path dir) {
    return dir.toAbsolutePath().normalize();
  }

  /** The record file of a mount directory: a hash of its path, so that any path fits. */
  Path recordFile(Path dir) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest(target(dir).toString().getBytes(StandardCharsets.UTF_8));
      return state.csiMountRecords().resolve(HexFormat.of().formatHex(h, 0, 12) + ".properties");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The mount recorded for {@code dir}, if any. */
  public Optional<Mount> recorded(Path dir) {
    Path f = recordFile(dir);
    if (!Files.isRegularFile(f)) {
      return Optional.empty();
    }
    return Optional.of(read(f));
  }

  /** Every recorded mount, in the order of their directories. */
  public List<Mount> mounts() {
    Path dir = state.csiMountRecords();
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<Mount> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.toString().endsWith(".properties")).toList()) {
        out.add(read(f));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
    out.sort(java.util.Comparator.comparing(m -> m.dir().toString()));
    return out;
  }

  private static Mount read(Path f) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(f)) {
      p.load(r);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the mount record " + f, e);
    }
    return Mount.of(p, f);
  }

  private void write(Mount m) {
    StringWriter w = new StringWriter();
    try {
      m.toProperties().store(w, "mycnet volume mount: " + m.dir());
      DurableFiles.write(recordFile(m.dir()), w.toString(), true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the mount record of " + m.dir(), e);
    }
  }

  private void delete(Mount m) {
    try {
      Files.deleteIfExists(recordFile(m.dir()));
      DurableFiles.syncDirectory(state.csiMountRecords());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the mount record of " + m.dir(), e);
    }
  }

  /** The controller's socket, as the control plane's ready line named it. */
  Path controllerSocket() {
    String s = state.properties().getProperty("control-plane.csi");
    if (s == null || s.isBlank()) {
      state.require("control-plane.session");
      throw new CliException(
          "the control plane named no CSI controller socket when it started; restart local mode"
              + " (mycnet local down, mycnet local up)");
    }
    return Path.of(s);
  }

  /** The node plugin's socket of {@code node}, as its agent's ready line named it. */
  public Path nodeSocket(String node) {
    String s = state.properties().getProperty("node." + node + ".csi.socket");
    if (s == null || s.isBlank()) {
      state.require("control-plane.session");
      throw new CliException(
          "the agent of "
              + node
              + " named no CSI socket when it started; restart it: mycnet node restart "
              + node);
    }
    return Path.of(s);
  }

  /** The capability a mount asks for: mount (with the file system) or block, and its mode. */
  static VolumeCapability capability(String fsType, boolean readOnly, boolean block) {
    VolumeCapability.Builder b =
        VolumeCapability.newBuilder()
            .setAccessMode(
                VolumeCapability.AccessMode.newBuilder()
                    .setMode(
                        readOnly
                            ? VolumeCapability.AccessMode.Mode.MULTI_NODE_READER_ONLY
                            : VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER));
    if (block) {
      b.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
    } else {
      b.setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType));
    }
    return b.build();
  }

  /**
   * Mounts a volume as the kubelet would: publish on the controller, stage and publish on the node,
   * then the volume's stats. Idempotent: a directory already recorded for the same volume and node
   * goes through the same RPCs again (each is idempotent); one recorded for another volume or node
   * is refused. When a step fails, what the earlier steps did is undone and the record removed, so
   * a refused mount leaves nothing behind; the failure is a {@link CliException} naming the RPC,
   * its status code and the server's message.
   */
  public Mounted mount(MountRequest r, Duration timeout) {
    Path dir = target(r.dir());
    Optional<Mount> before = recorded(dir);
    if (before.isPresent()) {
      Mount b = before.get();
      if (!b.volumeId().equals(r.volumeId()) || !b.node().equals(r.node())) {
        throw new CliException(
            dir
                + " already has volume "
                + b.volumeId()
                + " of node "
                + b.node()
                + " mounted; unmount it first: mycnet volume unmount "
                + dir,
            2);
      }
      if (b.block() != r.block() || b.readOnly() != r.readOnly()) {
        throw new CliException(
            dir
                + " already has volume "
                + b.volumeId()
                + " mounted as "
                + b.mode()
                + "; unmount it first to mount it otherwise",
            2);
      }
    }
    Mount m =
        new Mount(
            dir,
            r.volumeId(),
            r.claim(),
            r.node(),
            state.csiStagingPath(r.node(), r.volumeId()),
            r.block() ? "" : r.fsType(),
            r.readOnly(),
            r.block());
    long deadline = System.nanoTime() + timeout.toNanos();
    List<String> lines = new ArrayList<>();
    VolumeCapability cap = capability(m.fsType(), m.readOnly(), m.block());
    Map<String, String> volumeContext = new LinkedHashMap<>();
    volumeContext.put(CsiNames.CONTEXT_CLAIM, r.claim());
    volumeContext.put(CsiNames.CONTEXT_CLASSIFICATION, r.classification());
    write(m);
    ManagedChannel controller = UnixSocketGrpc.channel(controllerSocket());
    ManagedChannel node = null;
    boolean published = false;
    boolean staged = false;
    try {
      ControllerGrpc.ControllerBlockingStub cs = ControllerGrpc.newBlockingStub(controller);
      ControllerPublishVolumeResponse pub =
          call(
              "ControllerPublishVolume of " + m.volumeId() + " to " + m.node(),
              deadline,
              Duration.ZERO,
              s ->
                  cs.withDeadline(s)
                      .controllerPublishVolume(
                          ControllerPublishVolumeRequest.newBuilder()
                              .setVolumeId(m.volumeId())
                              .setNodeId(m.node())
                              .setVolumeCapability(cap)
                              .setReadonly(m.readOnly())
                              .putAllVolumeContext(volumeContext)
                              .build()));
      published = true;
      Map<String, String> publishContext = pub.getPublishContextMap();
      lines.add(
          "published "
              + m.volumeId()
              + " to "
              + m.node()
              + " (ControllerPublishVolume: "
              + ("true".equals(publishContext.get(CsiNames.PUBLISH_READ_ONLY))
                  ? "read-only"
                  : "read-write")
              + " attachment, generation "
              + publishContext.getOrDefault(CsiNames.PUBLISH_GENERATION, "?")
              + ")");
      node = UnixSocketGrpc.channel(nodeSocket(m.node()));
      NodeGrpc.NodeBlockingStub ns = NodeGrpc.newBlockingStub(node);
      prepareStaging(m.staging());
      call(
          "NodeStageVolume of " + m.volumeId() + " on " + m.node(),
          deadline,
          ATTACHMENT_ARRIVAL,
          s ->
              ns.withDeadline(s)
                  .nodeStageVolume(
                      NodeStageVolumeRequest.newBuilder()
                          .setVolumeId(m.volumeId())
                          .setStagingTargetPath(m.staging().toString())
                          .setVolumeCapability(cap)
                          .putAllPublishContext(publishContext)
                          .putAllVolumeContext(volumeContext)
                          .build()));
      staged = true;
      lines.add(
          "staged at "
              + m.staging()
              + " (NodeStageVolume: "
              + (m.block() ? "raw block" : m.fsType() + ", formatted when blank")
              + ")");
      call(
          "NodePublishVolume of " + m.volumeId() + " on " + m.node(),
          deadline,
          Duration.ZERO,
          s ->
              ns.withDeadline(s)
                  .nodePublishVolume(
                      NodePublishVolumeRequest.newBuilder()
                          .setVolumeId(m.volumeId())
                          .setStagingTargetPath(m.staging().toString())
                          .setTargetPath(dir.toString())
                          .setVolumeCapability(cap)
                          .setReadonly(m.readOnly())
                          .putAllPublishContext(publishContext)
                          .putAllVolumeContext(volumeContext)
                          .build()));
      lines.add(
          (m.block() ? "published the device at " : "mounted at ")
              + dir
              + " (NodePublishVolume: "
              + m.mode()
              + ")");
      lines.addAll(stats(ns, m, deadline));
      return new Mounted(m, lines);
    } catch (RuntimeException e) {
      // Undo what this mount did (a mount that was there before stays as it was).
      if (before.isEmpty()) {
        undo(m, node, controller, staged, published);
      }
      throw e;
    } finally {
      shutdown(node);
      shutdown(controller);
    }
  }

  private void undo(
      Mount m, ManagedChannel node, ManagedChannel controller, boolean staged, boolean published) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    try {
      if (staged && !otherOnNode(m)) {
        NodeGrpc.NodeBlockingStub ns = NodeGrpc.newBlockingStub(node);
        call(
            "NodeUnstageVolume",
            deadline,
            Duration.ZERO,
            s ->
                ns.withDeadline(s)
                    .nodeUnstageVolume(
                        NodeUnstageVolumeRequest.newBuilder()
                            .setVolumeId(m.volumeId())
                            .setStagingTargetPath(m.staging().toString())
                            .build()));
      }
      if (published && !otherOnNode(m)) {
        ControllerGrpc.ControllerBlockingStub cs = ControllerGrpc.newBlockingStub(controller);
        call(
            "ControllerUnpublishVolume",
            deadline,
            Duration.ZERO,
            s ->
                cs.withDeadline(s)
                    .controllerUnpublishVolume(
                        ControllerUnpublishVolumeRequest.newBuilder()
                            .setVolumeId(m.volumeId())
                            .setNodeId(m.node())
                            .build()));
      }
      delete(m);
    } catch (RuntimeException e) {
      // the record stays: mycnet volume unmount DIR finishes the undo
    }
  }

  /** The volume's usage and condition on the node (NodeGetVolumeStats), in lines. */
  private List<String> stats(NodeGrpc.NodeBlockingStub ns, Mount m, long deadline) {
    List<String> lines = new ArrayList<>();
    NodeGetVolumeStatsResponse st;
    try {
      st =
          call(
              "NodeGetVolumeStats of " + m.volumeId() + " on " + m.node(),
              deadline,
              Duration.ZERO,
              s ->
                  ns.withDeadline(s)
                      .nodeGetVolumeStats(
                          NodeGetVolumeStatsRequest.newBuilder()
                              .setVolumeId(m.volumeId())
                              .setVolumePath(m.dir().toString())
                              .setStagingTargetPath(m.staging().toString())
                              .build()));
    } catch (CliException e) {
      lines.add("stats: " + e.getMessage());
      return lines;
    }
    if (st.hasVolumeCondition()) {
      lines.add(
          "device: "
              + st.getVolumeCondition().getMessage()
              + (st.getVolumeCondition().getAbnormal() ? " (ABNORMAL)" : ""));
    }
    for (VolumeUsage u : st.getUsageList()) {
      if (u.getUnit() == VolumeUsage.Unit.BYTES && m.block()) {
        lines.add("size: " + bytes(u.getTotal()));
      } else if (u.getUnit() == VolumeUsage.Unit.BYTES) {
        lines.add(
            String.format(
                java.util.Locale.ROOT,
                "usage: %s used, %s available, %s total",
                bytes(u.getUsed()),
                bytes(u.getAvailable()),
                bytes(u.getTotal())));
      } else if (u.getUnit() == VolumeUsage.Unit.INODES) {
        lines.add(
            "inodes: " + u.getUsed() + " used, " + u.getAvailable() + " free of " + u.getTotal());
      }
    }
    return lines;
  }

  /** The outcome of an unmount, in lines; empty when nothing was recorded for the directory. */
  public List<String> unmount(Path dirArgument, Duration timeout) {
    Path dir = target(dirArgument);
    Optional<Mount> recorded = recorded(dir);
    if (recorded.isEmpty()) {
      return List.of();
    }
    Mount m = recorded.get();
    long deadline = System.nanoTime() + timeout.toNanos();
    List<String> lines = new ArrayList<>();
    boolean others = otherOnNode(m);
    ManagedChannel node = UnixSocketGrpc.channel(nodeSocket(m.node()));
    try {
      NodeGrpc.NodeBlockingStub ns = NodeGrpc.newBlockingStub(node);
      call(
          "NodeUnpublishVolume of " + m.volumeId() + " on " + m.node(),
          deadline,
          Duration.ZERO,
          s ->
              ns.withDeadline(s)
                  .nodeUnpublishVolume(
                      NodeUnpublishVolumeRequest.newBuilder()
                          .setVolumeId(m.volumeId())
                          .setTargetPath(dir.toString())
                          .build()));
      lines.add("unmounted " + dir + " (NodeUnpublishVolume)");
      if (others) {
        lines.add(
            "kept "
                + m.volumeId()
                + " staged on "
                + m.node()
                + ": another directory of this node still uses it");
      } else {
        call(
            "NodeUnstageVolume of " + m.volumeId() + " on " + m.node(),
            deadline,
            Duration.ZERO,
            s ->
                ns.withDeadline(s)
                    .nodeUnstageVolume(
                        NodeUnstageVolumeRequest.newBuilder()
                            .setVolumeId(m.volumeId())
                            .setStagingTargetPath(m.staging().toString())
                            .build()));
        lines.add("unstaged " + m.staging() + " (NodeUnstageVolume)");
      }
    } finally {
      shutdown(node);
    }
    if (!others) {
      ManagedChannel controller = UnixSocketGrpc.channel(controllerSocket());
      try {
        ControllerGrpc.ControllerBlockingStub cs = ControllerGrpc.newBlockingStub(controller);
        call(
            "ControllerUnpublishVolume of " + m.volumeId() + " from " + m.node(),
            deadline,
            Duration.ZERO,
            s ->
                cs.withDeadline(s)
                    .controllerUnpublishVolume(
                        ControllerUnpublishVolumeRequest.newBuilder()
                            .setVolumeId(m.volumeId())
                            .setNodeId(m.node())
                            .build()));
        lines.add(
            "unpublished " + m.volumeId() + " from " + m.node() + " (ControllerUnpublishVolume)");
      } finally {
        shutdown(controller);
      }
      try {
        Files.deleteIfExists(m.staging());
      } catch (IOException e) {
        // a staging directory the node plugin left: harmless, the next stage reuses it
      }
    }
    delete(m);
    return lines;
  }

  /**
   * Unmounts every recorded mount (for {@code local down}, before the agents stop): each failure is
   * printed and its record kept, the others go on. Returns the directories that stay mounted.
   */
  public List<Path> unmountAll(PrintStream out, Duration timeout) {
    List<Path> left = new ArrayList<>();
    for (Mount m : mounts()) {
      try {
        unmount(m.dir(), timeout);
        out.println("unmounted " + m.dir() + " (" + m.volumeId() + " on " + m.node() + ")");
      } catch (RuntimeException e) {
        left.add(m.dir());
        out.println(
            "could not unmount "
                + m.dir()
                + " ("
                + m.volumeId()
                + " on "
                + m.node()
                + "): "
                + e.getMessage());
      }
    }
    return left;
  }

  /** Whether another recorded directory uses the same volume on the same node. */
  private boolean otherOnNode(Mount m) {
    return mounts().stream()
        .anyMatch(
            o ->
                !o.dir().equals(m.dir())
                    && o.volumeId().equals(m.volumeId())
                    && o.node().equals(m.node()));
  }

  /** The CO makes the staging directory (CSI spec: NodeStageVolume's staging_target_path). */
  private static void prepareStaging(Path staging) {
    try {
      Files.createDirectories(staging);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + staging, e);
    }
  }

  /**
   * One RPC, retried while it answers a transient code (and, for {@code precondition} after its
   * first attempt, FAILED_PRECONDITION) until {@code deadlineNanos}; a final refusal is a {@link
   * CliException} naming the RPC, the code and the server's message.
   */
  static <T> T call(
      String what, long deadlineNanos, Duration precondition, Function<Deadline, T> rpc) {
    long preconditionUntil = System.nanoTime() + precondition.toNanos();
    StatusRuntimeException last = null;
    while (true) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) {
        throw refusal(what, last, true);
      }
      try {
        return rpc.apply(Deadline.after(left, TimeUnit.NANOSECONDS));
      } catch (StatusRuntimeException e) {
        last = e;
        Status.Code code = e.getStatus().getCode();
        boolean retry =
            TRANSIENT.contains(code)
                || (code == Status.Code.FAILED_PRECONDITION
                    && System.nanoTime() < preconditionUntil);
        if (!retry) {
          throw refusal(what, e, code == Status.Code.DEADLINE_EXCEEDED);
        }
      }
      LocalProcesses.sleep(500);
    }
  }

  private static CliException refusal(String what, StatusRuntimeException e, boolean timedOut) {
    if (e == null) {
      return new CliException(what + ": timed out (--timeout)");
    }
    return new CliException(
        what
            + (timedOut ? " timed out (--timeout); last answer " : " refused: ")
            + e.getStatus().getCode()
            + ": "
            + e.getStatus().getDescription());
  }

  private static void shutdown(ManagedChannel ch) {
    if (ch == null) {
      return;
    }
    ch.shutdownNow();
    try {
      ch.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static String bytes(long b) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = b;
    int i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return i == 0 ? b + " B" : String.format(java.util.Locale.ROOT, "%.1f %s", v, units[i]);
  }

  /** The mount points at or below {@code dir} (from {@code /proc/self/mountinfo}). */
  public static List<Path> mountsUnder(Path dir) {
    Path d = target(dir);
    List<Path> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String[] f = line.split(" ");
        if (f.length > 4) {
          Path mp = Path.of(unescape(f[4]));
          if (mp.startsWith(d)) {
            out.add(mp);
          }
        }
      }
    } catch (IOException e) {
      // no /proc: nothing known to be mounted
    }
    return out;
  }

  /** mountinfo escapes space, tab, newline and backslash as octal. */
  static String unescape(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length()) {
        try {
          b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
          i += 3;
          continue;
        } catch (NumberFormatException e) {
          // not an escape
        }
      }
      b.append(c);
    }
    return b.toString();
  }
}
