package io.mycnet.storage.operator.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The one class through which allocation and replication code reads and writes etcd: typed protobuf
 * reads with their revisions, prefix listings, guarded multi-key transactions and prefix watches.
 * Every call is blocking with a deadline and throws {@link StoreUnavailableException} when etcd
 * does not answer, so no caller can wait forever.
 *
 * <p>An optional {@link Fence} is added to every transaction: while it is set, a transaction
 * commits only if the fencing key still has the revision the fence names (the leadership key of the
 * current leader), so a deposed leader's writes fail instead of landing.
 */
public final class EtcdStore {
  /** A guard every transaction carries: key must exist with exactly this create revision. */
  public record Fence(String key, long createRevision) {
    /** Set on a control plane that is not (or no longer) the leader: nothing it writes lands. */
    public static Fence notLeader(String key) {
      return new Fence(key, -1);
    }

    public boolean isNotLeader() {
      return createRevision < 0;
    }
  }

  /** A fenced write was refused because this process is not the leader. */
  public static final class NotLeaderException extends StoreUnavailableException {
    public NotLeaderException(String message) {
      super(message, null);
    }
  }

  private final Client client;
  private final KV kv;
  private final Duration timeout;
  private volatile Fence fence;

  public EtcdStore(Client client, Duration timeout) {
    this.client = client;
    this.kv = client.getKVClient();
    this.timeout = timeout;
  }

  public Client client() {
    return client;
  }

  public Duration timeout() {
    return timeout;
  }

  /** Sets (or clears, with null) the fence added to every later transaction. */
  public void fence(Fence fence) {
    this.fence = fence;
  }

  public Fence fence() {
    return fence;
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  /** Reads one key and parses it. */
  public <T extends Message> Versioned<T> get(String key, Parser<T> parser) {
    GetResponse r = await(kv.get(bytes(key)), "get " + key);
    if (r.getKvs().isEmpty()) {
      return Versioned.absent(key);
    }
    return parse(r.getKvs().get(0), parser);
  }

  /** Reads several keys in one round trip (one read-only transaction), in the order given. */
  public <T extends Message> List<Versioned<T>> getAll(List<String> keys, Parser<T> parser) {
    List<Versioned<T>> out = new ArrayList<>(keys.size());
    for (Versioned<byte[]> raw : getAllRaw(keys)) {
      out.add(parse(raw, parser));
    }
    return out;
  }

  /**
   * Reads several keys of different record types in one round trip; parse each with {@link
   * #parse(Versioned, Parser)}.
   */
  public List<Versioned<byte[]>> getAllRaw(List<String> keys) {
    if (keys.isEmpty()) {
      return List.of();
    }
    List<Op> gets = new ArrayList<>(keys.size());
    for (String k : keys) {
      gets.add(Op.get(bytes(k), GetOption.DEFAULT));
    }
    TxnResponse r =
        await(kv.txn().Then(gets.toArray(Op[]::new)).commit(), "read of " + keys.size() + " keys");
    List<Versioned<byte[]>> out = new ArrayList<>(keys.size());
    List<GetResponse> answers = r.getGetResponses();
    for (int i = 0; i < keys.size(); i++) {
      GetResponse g = answers.get(i);
      if (g.getKvs().isEmpty()) {
        out.add(Versioned.absent(keys.get(i)));
      } else {
        KeyValue k = g.getKvs().get(0);
        out.add(
            new Versioned<>(
                keys.get(i), k.getValue().getBytes(), k.getModRevision(), k.getCreateRevision()));
      }
    }
    return out;
  }

  /** Parses a raw read. */
  public static <T extends Message> Versioned<T> parse(Versioned<byte[]> raw, Parser<T> parser) {
    if (!raw.exists()) {
      return Versioned.absent(raw.key());
    }
    try {
      return new Versioned<>(
          raw.key(), parser.parseFrom(raw.value()), raw.modRevision(), raw.createRevision());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("etcd key " + raw.key() + " holds an unreadable record", e);
    }
  }

  /** Reads every key under a prefix, in key order, parsed. */
  public <T extends Message> List<Versioned<T>> list(String prefix, Parser<T> parser) {
    GetResponse r =
        await(kv.get(bytes(prefix), GetOption.builder().isPrefix(true).build()), "list " + prefix);
    List<Versioned<T>> out = new ArrayList<>(r.getKvs().size());
    for (KeyValue k : r.getKvs()) {
      out.add(parse(k, parser));
    }
    return out;
  }

  /**
   * Reads every key under each prefix in one read-only transaction, so all of them come from one
   * store revision; one list per prefix, in key order, unparsed.
   */
  public List<List<Versioned<byte[]>>> listAllRaw(List<String> prefixes) {
    List<Op> gets = new ArrayList<>(prefixes.size());
    for (String p : prefixes) {
      gets.add(Op.get(bytes(p), GetOption.builder().isPrefix(true).build()));
    }
    TxnResponse r =
        await(
            kv.txn().Then(gets.toArray(Op[]::new)).commit(),
            "list of " + prefixes.size() + " prefixes");
    List<List<Versioned<byte[]>>> out = new ArrayList<>(prefixes.size());
    for (GetResponse g : r.getGetResponses()) {
      List<Versioned<byte[]>> one = new ArrayList<>(g.getKvs().size());
      for (KeyValue k : g.getKvs()) {
        one.add(
            new Versioned<>(
                k.getKey().toString(StandardCharsets.UTF_8),
                k.getValue().getBytes(),
                k.getModRevision(),
                k.getCreateRevision()));
      }
      out.add(one);
    }
    return out;
  }

  /** A prefix listing and the store revision it was read at. */
  public record Listing<T>(List<Versioned<T>> values, long revision) {}

  /** Reads every key under a prefix, parsed, with the revision of the read (to watch from). */
  public <T extends Message> Listing<T> listWithRevision(String prefix, Parser<T> parser) {
    GetResponse r =
        await(kv.get(bytes(prefix), GetOption.builder().isPrefix(true).build()), "list " + prefix);
    List<Versioned<T>> out = new ArrayList<>(r.getKvs().size());
    for (KeyValue k : r.getKvs()) {
      out.add(parse(k, parser));
    }
    return new Listing<>(out, r.getHeader().getRevision());
  }

  /**
   * Watches every key under a prefix from {@code fromRevision} on; {@code onError} is told when the
   * watch breaks (e.g. the revision was compacted) so the caller can re-list. Callbacks run on the
   * etcd client's event thread: they must not block.
   */
  public Watch.Watcher watchPrefixFrom(
      String prefix, long fromRevision, Consumer<WatchEvent> onEvent, Consumer<Throwable> onError) {
    return client
        .getWatchClient()
        .watch(
            bytes(prefix),
            WatchOption.builder().isPrefix(true).withRevision(fromRevision).build(),
            Watch.listener(r -> r.getEvents().forEach(onEvent), onError));
  }

  /** Reads the keys under a prefix, without values, and the store revision of the read. */
  public List<String> keys(String prefix) {
    GetResponse r =
        await(
            kv.get(bytes(prefix), GetOption.builder().isPrefix(true).withKeysOnly(true).build()),
            "keys " + prefix);
    List<String> out = new ArrayList<>(r.getKvs().size());
    for (KeyValue k : r.getKvs()) {
      out.add(k.getKey().toString(StandardCharsets.UTF_8));
    }
    return out;
  }

  /** Reads a raw string value, if any. */
  public Optional<String> getString(String key) {
    GetResponse r = await(kv.get(bytes(key)), "get " + key);
    return r.getKvs().isEmpty()
        ? Optional.empty()
        : Optional.of(r.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8));
  }

  /** Reads a raw string value with its revisions. */
  public Versioned<String> getVersionedString(String key) {
    GetResponse r = await(kv.get(bytes(key)), "get " + key);
    if (r.getKvs().isEmpty()) {
      return Versioned.absent(key);
    }
    KeyValue k = r.getKvs().get(0);
    return new Versioned<>(
        key,
        k.getValue().toString(StandardCharsets.UTF_8),
        k.getModRevision(),
        k.getCreateRevision());
  }

  private static <T extends Message> Versioned<T> parse(KeyValue k, Parser<T> parser) {
    String key = k.getKey().toString(StandardCharsets.UTF_8);
    try {
      return new Versioned<>(
          key,
          parser.parseFrom(k.getValue().getBytes()),
          k.getModRevision(),
          k.getCreateRevision());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("etcd key " + key + " holds an unreadable record", e);
    }
  }

  /** The id of the lease a key is attached to, or 0 when it has none or does not exist. */
  public long leaseOf(String key) {
    GetResponse r = await(kv.get(bytes(key)), "get " + key);
    return r.getKvs().isEmpty() ? 0 : r.getKvs().get(0).getLease();
  }

  /** Grants a lease of {@code ttlSeconds}. */
  public long grantLease(long ttlSeconds) {
    return await(client.getLeaseClient().grant(ttlSeconds), "lease grant").getID();
  }

  /**
   * Renews a lease once. Returns false when the lease no longer exists (it expired or was revoked).
   */
  public boolean keepAliveOnce(long leaseId) {
    try {
      return await(client.getLeaseClient().keepAliveOnce(leaseId), "lease keep-alive").getTTL() > 0;
    } catch (StoreUnavailableException e) {
      String msg = String.valueOf(e.getMessage());
      if (msg.contains("lease not found") || msg.contains("NOT_FOUND")) {
        return false;
      }
      throw e;
    }
  }

  /** Revokes a lease and so deletes every key attached to it. */
  public void revokeLease(long leaseId) {
    try {
      await(client.getLeaseClient().revoke(leaseId), "lease revoke");
    } catch (StoreUnavailableException e) {
      if (!String.valueOf(e.getMessage()).contains("lease not found")) {
        throw e;
      }
    }
  }

  /** Puts a string value attached to a lease (the key disappears when the lease expires). */
  public void putWithLease(String key, String value, long leaseId) {
    await(
        kv.put(bytes(key), bytes(value), PutOption.builder().withLeaseId(leaseId).build()),
        "put " + key);
  }

  /** Starts a guarded transaction, fenced when a fence is set. */
  public Txn txn() {
    return new Txn(true);
  }

  /** Starts a transaction without the fence (leader election itself uses this). */
  public Txn unfencedTxn() {
    return new Txn(false);
  }

  /**
   * Watches every key under a prefix from the current revision on. {@code onEvent} runs on the etcd
   * client's event thread: it must not block, and must not call etcd synchronously (hand work off
   * to an executor), or the client stalls.
   */
  public Watch.Watcher watchPrefix(String prefix, Consumer<WatchEvent> onEvent) {
    return client
        .getWatchClient()
        .watch(
            bytes(prefix),
            WatchOption.builder().isPrefix(true).build(),
            Watch.listener(r -> r.getEvents().forEach(onEvent)));
  }

  <R> R await(CompletableFuture<R> f, String what) {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      f.cancel(true);
      throw new StoreUnavailableException("interrupted during etcd " + what, e);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new StoreUnavailableException(
          "etcd did not answer " + what + " within " + timeout.toMillis() + " ms", e);
    } catch (ExecutionException e) {
      throw new StoreUnavailableException(
          "etcd " + what + " failed: " + e.getCause().getMessage(), e.getCause());
    }
  }

  /**
   * A multi-key transaction: every {@code require*} guard must hold for the writes to apply, all
   * together or none.
   */
  public final class Txn {
    private final List<Cmp> cmps = new ArrayList<>();
    private final List<Op> ops = new ArrayList<>();
    private final boolean fenced;

    private Txn(boolean fenced) {
      this.fenced = fenced;
    }

    /** Puts a string attached to a lease. */
    public Txn putWithLease(String key, String value, long leaseId) {
      ops.add(Op.put(bytes(key), bytes(value), PutOption.builder().withLeaseId(leaseId).build()));
      return this;
    }

    /**
     * Guards on a key's modification revision as read; revision 0 means "the key must not exist".
     */
    public Txn requireModRevision(String key, long modRevision) {
      if (modRevision == 0) {
        cmps.add(new Cmp(bytes(key), Cmp.Op.EQUAL, CmpTarget.version(0)));
      } else {
        cmps.add(new Cmp(bytes(key), Cmp.Op.EQUAL, CmpTarget.modRevision(modRevision)));
      }
      return this;
    }

    /** Guards on what was read: {@code v.modRevision()}. */
    public Txn requireUnchanged(Versioned<?> v) {
      return requireModRevision(v.key(), v.modRevision());
    }

    public Txn requireAbsent(String key) {
      return requireModRevision(key, 0);
    }

    public Txn put(String key, Message value) {
      ops.add(Op.put(bytes(key), ByteSequence.from(value.toByteArray()), PutOption.DEFAULT));
      return this;
    }

    public Txn putString(String key, String value) {
      ops.add(Op.put(bytes(key), bytes(value), PutOption.DEFAULT));
      return this;
    }

    public Txn delete(String key) {
      ops.add(Op.delete(bytes(key), DeleteOption.DEFAULT));
      return this;
    }

    public boolean isEmpty() {
      return ops.isEmpty();
    }

    /**
     * Commits. Returns false when a guard (or the fence) did not hold and nothing was written.
     *
     * @throws StoreUnavailableException when etcd did not answer; the transaction may have been
     *     applied, so callers re-read before deciding again
     */
    public boolean commit() {
      Fence f = fenced ? fence : null;
      if (f != null && f.isNotLeader()) {
        throw new NotLeaderException("this control plane is not the leader; its writes are fenced");
      }
      List<Cmp> all = new ArrayList<>(cmps);
      if (f != null) {
        all.add(
            new Cmp(bytes(f.key()), Cmp.Op.EQUAL, CmpTarget.createRevision(f.createRevision())));
      }
      TxnResponse r =
          await(
              kv.txn().If(all.toArray(Cmp[]::new)).Then(ops.toArray(Op[]::new)).commit(),
              "transaction of " + ops.size() + " writes");
      if (!r.isSucceeded() && f != null) {
        Versioned<String> leader = getVersionedString(f.key());
        if (leader.createRevision() != f.createRevision()) {
          throw new NotLeaderException(
              "leadership was lost (the leader key changed); this control plane stops writing");
        }
      }
      return r.isSucceeded();
    }
  }
}
