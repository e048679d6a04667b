package io.mycnet.storage.agent.replica;

import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.MissingReplica;
import io.mycnet.storage.api.v1.RebuildReplica;
import io.mycnet.storage.api.v1.ReplicaInfo;
import io.mycnet.storage.api.v1.ReplicaInventory;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The replicas on this node. A replica is a directory {@code replicas/<volume>/} holding a metadata
 * file {@code replica.meta} (volume id, epoch, size) and the block store ({@link VolumeReplica},
 * encrypted at rest when the agent has {@link NamespaceKeys}).
 *
 * <p>The agent also keeps a manifest ({@code state/replica-manifest}) of the replicas it created by
 * command and has not deleted, so that a replica whose directory disappeared (disk replaced,
 * directory deleted) is reported missing instead of silently forgotten. Replicas found on disk but
 * not in the manifest are reported too; the agent never deletes a replica on its own.
 */
public final class ReplicaStore {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ReplicaStore.class);
  private static final Pattern VOLUME_ID =
      Pattern.compile("[A-Za-z0-9_:@+\\-][A-Za-z0-9._:@+\\-]{0,252}");
  static final String META = "replica.meta";

  private final Path replicasDir;
  private final Path manifestFile;
  private final NamespaceKeys keys;
  private final boolean encryptNew;
  private final Map<String, Long> manifest = new TreeMap<>();
  private final Map<String, ReplicatedVolume> open = new java.util.concurrent.ConcurrentHashMap<>();
  private volatile ReplicatedVolume.Context context;
  private volatile long catchUpMaxBytes = ReplicatedVolume.CATCH_UP_MAX_BYTES;

  /** Wires the data path (peers, reports); volumes opened before stay as they are. */
  public void context(ReplicatedVolume.Context c) {
    this.context = c;
  }

  /**
   * The bytes of forwarded writes a rebuild of any volume here keeps at most (the agent's {@code
   * rebuild-catch-up-max}), for the volumes opened already and those opened later.
   */
  public void catchUpMaxBytes(long bytes) {
    this.catchUpMaxBytes = bytes;
    open.values().forEach(v -> v.catchUpMaxBytes(bytes));
  }

  /**
   * The replicated volume of {@code volumeId}, opened on first use; null when this node holds no
   * replica of it.
   */
  public ReplicatedVolume volume(String volumeId) {
    if (volumeIdProblem(volumeId) != null) {
      return null;
    }
    ReplicatedVolume v = open.get(volumeId);
    if (v != null) {
      return v;
    }
    synchronized (this) {
      v = open.get(volumeId);
      if (v != null) {
        return v;
      }
      try {
        Meta m = readMeta(volumeId);
        if (m == null) {
          return null;
        }
        Path dir = replicasDir.resolve(volumeId);
        v =
            new ReplicatedVolume(
                VolumeReplica.open(volumeId, dir, m.sizeBytes(), keys, encryptNew),
                m.epoch(),
                context);
        v.catchUpMaxBytes(catchUpMaxBytes);
        open.put(volumeId, v);
        return v;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot open the replica of " + volumeId, e);
      }
    }
  }

  /** Every replica held here, opened. */
  public List<ReplicatedVolume> volumes() {
    List<ReplicatedVolume> out = new ArrayList<>();
    for (String id : scan().keySet()) {
      ReplicatedVolume v = volume(id);
      if (v != null) {
        out.add(v);
      }
    }
    return out;
  }

  /** Records a newer epoch in the metadata file (assignments, rebuilds). */
  public synchronized void recordEpoch(String volumeId, long epoch) throws IOException {
    Meta m = readMeta(volumeId);
    if (m != null && m.epoch() < epoch) {
      writeMeta(volumeId, epoch, m.sizeBytes());
    }
  }

  /** The file in a replica's directory holding the rebuild under way, if any. */
  static final String REBUILD = "rebuild.cmd";

  /**
   * Keeps {@code cmd} (durably, in the replica's directory) as the rebuild under way of its
   * replica, so that an agent restarted before the rebuild ended resumes it ({@link
   * #unfinishedRebuilds}) instead of leaving a half-copied replica that the control plane still
   * counts as being rebuilt.
   */
  public synchronized void recordRebuild(RebuildReplica cmd) throws IOException {
    Path dir = replicasDir.resolve(cmd.getVolumeId());
    if (readMeta(cmd.getVolumeId()) == null) {
      throw new IOException("no replica of " + cmd.getVolumeId() + " to rebuild here");
    }
    DurableFiles.write(dir.resolve(REBUILD), cmd.toByteArray(), true);
  }

  /**
   * Forgets the rebuild of {@code volumeId} at {@code epoch} once it ended (complete or given up);
   * a rebuild recorded since at a newer epoch stays.
   */
  public synchronized void clearRebuild(String volumeId, long epoch) {
    Path f = replicasDir.resolve(volumeId).resolve(REBUILD);
    try {
      RebuildReplica recorded = readRebuild(f);
      if (recorded != null && recorded.getEpoch() > epoch) {
        return;
      }
      if (Files.deleteIfExists(f)) {
        DurableFiles.syncDirectory(f.getParent());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot forget the rebuild of " + volumeId, e);
    }
  }

  /**
   * The rebuilds recorded and not ended: to resume when the agent starts. A damaged record (disk
   * corruption: records are written whole and renamed into place) is logged with its file and left
   * there, and its rebuild is not resumed.
   */
  public synchronized List<RebuildReplica> unfinishedRebuilds() {
    List<RebuildReplica> out = new ArrayList<>();
    for (String id : scan().keySet()) {
      Path f = replicasDir.resolve(id).resolve(REBUILD);
      try {
        RebuildReplica c = readRebuild(f);
        if (c != null && c.getVolumeId().equals(id)) {
          out.add(c);
        }
      } catch (IOException e) {
        LOG.error("the rebuild of {} is not resumed: {}", id, e.getMessage());
      }
    }
    return out;
  }

  private static RebuildReplica readRebuild(Path f) throws IOException {
    if (!Files.isRegularFile(f)) {
      return null;
    }
    try {
      return RebuildReplica.parseFrom(Files.readAllBytes(f));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      // Written whole and renamed into place: unreadable means damaged, not half-written.
      throw new IOException("the rebuild recorded in " + f + " is damaged: " + e.getMessage(), e);
    }
  }

  /** The outcome of a create or delete. */
  public record Outcome(boolean ok, String message) {}

  private ReplicaStore(Path dataDir, NamespaceKeys keys, boolean encryptNew) {
    this.replicasDir = dataDir.resolve("replicas");
    this.manifestFile = dataDir.resolve("state").resolve("replica-manifest");
    this.keys = keys;
    this.encryptNew = encryptNew && keys != null;
  }

  /** The store of an agent without at-rest encryption. */
  public static ReplicaStore open(Path dataDir) {
    return open(dataDir, null);
  }

  /**
   * The store; with {@code keys} (at-rest encryption on) new replicas are encrypted with their
   * owning namespace's key.
   */
  public static ReplicaStore open(Path dataDir, NamespaceKeys keys) {
    return open(dataDir, keys, keys != null);
  }

  /**
   * The store; new replicas are encrypted when {@code encryptNew}; {@code keys} without it keeps
   * existing encrypted replicas readable after encryption at rest was switched off.
   */
  public static ReplicaStore open(Path dataDir, NamespaceKeys keys, boolean encryptNew) {
    ReplicaStore s = new ReplicaStore(dataDir, keys, encryptNew);
    try {
      Files.createDirectories(s.replicasDir);
      Files.createDirectories(s.manifestFile.getParent());
      if (Files.exists(s.manifestFile)) {
        for (String line : Files.readAllLines(s.manifestFile)) {
          String[] p = line.strip().split(" ");
          if (p.length == 2) {
            s.manifest.put(p[0], Long.parseLong(p[1]));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the replica store in " + dataDir, e);
    }
    return s;
  }

  /** Null when usable as a directory name, else why not. */
  public static String volumeIdProblem(String volumeId) {
    if (volumeId == null || !VOLUME_ID.matcher(volumeId).matches()) {
      return "volume id '"
          + volumeId
          + "' is not 1 to 253 letters, digits and . _ : @ + - (not starting with '.')";
    }
    return null;
  }

  /**
   * Creates the replica (idempotent): a replica of the same volume at the same or an older epoch is
   * brought to this epoch; one at a newer epoch means the command is stale and is refused.
   */
  public synchronized Outcome create(String volumeId, long epoch, long sizeBytes, long capacity) {
    String p = volumeIdProblem(volumeId);
    if (p != null) {
      return new Outcome(false, p);
    }
    if (sizeBytes <= 0) {
      return new Outcome(false, "size_bytes must be positive, was " + sizeBytes);
    }
    try {
      Meta existing = readMeta(volumeId);
      if (existing != null && existing.epoch() > epoch) {
        return new Outcome(
            false,
            "stale command: the replica of "
                + volumeId
                + " is at epoch "
                + existing.epoch()
                + ", newer than the command's "
                + epoch);
      }
      long used = usedBytes() - (existing == null ? 0 : existing.sizeBytes());
      if (used + sizeBytes > capacity) {
        return new Outcome(
            false,
            "insufficient capacity: "
                + sizeBytes
                + " bytes asked, "
                + (capacity - used)
                + " of "
                + capacity
                + " free");
      }
      writeMeta(volumeId, epoch, sizeBytes);
      ReplicatedVolume v = volume(volumeId);
      if (v != null) {
        v.learnEpoch(epoch);
      }
      manifest.put(volumeId, epoch);
      writeManifest();
      return new Outcome(
          true,
          existing == null
              ? "created replica of " + volumeId + " at epoch " + epoch
              : "replica of " + volumeId + " is at epoch " + epoch);
    } catch (IOException e) {
      return new Outcome(false, "cannot create the replica of " + volumeId + ": " + e.getMessage());
    }
  }

  /**
   * Grows this node's replica of {@code volumeId} to {@code sizeBytes} when an assignment says the
   * volume grew: the files first (fsync'd), then the replica's meta, so a restart opens it at the
   * new size too. Null when there is nothing to grow.
   */
  public synchronized Outcome grow(String volumeId, long sizeBytes) {
    ReplicatedVolume v = volume(volumeId);
    if (v == null || sizeBytes <= v.replica().sizeBytes()) {
      return null;
    }
    try {
      Meta m = readMeta(volumeId);
      if (m == null) {
        return new Outcome(false, "the replica of " + volumeId + " has no readable meta");
      }
      long old = v.replica().sizeBytes();
      v.replica().grow(sizeBytes);
      writeMeta(volumeId, m.epoch(), sizeBytes);
      return new Outcome(
          true, "replica of " + volumeId + " grew from " + old + " to " + sizeBytes + " bytes");
    } catch (IOException e) {
      return new Outcome(false, e.getMessage());
    }
  }

  private void writeMeta(String volumeId, long epoch, long sizeBytes) throws IOException {
    {
      Path dir = replicasDir.resolve(volumeId);
      Files.createDirectories(dir);
      Properties meta = new Properties();
      meta.setProperty("volume-id", volumeId);
      meta.setProperty("epoch", Long.toString(epoch));
      meta.setProperty("size-bytes", Long.toString(sizeBytes));
      StringWriter w = new StringWriter();
      meta.store(w, null);
      // Properties.store writes a date comment; drop it so the checksum depends on content only.
      String text =
          w.toString()
              .lines()
              .filter(l -> !l.startsWith("#"))
              .sorted()
              .reduce("", (a, b) -> a + b + "\n");
      DurableFiles.write(dir.resolve(META), text, true);
      DurableFiles.syncDirectory(replicasDir);
    }
  }

  /**
   * Deletes the replica (idempotent: deleting an absent replica succeeds). A replica at a newer
   * epoch than the command's is kept and the command refused as stale.
   */
  public synchronized Outcome delete(String volumeId, long epoch) {
    String p = volumeIdProblem(volumeId);
    if (p != null) {
      return new Outcome(false, p);
    }
    try {
      Meta existing = readMeta(volumeId);
      if (existing != null && existing.epoch() > epoch) {
        return new Outcome(
            false,
            "stale command: the replica of "
                + volumeId
                + " is at epoch "
                + existing.epoch()
                + ", newer than the command's "
                + epoch);
      }
      ReplicatedVolume v = open.remove(volumeId);
      if (v != null) {
        v.close();
      }
      Path dir = replicasDir.resolve(volumeId);
      if (Files.exists(dir)) {
        try (Stream<Path> files = Files.walk(dir)) {
          for (Path f : files.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
            Files.deleteIfExists(f);
          }
        }
        DurableFiles.syncDirectory(replicasDir);
      }
      if (manifest.remove(volumeId) != null) {
        writeManifest();
      }
      return new Outcome(
          true,
          existing == null
              ? "no replica of " + volumeId + " here (already deleted)"
              : "deleted replica of " + volumeId);
    } catch (IOException e) {
      return new Outcome(false, "cannot delete the replica of " + volumeId + ": " + e.getMessage());
    }
  }

  /** What is on disk, and what the manifest says should be and is not. */
  public synchronized ReplicaInventory inventory(long nowMs) {
    ReplicaInventory.Builder b = ReplicaInventory.newBuilder().setTakenAtUnixMs(nowMs);
    List<String> present = new ArrayList<>();
    for (Map.Entry<String, Meta> e : scan().entrySet()) {
      Meta m = e.getValue();
      present.add(e.getKey());
      b.addReplicas(
          ReplicaInfo.newBuilder()
              .setVolumeId(m.volumeId())
              .setEpoch(m.epoch())
              .setSizeBytes(m.sizeBytes())
              .setChecksumSummary(m.checksum()));
    }
    for (Map.Entry<String, Long> e : manifest.entrySet()) {
      if (!present.contains(e.getKey())) {
        b.addMissing(
            MissingReplica.newBuilder()
                .setVolumeId(e.getKey())
                .setEpoch(e.getValue())
                .setReason("replica directory or metadata is gone from the data directory"));
      }
    }
    return b.build();
  }

  public synchronized long usedBytes() {
    long sum = 0;
    for (Meta m : scan().values()) {
      sum += m.sizeBytes();
    }
    return sum;
  }

  public synchronized int count() {
    return scan().size();
  }

  private Map<String, Meta> scan() {
    Map<String, Meta> out = new TreeMap<>();
    try (Stream<Path> dirs = Files.list(replicasDir)) {
      for (Path d : dirs.toList()) {
        Meta m = readMeta(d.getFileName().toString());
        if (m != null) {
          out.put(m.volumeId(), m);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + replicasDir, e);
    }
    return out;
  }

  private record Meta(String volumeId, long epoch, long sizeBytes, String checksum) {}

  private Meta readMeta(String volumeId) throws IOException {
    Path f = replicasDir.resolve(volumeId).resolve(META);
    if (!Files.isRegularFile(f)) {
      return null;
    }
    byte[] raw = Files.readAllBytes(f);
    Properties p = new Properties();
    p.load(new StringReader(new String(raw, StandardCharsets.UTF_8)));
    try {
      return new Meta(
          p.getProperty("volume-id", volumeId),
          Long.parseLong(p.getProperty("epoch", "0")),
          Long.parseLong(p.getProperty("size-bytes", "0")),
          HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw)));
    } catch (NumberFormatException e) {
      return null;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private void writeManifest() throws IOException {
    StringBuilder sb = new StringBuilder();
    manifest.forEach((v, e) -> sb.append(v).append(' ').append(e).append('\n'));
    DurableFiles.write(manifestFile, sb.toString(), true);
  }
}
