package io.mycnet.storage.agent.nbd;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test volume: a real sparse file and a map of its allocated 4 KiB blocks. {@link #open} gives a
 * {@link BlockDevice} over it (several openings share the file, as the connections of one volume
 * share its replicas). A gate can hold reads at one offset, to see requests overlap.
 */
final class SparseVolume implements AutoCloseable {
  static final int BLOCK = 4096;

  final String name;
  final long size;
  private final FileChannel file;
  private final BitSet allocated = new BitSet();
  final AtomicInteger opened = new AtomicInteger();
  final AtomicInteger closed = new AtomicInteger();

  /** Device calls running now, and the most seen at once. */
  final AtomicInteger running = new AtomicInteger();

  final AtomicInteger maxRunning = new AtomicInteger();
  private volatile long heldOffset = -1;
  private volatile CountDownLatch gate = new CountDownLatch(0);

  /** Thrown by the next flush when set (then cleared): an error from below the device. */
  volatile Error failNextFlush;

  SparseVolume(Path dir, String name, long size) throws IOException {
    this.name = name;
    this.size = size;
    Path p = dir.resolve(name + ".img");
    try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
      raf.setLength(size);
    }
    this.file = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /**
   * Reads at {@code offset} (all of them, when negative: every read) wait until {@link #release}.
   */
  void hold(long offset) {
    gate = new CountDownLatch(1);
    heldOffset = offset;
  }

  void release() {
    heldOffset = -1;
    gate.countDown();
  }

  synchronized boolean isAllocated(long offset) {
    return allocated.get((int) (offset / BLOCK));
  }

  BlockDevice open(boolean readOnly) {
    opened.incrementAndGet();
    return new Opening(readOnly);
  }

  byte[] readDirect(long offset, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    while (b.hasRemaining()) {
      int n = file.read(b, offset + b.position());
      if (n < 0) {
        throw new IOException("short file");
      }
    }
    return b.array();
  }

  private void writeBytes(long offset, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      file.write(b, offset + b.position());
    }
  }

  private void zero(long offset, long length) throws IOException {
    byte[] zeros = new byte[(int) Math.min(length, 1 << 20)];
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(zeros.length, length - done);
      writeBytes(offset + done, ByteBuffer.wrap(zeros, 0, n));
      done += n;
    }
  }

  private synchronized void mark(long offset, long length, boolean value) {
    if (length == 0) {
      return;
    }
    allocated.set((int) (offset / BLOCK), (int) ((offset + length - 1) / BLOCK) + 1, value);
  }

  /** Zeros a range; whole blocks inside it become holes unless {@code keep}. */
  private void punch(long offset, long length, boolean keep) throws IOException {
    zero(offset, length);
    if (keep) {
      mark(offset, length, true);
      return;
    }
    long firstWhole = (offset + BLOCK - 1) / BLOCK * BLOCK;
    long endWhole = (offset + length) / BLOCK * BLOCK;
    if (endWhole > firstWhole) {
      mark(firstWhole, endWhole - firstWhole, false);
    }
  }

  private synchronized List<BlockDevice.Extent> mapRange(long offset, long length) {
    List<BlockDevice.Extent> out = new ArrayList<>();
    long pos = offset;
    long end = offset + length;
    while (pos < end && out.size() < 1024) {
      int block = (int) (pos / BLOCK);
      boolean alloc = allocated.get(block);
      int next = alloc ? allocated.nextClearBit(block) : allocated.nextSetBit(block);
      long runEnd = next < 0 ? size : Math.min(size, (long) next * BLOCK);
      long n = Math.min(runEnd, end) - pos;
      out.add(new BlockDevice.Extent(n, !alloc));
      pos += n;
    }
    return out;
  }

  @Override
  public void close() throws IOException {
    file.close();
  }

  private final class Opening implements BlockDevice {
    private final boolean readOnly;
    private final AtomicInteger closes = new AtomicInteger();

    Opening(boolean readOnly) {
      this.readOnly = readOnly;
    }

    @Override
    public long sizeBytes() {
      return size;
    }

    @Override
    public boolean readOnly() {
      return readOnly;
    }

    @Override
    public boolean flushCoversAllConnections() {
      return true; // one file: force() covers every opening's writes
    }

    private void enter() {
      int now = running.incrementAndGet();
      maxRunning.accumulateAndGet(now, Math::max);
    }

    @Override
    public byte[] read(long offset, int length) throws IOException {
      enter();
      try {
        long held = heldOffset;
        if (held == -2 || held == offset) {
          try {
            if (!gate.await(30, TimeUnit.SECONDS)) {
              throw new BlockIoException(BlockIoException.Kind.IO, "test gate never opened");
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIoException(BlockIoException.Kind.IO, "interrupted");
          }
        }
        return readDirect(offset, length);
      } finally {
        running.decrementAndGet();
      }
    }

    @Override
    public void write(long offset, byte[] data, boolean fua) throws IOException {
      writeBytes(offset, ByteBuffer.wrap(data));
      mark(offset, data.length, true);
      if (fua) {
        file.force(false);
      }
    }

    @Override
    public void flush() throws IOException {
      Error e = failNextFlush;
      if (e != null) {
        failNextFlush = null;
        throw e;
      }
      file.force(false);
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
      punch(offset, length, false);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fua)
        throws IOException {
      punch(offset, length, noHole);
    }

    @Override
    public List<Extent> map(long offset, long length) {
      return mapRange(offset, length);
    }

    @Override
    public void close() {
      if (closes.getAndIncrement() == 0) {
        closed.incrementAndGet();
      } else {
        throw new UncheckedIOException(new IOException("closed twice"));
      }
    }
  }
}
