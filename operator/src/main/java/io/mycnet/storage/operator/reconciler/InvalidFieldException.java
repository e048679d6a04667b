package io.mycnet.storage.operator.reconciler;

/**
 * A custom resource field that the schema accepted but the control plane cannot use. {@link
 * #field()} is the path as a user writes it ({@code spec.size}, {@code spec.weights.uptime}); the
 * message starts with it, so a {@code Ready=False} condition names the field and the reason.
 */
public final class InvalidFieldException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String field;

  public InvalidFieldException(String field, String problem) {
    super(field + ": " + problem);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
