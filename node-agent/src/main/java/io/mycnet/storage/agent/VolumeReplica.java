package io.mycnet.storage.agent;

import io.mycnet.storage.api.v1.AssignReplica;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The bytes of one volume replica on local disk, with block semantics.
 *
 * <p>Layout in {@code replicas/<volume>/}: {@code data} (a sparse file of the volume's size),
 * {@code blocks.crc} (one 8-byte entry per 4 KiB block: {@link #WRITTEN} in the high 32 bits when
 * the block was ever written, its CRC32C in the low 32 bits; an all-zero entry is a block never
 * written, which must read as zeros), {@code replica.meta} (volume id, epoch, size) and {@code
 * assignment.pb} (the last {@link AssignReplica}: primary, peers, namespace, grants).
 *
 * <p>A write is durable when it returns ({@code fdatasync} of data and checksums, {@link #write}),
 * so {@link #flush} is a barrier that has nothing left to do but is kept for block semantics. A
 * block whose data and checksum disagree — a torn write (crash between the two writes) or bit rot —
 * is reported by {@link #read} ({@link CorruptBlockException}) and {@link #scrub}. Writes are
 * serialised per replica.
 */
public final class VolumeReplica implements AutoCloseable {
  public static final int BLOCK = 4096;
  public static final int CHUNK = 1 << 20;
  public static final long WRITTEN = 0x4D594331L; // "MYC1"

  private final String volumeId;
  private final Path dir;
  private final long sizeBytes;
  private final FileChannel data;
  private final FileChannel sums;

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

  private VolumeReplica(String volumeId, Path dir, long sizeBytes) throws IOException {
    this.volumeId = volumeId;
    this.dir = dir;
    this.sizeBytes = sizeBytes;
    this.data =
        FileChannel.open(
            dir.resolve("data"),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    this.sums =
        FileChannel.open(
            dir.resolve("blocks.crc"),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    if (data.size() < sizeBytes) {
      // sparse: extend by writing the last byte's position
      data.write(ByteBuffer.allocate(1), sizeBytes - 1);
    }
    long entries = blocks() * 8L;
    if (sums.size() < entries) {
      sums.write(ByteBuffer.allocate(8), entries - 8);
    }
  }

  /** Opens (creating the files if needed) the replica in {@code dir}. */
  static VolumeReplica open(String volumeId, Path dir, long sizeBytes) throws IOException {
    Files.createDirectories(dir);
    return new VolumeReplica(volumeId, dir, sizeBytes);
  }

  public String volumeId() {
    return volumeId;
  }

  public long sizeBytes() {
    return sizeBytes;
  }

  Path dir() {
    return dir;
  }

  long blocks() {
    return (sizeBytes + BLOCK - 1) / BLOCK;
  }

  private int blockLength(long block) {
    return (int) Math.min(BLOCK, sizeBytes - block * BLOCK);
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

  static int crc(byte[] b, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  static long entryFor(byte[] b, int off, int len) {
    return (WRITTEN << 32) | (crc(b, off, len) & 0xFFFFFFFFL);
  }

  private static boolean allZero(byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /** Raw bytes of whole blocks [first, first+count), no verification. */
  private byte[] readBlocks(long first, int count) throws IOException {
    long start = first * BLOCK;
    int len = (int) Math.min((long) count * BLOCK, sizeBytes - start);
    byte[] out = new byte[len];
    ByteBuffer bb = ByteBuffer.wrap(out);
    while (bb.hasRemaining()) {
      int n = data.read(bb, start + bb.position());
      if (n < 0) {
        break; // beyond the end of a sparse file: zeros
      }
    }
    return out;
  }

  synchronized long[] entries(long first, int count) throws IOException {
    ByteBuffer bb = ByteBuffer.allocate(count * 8);
    while (bb.hasRemaining()) {
      if (sums.read(bb, first * 8 + bb.position()) < 0) {
        break;
      }
    }
    bb.flip();
    long[] out = new long[count];
    for (int i = 0; i < count && bb.remaining() >= 8; i++) {
      out[i] = bb.getLong();
    }
    return out;
  }

  private void verify(long first, byte[] bytes, long[] entries) throws CorruptBlockException {
    for (int i = 0; i < entries.length; i++) {
      int off = i * BLOCK;
      int len = Math.min(BLOCK, bytes.length - off);
      if (len <= 0) {
        break;
      }
      long e = entries[i];
      if (e >>> 32 == WRITTEN) {
        if ((int) e != crc(bytes, off, len)) {
          throw new CorruptBlockException(volumeId, first + i, "stored CRC32C does not match");
        }
      } else if (e != 0) {
        throw new CorruptBlockException(volumeId, first + i, "checksum entry is malformed");
      } else if (!allZero(bytes, off, len)) {
        throw new CorruptBlockException(
            volumeId, first + i, "data present in a block without a checksum (torn write)");
      }
    }
  }

  /** Reads a byte range, verifying the checksum of every block it touches. */
  public synchronized byte[] read(long offset, int length) throws IOException {
    if (length == 0) {
      return new byte[0];
    }
    long first = offset / BLOCK;
    long last = (offset + length - 1) / BLOCK;
    int count = (int) (last - first + 1);
    byte[] raw = readBlocks(first, count);
    verify(first, raw, entries(first, count));
    byte[] out = new byte[length];
    System.arraycopy(raw, (int) (offset - first * BLOCK), out, 0, length);
    return out;
  }

  /** Writes a byte range and makes it durable (data and checksums) before returning. */
  public synchronized void write(long offset, byte[] bytes) throws IOException {
    writeNoSync(offset, bytes);
    sync();
  }

  /** Zeroes a byte range durably (trim / write-zeroes). */
  public synchronized void zero(long offset, long length) throws IOException {
    long done = 0;
    while (done < length) {
      int n = (int) Math.min(CHUNK, length - done);
      writeNoSync(offset + done, new byte[n]);
      done += n;
    }
    sync();
  }

  synchronized void sync() throws IOException {
    data.force(false);
    sums.force(false);
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
        byte[] head = readBlocks(first, 1);
        System.arraycopy(head, 0, buf, 0, head.length);
      }
      if (tailPartial && (last != first || !headPartial)) {
        byte[] tail = readBlocks(last, 1);
        System.arraycopy(tail, 0, buf, (int) ((last - first) * BLOCK), tail.length);
      }
      System.arraycopy(bytes, 0, buf, (int) (offset - start), bytes.length);
    }
    ByteBuffer e = ByteBuffer.allocate(count * 8);
    for (int i = 0; i < count; i++) {
      int off = i * BLOCK;
      e.putLong(entryFor(buf, off, Math.min(BLOCK, buf.length - off)));
    }
    e.flip();
    ByteBuffer d = ByteBuffer.wrap(buf);
    while (d.hasRemaining()) {
      data.write(d, start + d.position());
    }
    while (e.hasRemaining()) {
      sums.write(e, first * 8 + e.position());
    }
  }

  /**
   * Stores a chunk copied from a peer: verifies every block against the peer's checksum entry
   * first, then writes data and entries verbatim (not yet synced: {@link #sync}).
   */
  synchronized void storeCopied(long offset, byte[] bytes, long[] entries) throws IOException {
    if (offset % BLOCK != 0 || entries.length != (bytes.length + BLOCK - 1) / BLOCK) {
      throw new IOException("copied chunk at " + offset + " is not whole blocks with checksums");
    }
    verify(offset / BLOCK, bytes, entries);
    ByteBuffer d = ByteBuffer.wrap(bytes);
    while (d.hasRemaining()) {
      data.write(d, offset + d.position());
    }
    ByteBuffer e = ByteBuffer.allocate(entries.length * 8);
    for (long x : entries) {
      e.putLong(x);
    }
    e.flip();
    while (e.hasRemaining()) {
      sums.write(e, (offset / BLOCK) * 8 + e.position());
    }
  }

  /** A chunk for a peer: raw bytes and their checksum entries, verified (source side). */
  synchronized byte[] readChunk(long offset, int length, long[] entriesOut) throws IOException {
    long first = offset / BLOCK;
    int count = (length + BLOCK - 1) / BLOCK;
    byte[] raw = readBlocks(first, count);
    long[] e = entries(first, count);
    verify(first, raw, e);
    System.arraycopy(e, 0, entriesOut, 0, count);
    return raw;
  }

  /** SHA-256 over the checksum entries of a chunk: equal digests mean equal chunks. */
  synchronized byte[] chunkDigest(long offset, int length) throws IOException {
    long first = offset / BLOCK;
    int count = (length + BLOCK - 1) / BLOCK;
    ByteBuffer bb = ByteBuffer.allocate(count * 8);
    for (long x : entries(first, count)) {
      bb.putLong(x);
    }
    try {
      return MessageDigest.getInstance("SHA-256").digest(bb.array());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The audit answer: HMAC-SHA256 keyed with the nonce over the raw bytes of the range as they are
   * on disk (deliberately unverified: a replica holding bad bytes answers differently from the
   * others and fails the audit).
   */
  public synchronized byte[] auditDigest(byte[] nonce, long offset, long length)
      throws IOException {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(nonce, "HmacSHA256"));
      long pos = offset;
      while (pos < offset + length) {
        int n = (int) Math.min(CHUNK, offset + length - pos);
        ByteBuffer bb = ByteBuffer.allocate(n);
        while (bb.hasRemaining()) {
          if (data.read(bb, pos + bb.position()) < 0) {
            break;
          }
        }
        mac.update(bb.array());
        pos += n;
      }
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** Verifies every block; returns the byte offsets of the blocks that failed. */
  public List<Long> scrub() throws IOException {
    List<Long> bad = new ArrayList<>();
    int per = CHUNK / BLOCK;
    for (long b = 0; b < blocks(); b += per) {
      int count = (int) Math.min(per, blocks() - b);
      byte[] raw;
      long[] e;
      synchronized (this) {
        raw = readBlocks(b, count);
        e = entries(b, count);
      }
      for (int i = 0; i < count; i++) {
        try {
          int off = i * BLOCK;
          byte[] one = new byte[Math.min(BLOCK, raw.length - off)];
          System.arraycopy(raw, off, one, 0, one.length);
          verify(b + i, one, new long[] {e[i]});
        } catch (CorruptBlockException x) {
          bad.add(x.offset());
        }
      }
    }
    return bad;
  }

  @Override
  public synchronized void close() {
    try {
      data.close();
      sums.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
