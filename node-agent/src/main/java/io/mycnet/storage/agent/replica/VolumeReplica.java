package io.mycnet.storage.agent.replica;

import io.mycnet.storage.agent.support.DurableFiles;
import io.mycnet.storage.api.v1.AssignReplica;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.zip.CRC32C;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *
 * <p><b>Encrypted replicas</b> (created on an agent with {@code encryption-at-rest=true}) keep
 * {@code blocks.gcm} instead of {@code blocks.crc}: one {@link BlockSeal#ENTRY}-byte entry per
 * block ({@link BlockSeal#SEALED}, 12-byte nonce, 16-byte GCM tag; all zero for a block never
 * written), the AES-256-GCM ciphertext in {@code data} at the block's offset, and {@code
 * encryption.meta} (owning namespace and its key check value). The GCM tag takes the CRC's place: a
 * torn or corrupt block fails it and is reported the same way. The key is bound once the owning
 * namespace is known ({@link #bindNamespace}, from the assignment); until then an encrypted replica
 * refuses I/O. Whatever leaves the replica for a peer or an auditor is plaintext with the
 * plaintext's checksum entries ({@link #readChunk}, {@link #chunkDigest}, {@link #auditDigest}), so
 * encrypted and plain replicas of one volume compare and copy alike. A replica keeps the format it
 * was created with.
 */
public final class VolumeReplica implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeReplica.class);
  public static final int BLOCK = 4096;
  public static final int CHUNK = 1 << 20;
  public static final long WRITTEN = 0x4D594331L; // "MYC1"
  static final String CRC_FILE = "blocks.crc";
  static final String GCM_FILE = "blocks.gcm";
  static final String ENCRYPTION_META = "encryption.meta";

  /** The logical entry of a block that failed verification: never equal to a valid one. */
  private static final long BAD = -1L;

  private final String volumeId;
  private final Path dir;
  private final long sizeBytes;
  private final FileChannel data;
  private final FileChannel sums;
  // Encrypted replicas only (null for plain ones):
  private final NamespaceKeys keys;
  private volatile BlockSeal seal;
  private volatile String sealProblem;

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
    this.keys = keys;
    this.sealProblem =
        keys == null
            ? null
            : "the encrypted replica of "
                + volumeId
                + " has no key yet: its owning namespace is not known (no assignment)";
    this.data =
        FileChannel.open(
            dir.resolve("data"),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    this.sums =
        FileChannel.open(
            dir.resolve(keys == null ? CRC_FILE : GCM_FILE),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    if (data.size() < sizeBytes) {
      // sparse: extend by writing the last byte's position
      data.write(ByteBuffer.allocate(1), sizeBytes - 1);
    }
    int entrySize = keys == null ? 8 : BlockSeal.ENTRY;
    long entries = blocks() * entrySize;
    if (sums.size() < entries) {
      sums.write(ByteBuffer.allocate(entrySize), entries - entrySize);
    }
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
    boolean sealed = Files.exists(dir.resolve(GCM_FILE));
    if (plain && sealed) {
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
    if (sealed && keys == null) {
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
    boolean encrypt = sealed || (!plain && encryptNew);
    return new VolumeReplica(volumeId, dir, sizeBytes, encrypt ? keys : null);
  }

  /** Whether the blocks are encrypted at rest. */
  public boolean encrypted() {
    return keys != null;
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
    if (keys == null || namespace == null || namespace.isEmpty()) {
      return;
    }
    BlockSeal s = seal;
    if (s != null) {
      if (!s.namespace().equals(namespace)) {
        throw new IOException(
            "the replica of "
                + volumeId
                + " is encrypted with the key of namespace "
                + s.namespace()
                + "; it cannot be handed to namespace "
                + namespace);
      }
      return;
    }
    String check = HexFormat.of().formatHex(keys.keyCheck(namespace));
    Path f = dir.resolve(ENCRYPTION_META);
    try {
      if (Files.exists(f)) {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(f)));
        String had = p.getProperty("namespace", "");
        if (!had.equals(namespace)) {
          throw new IOException(
              "the replica of "
                  + volumeId
                  + " is encrypted with the key of namespace "
                  + had
                  + "; it cannot be handed to namespace "
                  + namespace);
        }
        if (!check.equals(p.getProperty("key-check", ""))) {
          throw new IOException(
              "wrong key: the key that encryption-key-file gives namespace "
                  + namespace
                  + " is not the one the replica of "
                  + volumeId
                  + " was encrypted with (key check "
                  + check
                  + ", recorded "
                  + p.getProperty("key-check", "none")
                  + "); was the key file replaced?");
        }
      } else {
        DurableFiles.write(
            f,
            "cipher=AES-256-GCM\nkdf=HKDF-SHA256\nnamespace="
                + namespace
                + "\nkey-check="
                + check
                + "\n",
            true);
      }
    } catch (IOException e) {
      sealProblem = e.getMessage();
      throw e;
    }
    seal = new BlockSeal(namespace, volumeId, keys.volumeKey(namespace, volumeId));
    sealProblem = null;
  }

  private BlockSeal requireSeal() throws IOException {
    BlockSeal s = seal;
    if (s == null) {
      throw new IOException(sealProblem);
    }
    return s;
  }

  public String volumeId() {
    return volumeId;
  }

  public long sizeBytes() {
    return sizeBytes;
  }

  public Path dir() {
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

  /**
   * Whole blocks of an encrypted replica, decrypted: {@code bytes} the plaintext (a block that
   * failed verification keeps its raw bytes from disk), {@code entries} the plaintext's checksum
   * entries as a plain replica would hold them ({@link #BAD} for a failed block), {@code problems}
   * null or why a block failed.
   */
  private record Opened(byte[] bytes, long[] entries, String[] problems) {
    void throwIfCorrupt(String volumeId, long first) throws CorruptBlockException {
      for (int i = 0; i < problems.length; i++) {
        if (problems[i] != null) {
          throw new CorruptBlockException(volumeId, first + i, problems[i]);
        }
      }
    }
  }

  private Opened openBlocks(long first, int count) throws IOException {
    BlockSeal s = requireSeal();
    byte[] raw = readBlocks(first, count);
    byte[] meta = new byte[count * BlockSeal.ENTRY];
    ByteBuffer bb = ByteBuffer.wrap(meta);
    while (bb.hasRemaining()) {
      if (sums.read(bb, first * BlockSeal.ENTRY + bb.position()) < 0) {
        break;
      }
    }
    byte[] plain = new byte[raw.length];
    long[] entries = new long[count];
    String[] problems = new String[count];
    for (int i = 0; i < count; i++) {
      int off = i * BLOCK;
      int len = Math.min(BLOCK, raw.length - off);
      if (len <= 0) {
        break;
      }
      int e = i * BlockSeal.ENTRY;
      String problem = null;
      if (ByteBuffer.wrap(meta, e, 4).getInt() == BlockSeal.SEALED) {
        if (s.open(first + i, raw, off, len, meta, e, plain)) {
          entries[i] = entryFor(plain, off, len);
        } else {
          problem =
              "its GCM tag does not match (torn write, corruption, tampering, or a block moved"
                  + " from another offset or volume)";
        }
      } else if (!allZero(meta, e, BlockSeal.ENTRY)) {
        problem = "its encryption entry is malformed";
      } else if (!allZero(raw, off, len)) {
        problem = "data present in a block never written (torn write)";
      }
      if (problem != null) {
        problems[i] = problem;
        entries[i] = BAD;
        System.arraycopy(raw, off, plain, off, len);
      }
    }
    return new Opened(plain, entries, problems);
  }

  /**
   * Encrypts whole blocks from {@code first} and writes ciphertext and entries (not synced). A
   * block whose {@code logical} entry is 0 (never written, in a copied chunk) stays never written.
   */
  private void writeSealed(long first, byte[] plain, long[] logical) throws IOException {
    BlockSeal s = requireSeal();
    int count = (plain.length + BLOCK - 1) / BLOCK;
    byte[] ct = new byte[plain.length];
    ByteBuffer e = ByteBuffer.allocate(count * BlockSeal.ENTRY);
    for (int i = 0; i < count; i++) {
      int off = i * BLOCK;
      if (logical != null && logical[i] == 0) {
        e.position(e.position() + BlockSeal.ENTRY); // zeros in both files
      } else {
        s.seal(first + i, plain, off, Math.min(BLOCK, plain.length - off), ct, e);
      }
    }
    e.flip();
    ByteBuffer d = ByteBuffer.wrap(ct);
    while (d.hasRemaining()) {
      data.write(d, first * BLOCK + d.position());
    }
    while (e.hasRemaining()) {
      sums.write(e, first * BlockSeal.ENTRY + e.position());
    }
  }

  /** One whole block as a partial write must merge it: raw (plain) or verified plaintext. */
  private byte[] blockForMerge(long block) throws IOException {
    if (keys == null) {
      return readBlocks(block, 1);
    }
    Opened o = openBlocks(block, 1);
    o.throwIfCorrupt(volumeId, block);
    return o.bytes();
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
    byte[] raw;
    if (keys != null) {
      Opened o = openBlocks(first, count);
      o.throwIfCorrupt(volumeId, first);
      raw = o.bytes();
    } else {
      raw = readBlocks(first, count);
      verify(first, raw, entries(first, count));
    }
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

  public synchronized void sync() throws IOException {
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
        byte[] head = blockForMerge(first);
        System.arraycopy(head, 0, buf, 0, head.length);
      }
      if (tailPartial && (last != first || !headPartial)) {
        byte[] tail = blockForMerge(last);
        System.arraycopy(tail, 0, buf, (int) ((last - first) * BLOCK), tail.length);
      }
      System.arraycopy(bytes, 0, buf, (int) (offset - start), bytes.length);
    }
    if (keys != null) {
      writeSealed(first, buf, null);
      return;
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
   * first, then writes data and entries verbatim, or encrypted for an encrypted replica (not yet
   * synced: {@link #sync}).
   */
  public synchronized void storeCopied(long offset, byte[] bytes, long[] entries)
      throws IOException {
    if (offset % BLOCK != 0 || entries.length != (bytes.length + BLOCK - 1) / BLOCK) {
      throw new IOException("copied chunk at " + offset + " is not whole blocks with checksums");
    }
    verify(offset / BLOCK, bytes, entries);
    if (keys != null) {
      writeSealed(offset / BLOCK, bytes, entries);
      return;
    }
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

  /**
   * A chunk for a peer: plaintext and its checksum entries, verified (source side). For a plain
   * replica that is the bytes and entries on disk.
   */
  public synchronized byte[] readChunk(long offset, int length, long[] entriesOut)
      throws IOException {
    long first = offset / BLOCK;
    int count = (length + BLOCK - 1) / BLOCK;
    if (keys != null) {
      Opened o = openBlocks(first, count);
      o.throwIfCorrupt(volumeId, first);
      System.arraycopy(o.entries(), 0, entriesOut, 0, count);
      return o.bytes();
    }
    byte[] raw = readBlocks(first, count);
    long[] e = entries(first, count);
    verify(first, raw, e);
    System.arraycopy(e, 0, entriesOut, 0, count);
    return raw;
  }

  /**
   * SHA-256 over the checksum entries of a chunk: equal digests mean equal chunks. An encrypted
   * replica decrypts the chunk and uses the plaintext's entries (a block failing its tag gets an
   * entry that matches nothing), so its digest equals a plain replica's of the same content.
   */
  public synchronized byte[] chunkDigest(long offset, int length) throws IOException {
    long first = offset / BLOCK;
    int count = (length + BLOCK - 1) / BLOCK;
    ByteBuffer bb = ByteBuffer.allocate(count * 8);
    for (long x : keys != null ? openBlocks(first, count).entries() : entries(first, count)) {
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
   * others and fails the audit). An encrypted replica answers over the plaintext, with the raw
   * bytes of any block that fails its tag in its place, so it answers like a plain replica of the
   * same content and differently when a block is bad.
   */
  public synchronized byte[] auditDigest(byte[] nonce, long offset, long length)
      throws IOException {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(nonce, "HmacSHA256"));
      if (keys != null) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
          long first = pos / BLOCK;
          int count = (int) Math.min(CHUNK / BLOCK, blocks() - first);
          byte[] plain = openBlocks(first, count).bytes();
          long start = first * BLOCK;
          int to = (int) Math.min(end - start, plain.length);
          mac.update(plain, (int) (pos - start), to - (int) (pos - start));
          pos = start + to;
        }
        return mac.doFinal();
      }
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

  /**
   * Verifies every block; returns the byte offsets of the blocks that failed. An encrypted replica
   * without its key throws instead (nothing can be verified; nothing is reported corrupt).
   */
  public List<Long> scrub() throws IOException {
    List<Long> bad = new ArrayList<>();
    int per = CHUNK / BLOCK;
    for (long b = 0; b < blocks(); b += per) {
      int count = (int) Math.min(per, blocks() - b);
      if (keys != null) {
        String[] problems;
        synchronized (this) {
          problems = openBlocks(b, count).problems();
        }
        for (int i = 0; i < count; i++) {
          if (problems[i] != null) {
            bad.add((b + i) * BLOCK);
          }
        }
        continue;
      }
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
