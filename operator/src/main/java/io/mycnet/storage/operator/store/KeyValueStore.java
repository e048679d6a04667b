package io.mycnet.storage.operator.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The control plane's view of its key-value store (etcd in production, {@link InMemoryStore} in
 * unit tests): typed reads with the revisions a later write can be guarded by, guarded multi-key
 * transactions, leases, prefix watches and the leadership fence. Allocation, replication, the node
 * registry, the command queues and the security records reach the store only through this
 * interface.
 *
 * <p>Revisions follow etcd: one store-wide counter that every successful write advances once (a
 * transaction's writes share one revision); a key's create revision is the revision that created it
 * and its mod revision the one that last changed it; a key that does not exist reads with both 0.
 *
 * <p>Every call is blocking with a deadline and throws {@link StoreUnavailableException} when the
 * store does not answer, so no caller can wait forever. A transaction of a fenced store throws
 * {@link NotLeaderException} (a {@link StoreUnavailableException}) when the fence does not hold.
 */
public interface KeyValueStore {

  /** A prefix listing and the store revision it was read at. */
  record Listing<T>(List<Versioned<T>> values, long revision) {}

  /** Sets (or clears, with null) the fence added to every later transaction. */
  void fence(Fence fence);

  /** The fence every transaction carries now, or null. */
  Fence fence();

  /** Reads one key and parses it. */
  <T extends Message> Versioned<T> get(String key, Parser<T> parser);

  /** Reads several keys in one round trip (one store revision), in the order given. */
  <T extends Message> List<Versioned<T>> getAll(List<String> keys, Parser<T> parser);

  /**
   * Reads several keys of different record types in one round trip; parse each with {@link
   * #parse(Versioned, Parser)}.
   */
  List<Versioned<byte[]>> getAllRaw(List<String> keys);

  /** Reads every key under a prefix, in key order, parsed. */
  <T extends Message> List<Versioned<T>> list(String prefix, Parser<T> parser);

  /**
   * Reads every key under each prefix at one store revision; one list per prefix, in key order,
   * unparsed.
   */
  List<List<Versioned<byte[]>>> listAllRaw(List<String> prefixes);

  /** Reads every key under a prefix, parsed, with the revision of the read (to watch from). */
  <T extends Message> Listing<T> listWithRevision(String prefix, Parser<T> parser);

  /** Reads the keys under a prefix, without values, in key order. */
  List<String> keys(String prefix);

  /** Reads a raw string value, if any. */
  Optional<String> getString(String key);

  /** Reads a raw string value with its revisions. */
  Versioned<String> getVersionedString(String key);

  /** The id of the lease a key is attached to, or 0 when it has none or does not exist. */
  long leaseOf(String key);

  /** Grants a lease of {@code ttlSeconds}; keys attached to it vanish when it expires. */
  long grantLease(long ttlSeconds);

  /** Renews a lease once. Returns false when the lease no longer exists (expired or revoked). */
  boolean keepAliveOnce(long leaseId);

  /** Revokes a lease and so deletes every key attached to it; an unknown lease is ignored. */
  void revokeLease(long leaseId);

  /**
   * Puts a string value attached to a lease (the key disappears when the lease expires).
   *
   * @throws StoreUnavailableException also when the lease does not exist
   */
  void putWithLease(String key, String value, long leaseId);

  /** Starts a guarded transaction, fenced when a fence is set. */
  Txn txn();

  /**
   * Starts a transaction without the fence: only leader election, which sets the fence, uses it.
   */
  Txn unfencedTxn();

  /**
   * Watches every key under a prefix from the current revision on. {@code onEvent} runs on the
   * store's event thread, in revision order: it must not block, and must not call the store
   * synchronously (hand work off to an executor).
   */
  StoreWatch watchPrefix(String prefix, Consumer<StoreEvent> onEvent);

  /**
   * Watches every key under a prefix from {@code fromRevision} on (history first, then live events,
   * in revision order); {@code onError} is told when the watch breaks, e.g. because the revision
   * was compacted, so the caller can re-list.
   */
  StoreWatch watchPrefixFrom(
      String prefix, long fromRevision, Consumer<StoreEvent> onEvent, Consumer<Throwable> onError);

  /** Parses a raw read. */
  static <T extends Message> Versioned<T> parse(Versioned<byte[]> raw, Parser<T> parser) {
    if (!raw.exists()) {
      return Versioned.absent(raw.key());
    }
    try {
      return new Versioned<>(
          raw.key(), parser.parseFrom(raw.value()), raw.modRevision(), raw.createRevision());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("store key " + raw.key() + " holds an unreadable record", e);
    }
  }
}
