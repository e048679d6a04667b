package io.mycnet.storage.agent.csi;

import com.google.protobuf.InvalidProtocolBufferException;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.csi.v1.VolumeCapability;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable records of what the node plugin staged and published, under {@code <data dir>/csi/}:
 * {@code staged/<volume id>.properties} and {@code published/<hash of the target path>.properties},
 * each written whole (temporary file, fsync, rename, fsync of the directory) so a crash leaves the
 * old record or the new one.
 */
final class NodeRecords {
  private static final Logger LOG = LoggerFactory.getLogger(NodeRecords.class);

  /** How a staged volume's block device is made. */
  enum Stack {
    /** nbdfuse serving the export as a file, a loop device on that file. */
    NBDFUSE_LOOP,
    /** the kernel's nbd driver (nbd-client). */
    KERNEL_NBD
  }

  /**
   * A staged volume.
   *
   * @param device the block device ({@code /dev/loopN} or {@code /dev/nbdN})
   * @param fuseDir nbdfuse's mount point (NBDFUSE_LOOP), else null
   * @param helperPid nbdfuse's or nbd-client's process id, 0 when none
   * @param fsType the file system (mount access), or empty for block access
   */
  record Staged(
      String volumeId,
      Path stagingPath,
      VolumeCapability capability,
      boolean readOnly,
      Stack stack,
      String device,
      Path fuseDir,
      long helperPid,
      String fsType) {
    boolean block() {
      return capability.hasBlock();
    }

    /** The device stack as the logs and the volume condition name it. */
    String describeStack() {
      return stack == Stack.NBDFUSE_LOOP ? "nbdfuse+loop " + device : "kernel nbd " + device;
    }
  }

  /**
   * A published volume: {@code targetPath} is a bind mount of the staged volume; {@code device} is
   * the read-only loop device a read-only block publication binds (a read-only mount does not stop
   * writes to a device node), else empty.
   */
  record Published(
      String volumeId,
      Path targetPath,
      VolumeCapability capability,
      boolean readOnly,
      String device) {}

  private final Path stagedDir;
  private final Path publishedDir;

  NodeRecords(Path csiDir) {
    this.stagedDir = csiDir.resolve("staged");
    this.publishedDir = csiDir.resolve("published");
  }

  void write(Staged s) throws IOException {
    Properties p = new Properties();
    p.setProperty("volume", s.volumeId());
    p.setProperty("staging-path", s.stagingPath().toString());
    p.setProperty("capability", encode(s.capability()));
    p.setProperty("read-only", Boolean.toString(s.readOnly()));
    p.setProperty("stack", s.stack().name());
    p.setProperty("device", s.device());
    p.setProperty("fuse-dir", s.fuseDir() == null ? "" : s.fuseDir().toString());
    p.setProperty("helper-pid", Long.toString(s.helperPid()));
    p.setProperty("fs-type", s.fsType());
    DurableFiles.write(stagedDir.resolve(s.volumeId() + ".properties"), store(p), true);
  }

  void write(Published pub) throws IOException {
    Properties p = new Properties();
    p.setProperty("volume", pub.volumeId());
    p.setProperty("target-path", pub.targetPath().toString());
    p.setProperty("capability", encode(pub.capability()));
    p.setProperty("read-only", Boolean.toString(pub.readOnly()));
    p.setProperty("device", pub.device());
    DurableFiles.write(publishedFile(pub.targetPath()), store(p), true);
  }

  void removeStaged(String volumeId) throws IOException {
    Files.deleteIfExists(stagedDir.resolve(volumeId + ".properties"));
    DurableFiles.syncDirectory(stagedDir);
  }

  void removePublished(Path targetPath) throws IOException {
    Files.deleteIfExists(publishedFile(targetPath));
    DurableFiles.syncDirectory(publishedDir);
  }

  List<Staged> staged() {
    List<Staged> out = new ArrayList<>();
    for (Properties p : read(stagedDir)) {
      try {
        String fuse = p.getProperty("fuse-dir", "");
        out.add(
            new Staged(
                required(p, "volume"),
                Path.of(required(p, "staging-path")),
                decode(required(p, "capability")),
                Boolean.parseBoolean(p.getProperty("read-only")),
                Stack.valueOf(required(p, "stack")),
                required(p, "device"),
                fuse.isEmpty() ? null : Path.of(fuse),
                Long.parseLong(p.getProperty("helper-pid", "0")),
                p.getProperty("fs-type", "")));
      } catch (RuntimeException e) {
        LOG.warn("ignoring a damaged record of a staged volume in {}: {}", stagedDir, e.toString());
      }
    }
    return out;
  }

  List<Published> published() {
    List<Published> out = new ArrayList<>();
    for (Properties p : read(publishedDir)) {
      try {
        out.add(
            new Published(
                required(p, "volume"),
                Path.of(required(p, "target-path")),
                decode(required(p, "capability")),
                Boolean.parseBoolean(p.getProperty("read-only")),
                p.getProperty("device", "")));
      } catch (RuntimeException e) {
        LOG.warn(
            "ignoring a damaged record of a published volume in {}: {}",
            publishedDir,
            e.toString());
      }
    }
    return out;
  }

  private Path publishedFile(Path target) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest(target.toString().getBytes(StandardCharsets.UTF_8));
      return publishedDir.resolve(HexFormat.of().formatHex(h, 0, 16) + ".properties");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<Properties> read(Path dir) {
    List<Properties> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f :
          files.filter(x -> x.getFileName().toString().endsWith(".properties")).toList()) {
        Properties p = new Properties();
        try {
          p.load(new StringReader(Files.readString(f)));
          out.add(p);
        } catch (IOException e) {
          LOG.warn("cannot read {}: {}", f, e.toString());
        }
      }
    } catch (IOException e) {
      LOG.warn("cannot list {}: {}", dir, e.toString());
    }
    return out;
  }

  private static String required(Properties p, String key) {
    String v = p.getProperty(key);
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("no " + key);
    }
    return v;
  }

  private static String store(Properties p) throws IOException {
    StringWriter w = new StringWriter();
    p.store(w, null);
    return w.toString();
  }

  private static String encode(VolumeCapability c) {
    return Base64.getEncoder().encodeToString(c.toByteArray());
  }

  private static VolumeCapability decode(String s) {
    try {
      return VolumeCapability.parseFrom(Base64.getDecoder().decode(s));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("capability: " + e.getMessage(), e);
    }
  }
}
