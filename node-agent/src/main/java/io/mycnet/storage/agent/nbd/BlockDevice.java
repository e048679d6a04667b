package io.mycnet.storage.agent.nbd;

import java.io.IOException;
import java.util.List;

/**
 * One opened export's bytes as the NBD server serves them. Every method may be called from several
 * threads at once (requests of one connection are served concurrently, and answered out of order);
 * ranges are already checked against {@link #sizeBytes()} by the server. A failure is a {@link
 * BlockIoException}, whose kind becomes the NBD error code; any other exception is {@code EIO}.
 */
public interface BlockDevice extends AutoCloseable {

  long sizeBytes();

  /** True when this opening may not write (read-only attachment, read-only share). */
  boolean readOnly();

  /**
   * True when FLUSH and FUA on one connection cover writes acknowledged on every other connection
   * of the same volume (NBD_FLAG_CAN_MULTI_CONN).
   */
  boolean flushCoversAllConnections();

  byte[] read(long offset, int length) throws IOException;

  /** Acknowledged writes are durable after {@link #flush}; with {@code fua}, when it returns. */
  void write(long offset, byte[] data, boolean fua) throws IOException;

  /** Durable on the volume's consistency level: every write acknowledged before it. */
  void flush() throws IOException;

  /** The range reads as zeros afterwards and may become a hole. */
  void trim(long offset, long length, boolean fua) throws IOException;

  /** The range reads as zeros afterwards; with {@code noHole} it stays allocated. */
  void writeZeroes(long offset, long length, boolean noHole, boolean fua) throws IOException;

  /**
   * The extents from {@code offset} on, in order, covering at least one byte and at most {@code
   * length} bytes.
   */
  List<Extent> map(long offset, long length) throws IOException;

  /** A run of bytes that is a hole (reads as zeros, nothing stored) or holds data. */
  record Extent(long length, boolean hole) {}

  /** Releases what this opening holds; the server calls it once, when the connection ends. */
  @Override
  void close();
}
