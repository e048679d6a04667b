package io.mycnet.storage.operator.allocation;

/**
 * A refused allocation, release or resize, with a reason a caller can map to a status code or a
 * {@code Ready=False} condition, and a message a person can act on.
 */
public class AllocationException extends RuntimeException {
  /** Why an operation was refused. */
  public enum Reason {
    /** A field of the request is invalid (INVALID_ARGUMENT). */
    INVALID_REQUEST,
    /** The volume exists with a different specification (ALREADY_EXISTS). */
    CONFLICT,
    /** The volume does not exist (NOT_FOUND). */
    NOT_FOUND,
    /** The namespace's policy does not allow it (PERMISSION_DENIED / FAILED_PRECONDITION). */
    NOT_ALLOWED,
    /** The namespace's quota would be exceeded (RESOURCE_EXHAUSTED). */
    QUOTA_EXCEEDED,
    /** No set of nodes satisfies the request now (RESOURCE_EXHAUSTED / FAILED_PRECONDITION). */
    NO_PLACEMENT
  }

  private final Reason reason;

  public AllocationException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public static AllocationException invalid(String message) {
    return new AllocationException(Reason.INVALID_REQUEST, message);
  }

  public Reason reason() {
    return reason;
  }
}
