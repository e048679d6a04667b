package io.mycnet.storage.agent.replica;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The two files of a replica's block store, without meaning: {@code data} (a sparse file of the
 * volume's size, block {@code b} at byte {@code b * BLOCK}) and the entry file (one fixed-size
 * entry per block, the block's checksum or seal). Reads beyond the end of either file are zeros.
 * Callers serialise reads and writes ({@link VolumeReplica} holds the lock); {@link #force} may run
 * concurrently with them (positional I/O on the channels is thread-safe).
 */
final class BlockFile implements AutoCloseable {
  static final int BLOCK = VolumeReplica.BLOCK;

  private volatile long sizeBytes;
  private final int entrySize;
  private final FileChannel data;
  private final FileChannel sums;

  /** Opens (creating and sizing as needed) {@code dir/data} and {@code dir/entryFile}. */
  BlockFile(Path dir, String entryFile, int entrySize, long sizeBytes) throws IOException {
    this.sizeBytes = sizeBytes;
    this.entrySize = entrySize;
    this.data =
        FileChannel.open(
            dir.resolve("data"),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    this.sums =
        FileChannel.open(
            dir.resolve(entryFile),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    extend(sizeBytes);
  }

  /** Extends both files (sparse) to hold {@code size} bytes; never shrinks them. */
  private void extend(long size) throws IOException {
    if (data.size() < size) {
      // sparse: extend by writing the last byte's position
      data.write(ByteBuffer.allocate(1), size - 1);
    }
    long entries = (size + BLOCK - 1) / BLOCK * entrySize;
    if (sums.size() < entries) {
      sums.write(ByteBuffer.allocate(entrySize), entries - entrySize);
    }
  }

  /**
   * Grows the volume to {@code size} bytes: both files extended (the new blocks have all-zero
   * entries, so they read as zeros) and fsync'd before the new size is used. The caller holds the
   * replica's lock and checked that the old size is whole blocks.
   */
  void grow(long size) throws IOException {
    extend(size);
    data.force(true);
    sums.force(true);
    sizeBytes = size;
  }

  long sizeBytes() {
    return sizeBytes;
  }

  /** The size of one block's entry in the entry file. */
  int entrySize() {
    return entrySize;
  }

  long blocks() {
    return (sizeBytes + BLOCK - 1) / BLOCK;
  }

  /** Raw bytes of whole blocks [first, first+count), no verification. */
  byte[] readBlocks(long first, int count) throws IOException {
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

  /** Raw bytes of the data file from {@code pos}, zeros beyond its end. */
  byte[] readData(long pos, int n) throws IOException {
    ByteBuffer bb = ByteBuffer.allocate(n);
    while (bb.hasRemaining()) {
      if (data.read(bb, pos + bb.position()) < 0) {
        break;
      }
    }
    return bb.array();
  }

  /** The raw entries of blocks [first, first+count). */
  byte[] readEntries(long first, int count) throws IOException {
    byte[] out = new byte[count * entrySize];
    ByteBuffer bb = ByteBuffer.wrap(out);
    while (bb.hasRemaining()) {
      if (sums.read(bb, first * entrySize + bb.position()) < 0) {
        break;
      }
    }
    return out;
  }

  /** Writes whole blocks' bytes from block {@code first} (not synced). */
  void writeBlocks(long first, byte[] bytes) throws IOException {
    ByteBuffer d = ByteBuffer.wrap(bytes);
    long start = first * BLOCK;
    while (d.hasRemaining()) {
      data.write(d, start + d.position());
    }
  }

  /** Writes entries from block {@code first} (not synced). */
  void writeEntries(long first, ByteBuffer e) throws IOException {
    while (e.hasRemaining()) {
      sums.write(e, first * entrySize + e.position());
    }
  }

  /** Makes both files durable: every write completed before the call. */
  void force() throws IOException {
    data.force(false);
    sums.force(false);
  }

  @Override
  public void close() throws IOException {
    data.close();
    sums.close();
  }
}
