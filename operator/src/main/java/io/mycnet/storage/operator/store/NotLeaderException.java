package io.mycnet.storage.operator.store;

/** A fenced write was refused because this process is not the leader. */
public final class NotLeaderException extends StoreUnavailableException {
  public NotLeaderException(String message) {
    super(message, null);
  }
}
