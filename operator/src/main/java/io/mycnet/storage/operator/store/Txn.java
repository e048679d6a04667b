package io.mycnet.storage.operator.store;

import com.google.protobuf.Message;

/**
 * A multi-key transaction of a {@link KeyValueStore}: every {@code require*} guard must hold for
 * the writes to apply, all together or none, at one new store revision.
 */
public interface Txn {
  /** Guards on a key's modification revision as read; revision 0 means "the key must not exist". */
  Txn requireModRevision(String key, long modRevision);

  /** Guards on what was read: {@code v.modRevision()}. */
  default Txn requireUnchanged(Versioned<?> v) {
    return requireModRevision(v.key(), v.modRevision());
  }

  /** Guards on the key not existing. */
  default Txn requireAbsent(String key) {
    return requireModRevision(key, 0);
  }

  Txn put(String key, Message value);

  Txn putString(String key, String value);

  /** Puts a string attached to a lease. */
  Txn putWithLease(String key, String value, long leaseId);

  Txn delete(String key);

  /** True when the transaction writes nothing. */
  boolean isEmpty();

  /**
   * Commits. Returns false when a guard did not hold and nothing was written.
   *
   * @throws NotLeaderException when the store is fenced and the fence does not hold
   * @throws StoreUnavailableException when the store did not answer; the transaction may have been
   *     applied, so callers re-read before deciding again
   */
  boolean commit();
}
