package io.mycnet.storage.operator.store;

/**
 * etcd did not answer in time or refused the call. The operation may or may not have been applied;
 * every operation of this package is idempotent, so the caller retries it.
 */
public class StoreUnavailableException extends RuntimeException {
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
