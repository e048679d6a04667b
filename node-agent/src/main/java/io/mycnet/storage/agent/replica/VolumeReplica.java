package io.mycnet.storage.agent.replica;

import io.mycnet.storage.api.v1.AssignReplica;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bytes of one volume replica on local disk, with block semantics.
 *
 * <p>Layout in {@code replicas/<volume>/}: {@code data} (a sparse file of the volume's size),
 * {@code blocks.crc} (one 8-byte entry per 4 KiB block: {@link #WRITTEN} in the high 32 bits when
 * the block was ever written, its CRC32C in the low 32 bits; an all-zero entry is a block never
 * written, which must read as zeros; {@link BlockChecksums}), {@code replica.meta} (volume id,
 * epoch, size) and {@code assignment.pb} (the last {@link AssignReplica}: primary, peers,
 * namespace, grants).
 *
 * <p>A write is durable when {@link #write} or {@link #zero} returns ({@code fdatasync} of data and
 * checksums). Durability is a group commit: the pipeline writes with {@link #writeAsync} / {@link
 * #zeroAsync}, which return a ticket once the bytes are in the files (not yet synced), and waits
 * with {@link #awaitDurable}: one {@code fdatasync} covers every write that had its ticket when the
 * sync started, so concurrent writers share syncs instead of queueing one sync each. {@link #sync}
 * is the barrier for everything written so far. The replica's monitor serialises writes and reads;
 * it is never held during an {@code fdatasync}, so reads and further writes go on while a sync runs
 * (a read may return a write whose sync is still running, as it may on a disk). When an {@code
 * fdatasync} fails the replica refuses every later durability wait (the kernel may have dropped the
 * dirty pages it could not write; a later sync succeeding would prove nothing): it must be reopened
 * and is rebuilt. A block whose data and checksum disagree — a torn write (crash between the two
 * writes) or bit rot — is reported by {@link #read} ({@link CorruptBlockException}) and {@link
 * #scrub}.
 *
 * <p><b>Encrypted replicas</b> (created on an agent with {@code encryption-at-rest=true}) keep
 * {@code blocks.gcm} instead of {@code blocks.crc} and the ciphertext in {@code data} ({@link
 * SealedBlocks}). The key is bound once the owning namespace is known ({@link #bindNamespace}, from
 * the assignment); until then an encrypted replica refuses I/O. Whatever leaves the replica for a
 * peer or an auditor is plaintext with the plaintext's checksum entries ({@link #readChunk}, {@link
 * #chunkDigest}, {@link #auditDigest}; {@link ReplicaReaders}), so encrypted and plain replicas of
 * one volume compare and copy alike. A replica keeps the format it was created with.
 *
 * <p>This class holds the replica's lock and what both formats share: opening (which format), range
 * checks, partial-block writes (read, merge, write whole blocks); the files are {@link BlockFile}.
 */
public final class VolumeReplica implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeReplica.class);
  public static final int BLOCK = 4096;
  public static final int CHUNK = 1 << 20;
  public static final long WRITTEN = 0x4D594331L; // "MYC1"
  static final String CRC_FILE = "blocks.crc";
  static final String GCM_FILE = SealedBlocks.ENTRY_FILE;
  static final String ENCRYPTION_META = SealedBlocks.META;

  private final String volumeId;
  private final Path dir;
  private volatile long sizeBytes;
  private final BlockFile file;
  private final SealedBlocks sealed; // null for a plain replica
  private final ReplicaReaders readers;

  // Group commit. `written` is the ticket of the last write whose bytes are in the files; it is
  // raised under the replica's monitor after the write, so every write up to a value read from it
  // is complete. The rest is guarded by `durability`, never held together with the monitor.
  private volatile long written;
  private final Object durability = new Object();
  private long durable; // every write up to this ticket has been fdatasync'd
  private boolean syncing; // a thread is in force() for the others
  private IOException syncFailure; // sticky: a failed fdatasync leaves durability unknown
  private long syncs; // number of completed fdatasyncs (tests)

  /** A block whose bytes do not match its stored checksum. */
  public static final class CorruptBlockException extends IOException {
    private static final long serialVersionUID = 1L;
    private final long offset;

    CorruptBlockException(String volumeId, long block, String why) {
      super(
          "block "
              + block
              + " (bytes "
              + block * BLOCK
              + "+"
              + BLOCK
              + ") of the replica of "
              + volumeId
              + " failed its checksum: "
              + why);
      this.offset = block * BLOCK;
    }

    public long offset() {
      return offset;
    }
  }

  private VolumeReplica(String volumeId, Path dir, long sizeBytes, NamespaceKeys keys)
      throws IOException {
    this.volumeId = volumeId;
    this.dir = dir;
    this.sizeBytes = sizeBytes;
    this.file =
        keys == null
            ? new BlockFile(dir, CRC_FILE, BlockChecksums.ENTRY, sizeBytes)
            : new BlockFile(dir, GCM_FILE, BlockSeal.ENTRY, sizeBytes);
    this.sealed = keys == null ? null : new SealedBlocks(volumeId, dir, keys, file);
    this.readers = new ReplicaReaders(volumeId, file, sealed, this);
  }

  /** Opens (creating the files if needed) the unencrypted replica in {@code dir}. */
  public static VolumeReplica open(String volumeId, Path dir, long sizeBytes) throws IOException {
    return open(volumeId, dir, sizeBytes, null);
  }

  /**
   * Opens (creating the files if needed) the replica in {@code dir}. A new replica is encrypted
   * when {@code keys} is not null; an existing one keeps its format (an encrypted one needs {@code
   * keys}).
   */
  static VolumeReplica open(String volumeId, Path dir, long sizeBytes, NamespaceKeys keys)
      throws IOException {
    return open(volumeId, dir, sizeBytes, keys, keys != null);
  }

  /**
   * Opens the replica in {@code dir}; a new one is encrypted when {@code encryptNew} (which needs
   * {@code keys}). With {@code keys} but not {@code encryptNew} (encryption at rest switched off,
   * the key file kept) existing encrypted replicas stay readable and new ones are plain.
   */
  static VolumeReplica open(
      String volumeId, Path dir, long sizeBytes, NamespaceKeys keys, boolean encryptNew)
      throws IOException {
    Files.createDirectories(dir);
    boolean plain = Files.exists(dir.resolve(CRC_FILE));
    boolean encrypted = Files.exists(dir.resolve(GCM_FILE));
    if (plain && encrypted) {
      throw new IOException(
          "the replica of "
              + volumeId
              + " has both "
              + CRC_FILE
              + " and "
              + GCM_FILE
              + " in "
              + dir);
    }
    if (encrypted && keys == null) {
      throw new IOException(
          "the replica of "
              + volumeId
              + " is encrypted at rest but this agent runs without encryption-at-rest and"
              + " encryption-key-file");
    }
    if (plain && keys != null) {
      LOG.warn(
          "the replica of {} was created unencrypted and stays so; it is encrypted once rebuilt",
          volumeId);
    }
    boolean encrypt = encrypted || (!plain && encryptNew);
    return new VolumeReplica(volumeId, dir, sizeBytes, encrypt ? keys : null);
  }

  /** Whether the blocks are encrypted at rest. */
  public boolean encrypted() {
    return sealed != null;
  }

  /**
   * Binds an encrypted replica to its owning namespace's key (a no-op for a plain replica or an
   * unknown namespace). The first binding records the namespace and its key check value in {@code
   * encryption.meta}; later ones must name the same namespace and derive the same key.
   *
   * @throws IOException when the namespace differs from the recorded one or the key does not match
   *     the one the replica was written with
   */
  public synchronized void bindNamespace(String namespace) throws IOException {
    if (sealed != null) {
      sealed.bindNamespace(namespace);
    }
  }

  public String volumeId() {
    return volumeId;
  }

  public long sizeBytes() {
    return sizeBytes;
  }

  /**
   * Grows the replica to {@code newSize} bytes (a volume's allocation grew; never shrinks): the new
   * blocks read as zeros. A replica whose size is not whole blocks is refused, because its last
   * block's checksum covers a short block.
   *
   * @return whether it grew
   */
  public synchronized boolean grow(long newSize) throws IOException {
    if (newSize <= sizeBytes) {
      return false;
    }
    if (sizeBytes % BLOCK != 0) {
      throw new IOException(
          "cannot grow the replica of "
              + volumeId
              + ": its size "
              + sizeBytes
              + " is not a multiple of "
              + BLOCK
              + " bytes");
    }
    file.grow(newSize);
    sizeBytes = newSize;
    return true;
  }

  public Path dir() {
    return dir;
  }

  /** Null when {@code [offset, offset+length)} lies inside the volume, else why not. */
  public String rangeProblem(long offset, long length) {
    if (offset < 0) {
      return "offset " + offset + " is negative";
    }
    if (length < 0) {
      return "length " + length + " is negative";
    }
    if (offset > sizeBytes || length > sizeBytes - offset) {
      return "range "
          + offset
          + "+"
          + length
          + " ends beyond the volume's size of "
          + sizeBytes
          + " bytes";
    }
    return null;
  }

  /** Whole blocks, verified: plaintext, or the first failed block's exception. */
  private byte[] readVerified(long first, int count) throws IOException {
    if (sealed != null) {
      return sealed.read(first, count);
    }
    byte[] raw = file.readBlocks(first, count);
    BlockChecksums.verify(
        volumeId, first, raw, BlockChecksums.decode(file.readEntries(first, count), count));
    return raw;
  }

  /** Reads a byte range, verifying the checksum of every block it touches. */
  public synchronized byte[] read(long offset, int length) throws IOException {
    if (length == 0) {
      return new byte[0];
    }
    long first = offset / BLOCK;
    long last = (offset + length - 1) / BLOCK;
    byte[] raw = readVerified(first, (int) (last - first + 1));
    byte[] out = new byte[length];
    System.arraycopy(raw, (int) (offset - first * BLOCK), out, 0, length);
    return out;
  }

  /** Writes a byte range and makes it durable (data and checksums) before returning. */
  public void write(long offset, byte[] bytes) throws IOException {
    awaitDurable(writeAsync(offset, bytes));
  }

  /** Zeroes a byte range durably (trim / write-zeroes). */
  public void zero(long offset, long length) throws IOException {
    awaitDurable(zeroAsync(offset, length));
  }

  /**
   * Writes a byte range (data and checksums) without waiting for it to be durable; returns the
   * write's ticket for {@link #awaitDurable}. Reads see the write once this returns.
   */
  public synchronized long writeAsync(long offset, byte[] bytes) throws IOException {
    writeNoSync(offset, bytes);
    return ++written;
  }

  /**
   * Zeroes a byte range without waiting for it to be durable; the ticket for {@link #awaitDurable}.
   */
  public synchronized long zeroAsync(long offset, long length) throws IOException {
    long done = 0;
    while (done < length) {
      int n = (int) Math.min(CHUNK, length - done);
      writeNoSync(offset + done, new byte[n]);
      done += n;
    }
    return ++written;
  }

  /** Makes every write so far durable (a barrier: flush). */
  public void sync() throws IOException {
    awaitDurable(written);
  }

  /**
   * Returns once the write with {@code ticket} (and every earlier one) is durable. Returns at once
   * when a completed sync covered it; otherwise either waits for the sync in progress and checks
   * again, or is the one thread that syncs for every write completed so far.
   *
   * @throws IOException when an {@code fdatasync} of this replica failed (now or before)
   */
  public void awaitDurable(long ticket) throws IOException {
    synchronized (durability) {
      while (true) {
        if (syncFailure != null) {
          throw new IOException(
              "the replica of "
                  + volumeId
                  + " could not be made durable: an fdatasync failed, so what reached its disk is unknown"
                  + " until the replica is reopened: "
                  + syncFailure.getMessage(),
              syncFailure);
        }
        if (durable >= ticket) {
          return;
        }
        if (!syncing) {
          syncing = true;
          break;
        }
        try {
          durability.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException(
              "interrupted waiting for the replica of " + volumeId + " to be durable");
        }
      }
    }
    long covered = written; // every write up to it is complete before force() starts
    IOException failed = null;
    boolean done = false;
    try {
      file.force();
      done = true;
    } catch (IOException e) {
      failed = e;
    } finally {
      synchronized (durability) {
        syncing = false;
        if (done) {
          durable = Math.max(durable, covered);
          syncs++;
        } else if (failed != null) {
          syncFailure = failed;
        }
        durability.notifyAll();
      }
    }
    if (failed != null) {
      throw failed;
    }
  }

  /** The number of completed {@code fdatasync}s of this replica (tests). */
  long syncCount() {
    synchronized (durability) {
      return syncs;
    }
  }

  /** One whole block as a partial write must merge it: raw (plain) or verified plaintext. */
  private byte[] blockForMerge(long block) throws IOException {
    return sealed == null ? file.readBlocks(block, 1) : sealed.read(block, 1);
  }

  private void writeNoSync(long offset, byte[] bytes) throws IOException {
    if (bytes.length == 0) {
      return;
    }
    long first = offset / BLOCK;
    long last = (offset + bytes.length - 1) / BLOCK;
    int count = (int) (last - first + 1);
    long start = first * BLOCK;
    byte[] buf;
    boolean headPartial = offset != start;
    long end = offset + bytes.length;
    long blocksEnd = Math.min((last + 1) * BLOCK, sizeBytes);
    boolean tailPartial = end != blocksEnd;
    if (!headPartial && !tailPartial) {
      buf = bytes;
    } else {
      buf = new byte[(int) (blocksEnd - start)];
      if (headPartial) {
        byte[] head = blockForMerge(first);
        System.arraycopy(head, 0, buf, 0, head.length);
      }
      if (tailPartial && (last != first || !headPartial)) {
        byte[] tail = blockForMerge(last);
        System.arraycopy(tail, 0, buf, (int) ((last - first) * BLOCK), tail.length);
      }
      System.arraycopy(bytes, 0, buf, (int) (offset - start), bytes.length);
    }
    if (sealed != null) {
      sealed.write(first, buf, null);
      return;
    }
    file.writeBlocks(first, buf);
    file.writeEntries(first, BlockChecksums.entriesFor(buf, count));
  }

  /**
   * Stores a chunk copied from a peer: verifies every block against the peer's checksum entry
   * first, then writes data and entries verbatim, or encrypted for an encrypted replica (not yet
   * synced: {@link #sync} or {@link #awaitDurable} of the ticket returned).
   */
  public synchronized long storeCopied(long offset, byte[] bytes, long[] entries)
      throws IOException {
    if (offset % BLOCK != 0 || entries.length != (bytes.length + BLOCK - 1) / BLOCK) {
      throw new IOException("copied chunk at " + offset + " is not whole blocks with checksums");
    }
    BlockChecksums.verify(volumeId, offset / BLOCK, bytes, entries);
    if (sealed != null) {
      sealed.write(offset / BLOCK, bytes, entries);
    } else {
      file.writeBlocks(offset / BLOCK, bytes);
      file.writeEntries(offset / BLOCK, BlockChecksums.encode(entries));
    }
    return ++written;
  }

  /**
   * A chunk for a peer: plaintext and its checksum entries, verified (source side); {@link
   * ReplicaReaders#readChunk}.
   */
  public synchronized byte[] readChunk(long offset, int length, long[] entriesOut)
      throws IOException {
    return readers.readChunk(offset, length, entriesOut);
  }

  /** SHA-256 over the plaintext's checksum entries of a chunk; {@link ReplicaReaders}. */
  public synchronized byte[] chunkDigest(long offset, int length) throws IOException {
    return readers.chunkDigest(offset, length);
  }

  /** The plaintext's checksum entries of a chunk, one per block; {@link ReplicaReaders}. */
  public synchronized long[] chunkEntries(long offset, int length) throws IOException {
    return readers.chunkEntries(offset, length);
  }

  /** The digest {@link #chunkDigest} gives for a chunk with these checksum entries. */
  public static byte[] chunkDigestOf(long[] entries) {
    return ReplicaReaders.digestOf(entries);
  }

  /** The audit answer: HMAC-SHA256 keyed with the nonce over the range; {@link ReplicaReaders}. */
  public synchronized byte[] auditDigest(byte[] nonce, long offset, long length)
      throws IOException {
    return readers.auditDigest(nonce, offset, length);
  }

  /** A run of bytes of the volume: a hole (never written or trimmed, reads as zeros) or data. */
  public record Extent(long length, boolean hole) {}

  /** The most blocks one {@link #map} looks at (its answer may cover less than asked). */
  public static final int MAP_MAX_BLOCKS = 64 * 1024;

  /**
   * Which parts of {@code [offset, offset+length)} are holes: the runs, in order, from {@code
   * offset}, at block granularity (a block is a hole when its entry is all zero: never written, or
   * trimmed whole). Covers at least one byte when {@code length > 0} and at most {@link
   * #MAP_MAX_BLOCKS} blocks. Nothing is decrypted or verified: the entries alone decide.
   */
  public synchronized List<Extent> map(long offset, long length) throws IOException {
    List<Extent> out = new java.util.ArrayList<>();
    if (length <= 0) {
      return out;
    }
    long end = offset + length;
    long first = offset / BLOCK;
    long last = Math.min((end - 1) / BLOCK, first + MAP_MAX_BLOCKS - 1);
    int count = (int) (last - first + 1);
    int es = file.entrySize();
    byte[] raw = file.readEntries(first, count);
    long runStart = offset;
    Boolean runHole = null;
    for (int i = 0; i < count; i++) {
      boolean hole = BlockChecksums.allZero(raw, i * es, es);
      long blockStart = Math.max(offset, (first + i) * BLOCK);
      if (runHole != null && hole != runHole) {
        out.add(new Extent(blockStart - runStart, runHole));
        runStart = blockStart;
      }
      runHole = hole;
    }
    long coveredEnd = Math.min(end, (last + 1) * BLOCK);
    out.add(new Extent(coveredEnd - runStart, runHole));
    return out;
  }

  /**
   * Zeroes a byte range durably like {@link #zero}, but the blocks it covers whole become never
   * written again (data and entry all zeros: a hole for {@link #map}, read back as zeros by both
   * formats, copied as never written by a rebuild); partly covered blocks are zeroed in place.
   */
  public void punch(long offset, long length) throws IOException {
    awaitDurable(punchAsync(offset, length));
  }

  /** As {@link #punch}, not yet durable: its ticket for {@link #awaitDurable}. */
  public synchronized long punchAsync(long offset, long length) throws IOException {
    if (length <= 0) {
      return written;
    }
    long end = offset + length;
    long firstWhole = (offset + BLOCK - 1) / BLOCK;
    // The volume's last block may be short: covering up to the size covers it whole.
    long endWhole = end == sizeBytes ? (end + BLOCK - 1) / BLOCK : end / BLOCK;
    if (firstWhole >= endWhole) {
      writeNoSync(offset, new byte[(int) length]);
      return ++written;
    }
    long wholeStart = firstWhole * BLOCK;
    long wholeEnd = Math.min(endWhole * BLOCK, sizeBytes);
    if (offset < wholeStart) {
      writeNoSync(offset, new byte[(int) (wholeStart - offset)]);
    }
    int es = file.entrySize();
    int perChunk = CHUNK / BLOCK;
    for (long b = firstWhole; b < endWhole; b += perChunk) {
      int n = (int) Math.min(perChunk, endWhole - b);
      long bytes = Math.min((long) n * BLOCK, sizeBytes - b * BLOCK);
      file.writeBlocks(b, new byte[(int) bytes]);
      file.writeEntries(b, java.nio.ByteBuffer.allocate(n * es));
    }
    if (end > wholeEnd) {
      writeNoSync(wholeEnd, new byte[(int) (end - wholeEnd)]);
    }
    return ++written;
  }

  /**
   * Verifies every block; returns the byte offsets of the blocks that failed. An encrypted replica
   * without its key throws instead (nothing can be verified; nothing is reported corrupt).
   */
  public List<Long> scrub() throws IOException {
    return readers.scrub();
  }

  @Override
  public synchronized void close() {
    try {
      file.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
