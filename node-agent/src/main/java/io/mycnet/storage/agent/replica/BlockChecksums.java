package io.mycnet.storage.agent.replica;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The checksum entry of a 4 KiB block as a plain replica stores it and as every replica sends it to
 * a peer: {@link #WRITTEN} in the high 32 bits when the block was ever written, its CRC32C in the
 * low 32 bits; an all-zero entry is a block never written, which must read as zeros.
 */
final class BlockChecksums {
  static final int BLOCK = VolumeReplica.BLOCK;
  static final long WRITTEN = VolumeReplica.WRITTEN;

  /** The size of one entry in {@code blocks.crc}. */
  static final int ENTRY = 8;

  /** The logical entry of a block that failed verification: never equal to a valid one. */
  static final long BAD = -1L;

  private BlockChecksums() {}

  static int crc(byte[] b, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  static long entryFor(byte[] b, int off, int len) {
    return (WRITTEN << 32) | (crc(b, off, len) & 0xFFFFFFFFL);
  }

  static boolean allZero(byte[] b, int off, int len) {
    for (int i = off; i < off + len; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /** The entries of whole blocks of {@code bytes}, computed. */
  static ByteBuffer entriesFor(byte[] bytes, int count) {
    ByteBuffer e = ByteBuffer.allocate(count * ENTRY);
    for (int i = 0; i < count; i++) {
      int off = i * BLOCK;
      e.putLong(entryFor(bytes, off, Math.min(BLOCK, bytes.length - off)));
    }
    e.flip();
    return e;
  }

  /** Entries as stored. */
  static ByteBuffer encode(long[] entries) {
    ByteBuffer e = ByteBuffer.allocate(entries.length * ENTRY);
    for (long x : entries) {
      e.putLong(x);
    }
    e.flip();
    return e;
  }

  /** Stored entries read back ({@code raw} of {@code count} entries). */
  static long[] decode(byte[] raw, int count) {
    ByteBuffer bb = ByteBuffer.wrap(raw);
    long[] out = new long[count];
    for (int i = 0; i < count && bb.remaining() >= ENTRY; i++) {
      out[i] = bb.getLong();
    }
    return out;
  }

  /** Throws for the first block of {@code bytes} (from block {@code first}) its entry rejects. */
  static void verify(String volumeId, long first, byte[] bytes, long[] entries)
      throws VolumeReplica.CorruptBlockException {
    for (int i = 0; i < entries.length; i++) {
      int off = i * BLOCK;
      int len = Math.min(BLOCK, bytes.length - off);
      if (len <= 0) {
        break;
      }
      long e = entries[i];
      if (e >>> 32 == WRITTEN) {
        if ((int) e != crc(bytes, off, len)) {
          throw new VolumeReplica.CorruptBlockException(
              volumeId, first + i, "stored CRC32C does not match");
        }
      } else if (e != 0) {
        throw new VolumeReplica.CorruptBlockException(
            volumeId, first + i, "checksum entry is malformed");
      } else if (!allZero(bytes, off, len)) {
        throw new VolumeReplica.CorruptBlockException(
            volumeId, first + i, "data present in a block without a checksum (torn write)");
      }
    }
  }
}
