package io.mycnet.storage.agent.replica;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The readers of whole chunks that serve a rebuild (a chunk and its checksum entries for a peer,
 * the chunk digest it compares) and the audits (the keyed digest the control plane compares across
 * replicas, the scrub). What leaves the replica is plaintext with the plaintext's checksum entries,
 * so encrypted and plain replicas of one volume compare and copy alike. Runs under the replica's
 * lock ({@code lock}); the scrub takes it per chunk, so I/O goes on between chunks.
 */
final class ReplicaReaders {
  static final int BLOCK = VolumeReplica.BLOCK;
  static final int CHUNK = VolumeReplica.CHUNK;

  private final String volumeId;
  private final BlockFile file;
  private final SealedBlocks sealed; // null for a plain replica
  private final Object lock;

  ReplicaReaders(String volumeId, BlockFile file, SealedBlocks sealed, Object lock) {
    this.volumeId = volumeId;
    this.file = file;
    this.sealed = sealed;
    this.lock = lock;
  }

  private long[] storedEntries(long first, int count) throws IOException {
    return BlockChecksums.decode(file.readEntries(first, count), count);
  }

  /**
   * A chunk for a peer: plaintext and its checksum entries, verified (source side). For a plain
   * replica that is the bytes and entries on disk.
   */
  byte[] readChunk(long offset, int length, long[] entriesOut) throws IOException {
    long first = offset / BLOCK;
    int count = (length + BLOCK - 1) / BLOCK;
    if (sealed != null) {
      OpenedBlocks o = sealed.open(first, count);
      o.throwIfCorrupt(volumeId, first);
      System.arraycopy(o.entries(), 0, entriesOut, 0, count);
      return o.bytes();
    }
    byte[] raw = file.readBlocks(first, count);
    long[] e = storedEntries(first, count);
    BlockChecksums.verify(volumeId, first, raw, e);
    System.arraycopy(e, 0, entriesOut, 0, count);
    return raw;
  }

  /**
   * The plaintext's checksum entries of a chunk, one per block: an encrypted replica decrypts the
   * chunk and uses the plaintext's entries (a block failing its tag gets an entry that matches
   * nothing), so its entries equal a plain replica's of the same content.
   */
  long[] chunkEntries(long offset, int length) throws IOException {
    long first = offset / BLOCK;
    int count = (length + BLOCK - 1) / BLOCK;
    if (sealed == null) {
      return storedEntries(first, count);
    }
    byte[] meta = file.readEntries(first, count);
    if (BlockChecksums.allZero(meta, 0, meta.length)) {
      // Never written (a hole): nothing to decrypt; the entries of a hole are zero on any replica.
      return new long[count];
    }
    return sealed.open(first, count).entries();
  }

  /** SHA-256 over the checksum entries of a chunk: equal digests mean equal chunks. */
  byte[] chunkDigest(long offset, int length) throws IOException {
    return digestOf(chunkEntries(offset, length));
  }

  /** SHA-256 over checksum entries (each as 8 bytes, big-endian): a chunk's digest. */
  static byte[] digestOf(long[] entries) {
    ByteBuffer bb = ByteBuffer.allocate(entries.length * 8);
    for (long x : entries) {
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
  byte[] auditDigest(byte[] nonce, long offset, long length) throws IOException {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(nonce, "HmacSHA256"));
      if (sealed != null) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
          long first = pos / BLOCK;
          int count = (int) Math.min(CHUNK / BLOCK, file.blocks() - first);
          byte[] plain = sealed.open(first, count).bytes();
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
        mac.update(file.readData(pos, n));
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
  List<Long> scrub() throws IOException {
    List<Long> bad = new ArrayList<>();
    int per = CHUNK / BLOCK;
    for (long b = 0; b < file.blocks(); b += per) {
      int count = (int) Math.min(per, file.blocks() - b);
      if (sealed != null) {
        String[] problems;
        synchronized (lock) {
          problems = sealed.open(b, count).problems();
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
      synchronized (lock) {
        raw = file.readBlocks(b, count);
        e = storedEntries(b, count);
      }
      for (int i = 0; i < count; i++) {
        try {
          int off = i * BLOCK;
          byte[] one = new byte[Math.min(BLOCK, raw.length - off)];
          System.arraycopy(raw, off, one, 0, one.length);
          BlockChecksums.verify(volumeId, b + i, one, new long[] {e[i]});
        } catch (VolumeReplica.CorruptBlockException x) {
          bad.add(x.offset());
        }
      }
    }
    return bad;
  }
}
