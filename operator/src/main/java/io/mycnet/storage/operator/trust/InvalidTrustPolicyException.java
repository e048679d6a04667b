package io.mycnet.storage.operator.trust;

/**
 * A {@link TrustPolicy} that cannot be used. The message starts with the offending field's path as
 * the TrustPolicy custom resource spells it ({@code weights.UPTIME}, {@code thresholds}, {@code
 * decay}, {@code gates.SENSITIVE.ENCRYPTION_COMPLIANCE}, ...), and {@link #field()} returns that
 * path alone, so a reconciler can write a {@code Ready=False} condition naming it.
 */
public final class InvalidTrustPolicyException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String field;

  public InvalidTrustPolicyException(String field, String message) {
    super(message);
    this.field = field;
  }

  /** The path of the offending field, e.g. {@code weights.UPTIME}. */
  public String field() {
    return field;
  }
}
