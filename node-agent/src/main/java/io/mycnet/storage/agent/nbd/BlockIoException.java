package io.mycnet.storage.agent.nbd;

import java.io.IOException;

/** A failed block request, with the kind that decides the NBD error code the client sees. */
public final class BlockIoException extends IOException {

  /** The NBD error each kind is answered with. */
  public enum Kind {
    /** NBD_EIO: the data could not be read or made durable. */
    IO(5),
    /** NBD_EPERM: a write to a read-only opening, or access withdrawn (fenced, detached). */
    NOT_PERMITTED(1),
    /** NBD_ENOSPC: no space left for the write. */
    NO_SPACE(28),
    /** NBD_EINVAL: the request makes no sense for this export. */
    INVALID(22),
    /** NBD_ENOTSUP: FAST_ZERO that cannot be fast. */
    NOT_SUPPORTED(95),
    /** NBD_ESHUTDOWN: the export is going away; the client should disconnect. */
    SHUTDOWN(108);

    public final int errno;

    Kind(int errno) {
      this.errno = errno;
    }
  }

  private final Kind kind;

  public BlockIoException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public BlockIoException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
