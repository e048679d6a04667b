package io.mycnet.storage.operator.placement;

/**
 * A placement request with a field out of range; the message names the field and what it allows.
 */
public class InvalidPlacementRequestException extends IllegalArgumentException {
  private final String field;

  public InvalidPlacementRequestException(String field, String message) {
    super(field + ": " + message);
    this.field = field;
  }

  /** The offending field of {@link PlacementRequest}, e.g. {@code replicas}. */
  public String field() {
    return field;
  }
}
