package io.mycnet.storage.operator.security;

import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.api.v1.IssuedCertificateRecord;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.api.v1.RevocationRecord;
import io.mycnet.storage.api.v1.TokenUseRecord;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Versioned;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable security state of the node API in etcd, so that it survives control-plane restarts:
 *
 * <table>
 *   <caption>etcd keys under {@code <prefix>/security/}</caption>
 *   <tr><th>key</th><th>value</th></tr>
 *   <tr><td>{@code issued/<node>/<serial>}</td><td>{@code IssuedCertificateRecord}, kept until the
 *       certificate expires</td></tr>
 *   <tr><td>{@code issued-clients/<namespace>/<serial>}</td><td>{@code IssuedCertificateRecord}
 *       of a volume client certificate ({@code node_id} holds its CN, {@code client:<namespace>}),
 *       recorded by whoever had it signed, so that it can be revoked by namespace</td></tr>
 *   <tr><td>{@code token-uses/<token-id>}</td><td>{@code TokenUseRecord}: the node a single-use
 *       token was spent on</td></tr>
 *   <tr><td>{@code revoked-serials/<serial>}</td><td>{@code RevocationRecord}</td></tr>
 *   <tr><td>{@code revoked-nodes/<node>}</td><td>{@code RevocationRecord}; deleted when an
 *       administrator re-admits the node</td></tr>
 *   <tr><td>{@code revoked-tokens/<token-id>}</td><td>{@code RevocationRecord}</td></tr>
 * </table>
 *
 * Revocations are also held in memory, kept current by an etcd watch ({@link #startWatching}), so
 * that the per-call certificate check costs no etcd round trip and a revocation written by any
 * process (another control plane, an admin command) takes effect at once. The same view is pushed
 * to every agent ({@link #revocationList}, {@link #onChanged}) so that their data ports refuse
 * revoked identities too (docs/data-path.md).
 */
public final class SecurityStore implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SecurityStore.class);
  public static final int SCHEMA_VERSION = 1;
  private static final int MAX_ATTEMPTS = 20;

  private final EtcdStore store;
  private final Clock clock;
  private final String root;
  private final Map<String, RevocationRecord> revokedSerials = new ConcurrentHashMap<>();
  private final Map<String, RevocationRecord> revokedNodes = new ConcurrentHashMap<>();
  private final Map<String, RevocationRecord> revokedTokens = new ConcurrentHashMap<>();
  private final List<Consumer<RevocationRecord>> listeners = new CopyOnWriteArrayList<>();
  private final List<Runnable> changeListeners = new CopyOnWriteArrayList<>();
  private volatile long revision;
  private volatile Watch.Watcher watcher;

  public SecurityStore(EtcdStore store, EtcdKeys keys, Clock clock) {
    this.store = store;
    this.clock = clock;
    this.root = keys.prefix() + "/security/";
  }

  String issuedPrefix(String nodeId) {
    return root + "issued/" + EtcdKeys.id("node id", nodeId) + "/";
  }

  String issuedClientsPrefix(String namespace) {
    return root + "issued-clients/" + EtcdKeys.id("namespace", namespace) + "/";
  }

  String tokenUseKey(String tokenId) {
    return root + "token-uses/" + EtcdKeys.id("token id", tokenId);
  }

  String revokedSerialsPrefix() {
    return root + "revoked-serials/";
  }

  String revokedNodesPrefix() {
    return root + "revoked-nodes/";
  }

  String revokedTokensPrefix() {
    return root + "revoked-tokens/";
  }

  /**
   * Loads every revocation and keeps the in-memory view current with a watch. {@code onRevoked} is
   * called for each revocation seen from then on (e.g. to end a removed node's session).
   */
  public synchronized void startWatching() {
    if (watcher != null) {
      return;
    }
    watcher =
        store.watchPrefix(
            root + "revoked-",
            e -> {
              String key = e.getKeyValue().getKey().toString(StandardCharsets.UTF_8);
              if (e.getEventType() == WatchEvent.EventType.DELETE) {
                if (key.startsWith(revokedNodesPrefix())) {
                  String node = key.substring(revokedNodesPrefix().length());
                  revokedNodes.remove(node);
                  advance(e.getKeyValue().getModRevision());
                  LOG.info("node {} was re-admitted", node);
                  changed();
                }
                return;
              }
              try {
                RevocationRecord r =
                    RevocationRecord.parseFrom(e.getKeyValue().getValue().getBytes());
                boolean fresh = remember(key, r);
                advance(e.getKeyValue().getModRevision());
                if (fresh) {
                  for (Consumer<RevocationRecord> l : listeners) {
                    l.accept(r);
                  }
                  changed();
                }
              } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                LOG.error("unreadable revocation record at {}", key, ex);
              }
            });
    for (String prefix :
        List.of(revokedSerialsPrefix(), revokedNodesPrefix(), revokedTokensPrefix())) {
      for (Versioned<RevocationRecord> v : store.list(prefix, RevocationRecord.parser())) {
        remember(v.key(), v.value());
        advance(v.modRevision());
      }
    }
    LOG.info(
        "revocations loaded: {} certificate(s), {} node(s), {} token(s)",
        revokedSerials.size(),
        revokedNodes.size(),
        revokedTokens.size());
  }

  private boolean remember(String key, RevocationRecord r) {
    if (key.startsWith(revokedSerialsPrefix())) {
      return revokedSerials.put(r.getSerial(), r) == null;
    } else if (key.startsWith(revokedNodesPrefix())) {
      return revokedNodes.put(r.getNodeId(), r) == null;
    } else if (key.startsWith(revokedTokensPrefix())) {
      return revokedTokens.put(r.getTokenId(), r) == null;
    }
    return false;
  }

  private synchronized void advance(long modRevision) {
    revision = Math.max(revision + (modRevision > 0 ? 0 : 1), modRevision);
  }

  private void changed() {
    for (Runnable l : changeListeners) {
      try {
        l.run();
      } catch (RuntimeException ex) {
        LOG.warn("revocation change listener failed: {}", ex.toString());
      }
    }
  }

  /**
   * Called whenever the revocation view changed (a revocation added, a node re-admitted), after
   * {@link #revocationList} reflects it.
   */
  public void onChanged(Runnable listener) {
    changeListeners.add(listener);
  }

  /** The etcd revision of the newest change in the in-memory view (0: none seen). */
  public long revision() {
    return revision;
  }

  /**
   * Every revoked certificate serial and every revoked (not re-admitted) node id, from memory
   * (watch-fed; use after {@link #startWatching}): what agents refuse on their data ports.
   */
  public RevocationList revocationList() {
    long rev = revision;
    return RevocationList.newBuilder()
        .addAllSerials(new java.util.TreeSet<>(revokedSerials.keySet()))
        .addAllNodeIds(new java.util.TreeSet<>(revokedNodes.keySet()))
        .setRevision(rev)
        .build();
  }

  /** Called for every revocation seen by the watch. */
  public void onRevoked(Consumer<RevocationRecord> listener) {
    listeners.add(listener);
  }

  /** From memory (watch-fed); use after {@link #startWatching}. */
  public Optional<RevocationRecord> cachedSerialRevocation(String serial) {
    return Optional.ofNullable(revokedSerials.get(serial));
  }

  /** From memory (watch-fed); use after {@link #startWatching}. */
  public Optional<RevocationRecord> cachedNodeRevocation(String nodeId) {
    return Optional.ofNullable(revokedNodes.get(nodeId));
  }

  /** Read from etcd (authoritative). */
  public Optional<RevocationRecord> nodeRevocation(String nodeId) {
    return Optional.ofNullable(
        store
            .get(revokedNodesPrefix() + EtcdKeys.id("node id", nodeId), RevocationRecord.parser())
            .value());
  }

  /** Read from etcd (authoritative). */
  public Optional<RevocationRecord> tokenRevocation(String tokenId) {
    return Optional.ofNullable(
        store
            .get(
                revokedTokensPrefix() + EtcdKeys.id("token id", tokenId), RevocationRecord.parser())
            .value());
  }

  /** Read from etcd (authoritative). */
  public Optional<RevocationRecord> serialRevocation(String serial) {
    return Optional.ofNullable(
        store
            .get(revokedSerialsPrefix() + EtcdKeys.id("serial", serial), RevocationRecord.parser())
            .value());
  }

  /**
   * Spends a single-use token on {@code nodeId}. Returns empty when the token is now (or already
   * was) bound to this node, or the id of the other node it was spent on.
   */
  public Optional<String> claimSingleUse(String tokenId, String nodeId) {
    String key = tokenUseKey(tokenId);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<TokenUseRecord> current = store.get(key, TokenUseRecord.parser());
      if (current.exists()) {
        String owner = current.value().getNodeId();
        return owner.equals(nodeId) ? Optional.empty() : Optional.of(owner);
      }
      TokenUseRecord use =
          TokenUseRecord.newBuilder()
              .setSchemaVersion(SCHEMA_VERSION)
              .setTokenId(tokenId)
              .setNodeId(nodeId)
              .setUsedAtUnixMs(clock.millis())
              .build();
      if (store.txn().requireAbsent(key).put(key, use).commit()) {
        return Optional.empty();
      }
    }
    throw new StoreUnavailableException("claim of token " + tokenId + " kept conflicting", null);
  }

  /**
   * Records an issued certificate and forgets the node's expired ones, in one transaction ({@link
   * #addIssued}). Returns the serials of the node's certificates that are still valid and not
   * revoked (this one included).
   */
  public List<String> recordIssued(NodeCertificate cert, String tokenId) {
    EtcdStore.Txn txn = store.txn();
    List<String> live = addIssued(txn, cert, tokenId);
    txn.commit();
    return live;
  }

  /**
   * Revokes a node: its id (refused at join and on every call until re-admitted), every certificate
   * issued to it that has not expired, and every single-use token it joined with. One etcd
   * transaction; idempotent.
   *
   * @return the revoked certificate serials
   */
  public List<String> revokeNode(String nodeId, String reason) {
    EtcdStore.Txn txn = store.txn();
    List<String> serials = addNodeRevocation(txn, nodeId, reason);
    txn.commit();
    LOG.info("revoked node {} and {} certificate(s): {}", nodeId, serials.size(), reason);
    return serials;
  }

  /**
   * Adds to {@code txn} the writes of {@link #revokeNode}, so that a caller can revoke a node in
   * the same transaction as other changes (an operator's removal).
   *
   * @return the certificate serials the transaction revokes
   */
  public List<String> addNodeRevocation(EtcdStore.Txn txn, String nodeId, String reason) {
    long now = clock.millis();
    txn.put(
        revokedNodeKey(nodeId),
        RevocationRecord.newBuilder()
            .setSchemaVersion(SCHEMA_VERSION)
            .setNodeId(nodeId)
            .setRevokedAtUnixMs(now)
            .setReason(reason)
            .build());
    List<Versioned<IssuedCertificateRecord>> issued =
        store.list(issuedPrefix(nodeId), IssuedCertificateRecord.parser());
    List<String> serials = putSerialRevocations(txn, nodeId, issued, reason, now);
    java.util.Set<String> tokensSeen = new java.util.HashSet<>();
    for (Versioned<IssuedCertificateRecord> v : issued) {
      IssuedCertificateRecord rec = v.value();
      if (!rec.getTokenId().isEmpty() && tokensSeen.add(rec.getTokenId())) {
        Versioned<TokenUseRecord> use =
            store.get(tokenUseKey(rec.getTokenId()), TokenUseRecord.parser());
        if (use.exists() && use.value().getNodeId().equals(nodeId)) {
          txn.put(
              revokedTokensPrefix() + rec.getTokenId(),
              RevocationRecord.newBuilder()
                  .setSchemaVersion(SCHEMA_VERSION)
                  .setTokenId(rec.getTokenId())
                  .setNodeId(nodeId)
                  .setRevokedAtUnixMs(now)
                  .setReason("single-use token of removed node " + nodeId + ": " + reason)
                  .build());
        }
      }
    }
    return serials;
  }

  /**
   * Adds to {@code txn} a revocation of every certificate issued to {@code nodeId} that has not
   * expired (the node id itself stays as it is).
   *
   * @return the certificate serials the transaction revokes
   */
  public List<String> addCertificateRevocations(EtcdStore.Txn txn, String nodeId, String reason) {
    return putSerialRevocations(
        txn,
        nodeId,
        store.list(issuedPrefix(nodeId), IssuedCertificateRecord.parser()),
        reason,
        clock.millis());
  }

  private List<String> putSerialRevocations(
      EtcdStore.Txn txn,
      String nodeId,
      List<Versioned<IssuedCertificateRecord>> issued,
      String reason,
      long now) {
    List<String> serials = new ArrayList<>();
    for (Versioned<IssuedCertificateRecord> v : issued) {
      IssuedCertificateRecord rec = v.value();
      serials.add(rec.getSerial());
      txn.put(
          revokedSerialsPrefix() + rec.getSerial(),
          RevocationRecord.newBuilder()
              .setSchemaVersion(SCHEMA_VERSION)
              .setSerial(rec.getSerial())
              .setNodeId(nodeId)
              .setRevokedAtUnixMs(now)
              .setReason(reason)
              .build());
    }
    return serials;
  }

  /** Adds to {@code txn} the deletion of the node's id revocation (a re-admission). */
  public void addNodeReadmission(EtcdStore.Txn txn, String nodeId) {
    txn.delete(revokedNodeKey(nodeId));
  }

  /** The etcd key of the node id's revocation. */
  public String revokedNodeKey(String nodeId) {
    return revokedNodesPrefix() + EtcdKeys.id("node id", nodeId);
  }

  /** The single-use token's use record as stored (absent while unspent). */
  public Versioned<TokenUseRecord> tokenUse(String tokenId) {
    return store.get(tokenUseKey(tokenId), TokenUseRecord.parser());
  }

  /**
   * Adds to {@code txn} the spending of a single-use token on {@code nodeId}, guarded on the use
   * record as read ({@link #tokenUse}): absent (spent now) or already this node's (left as it is).
   */
  public void addTokenUse(
      EtcdStore.Txn txn, Versioned<TokenUseRecord> read, String tokenId, String nodeId) {
    txn.requireUnchanged(read);
    if (!read.exists()) {
      txn.put(
          tokenUseKey(tokenId),
          TokenUseRecord.newBuilder()
              .setSchemaVersion(SCHEMA_VERSION)
              .setTokenId(tokenId)
              .setNodeId(nodeId)
              .setUsedAtUnixMs(clock.millis())
              .build());
    }
  }

  /**
   * Adds to {@code txn} the record of an issued certificate and the deletion of the node's expired
   * ones. Returns the serials of the node's certificates that are still valid and not revoked (this
   * one included).
   */
  public List<String> addIssued(EtcdStore.Txn txn, NodeCertificate cert, String tokenId) {
    String prefix = issuedPrefix(cert.nodeId());
    txn.put(
        prefix + cert.serial(),
        IssuedCertificateRecord.newBuilder()
            .setSchemaVersion(SCHEMA_VERSION)
            .setNodeId(cert.nodeId())
            .setSerial(cert.serial())
            .setNotAfterUnixMs(cert.notAfter().toEpochMilli())
            .setTokenId(tokenId == null ? "" : tokenId)
            .build());
    List<String> live = new ArrayList<>();
    live.add(cert.serial());
    long now = clock.millis();
    for (Versioned<IssuedCertificateRecord> v :
        store.list(prefix, IssuedCertificateRecord.parser())) {
      if (v.value().getNotAfterUnixMs() < now) {
        txn.delete(v.key());
      } else if (!v.value().getSerial().equals(cert.serial())
          && serialRevocation(v.value().getSerial()).isEmpty()) {
        live.add(v.value().getSerial());
      }
    }
    return live;
  }

  /**
   * Records a volume client certificate issued for {@code namespace} (kept until it expires), so
   * that {@link #revokeClients} can find it.
   */
  public void recordIssuedClient(String namespace, String serial, java.time.Instant notAfter) {
    String prefix = issuedClientsPrefix(namespace);
    EtcdStore.Txn txn =
        store
            .txn()
            .put(
                prefix + EtcdKeys.id("serial", serial),
                IssuedCertificateRecord.newBuilder()
                    .setSchemaVersion(SCHEMA_VERSION)
                    .setNodeId(CertificateAuthority.CLIENT_PREFIX + namespace)
                    .setSerial(serial)
                    .setNotAfterUnixMs(notAfter.toEpochMilli())
                    .build());
    long now = clock.millis();
    for (Versioned<IssuedCertificateRecord> v :
        store.list(prefix, IssuedCertificateRecord.parser())) {
      if (v.value().getNotAfterUnixMs() < now) {
        txn.delete(v.key());
      }
    }
    txn.commit();
  }

  /**
   * Revokes every recorded, unexpired client certificate of {@code namespace}, in one etcd
   * transaction; idempotent. Certificates signed later are not affected.
   *
   * @return the revoked serials (empty when none was recorded)
   */
  public List<String> revokeClients(String namespace, String reason) {
    long now = clock.millis();
    EtcdStore.Txn txn = store.txn();
    List<String> serials = new ArrayList<>();
    for (Versioned<IssuedCertificateRecord> v :
        store.list(issuedClientsPrefix(namespace), IssuedCertificateRecord.parser())) {
      if (v.value().getNotAfterUnixMs() < now) {
        continue;
      }
      serials.add(v.value().getSerial());
      txn.put(revokedSerialsPrefix() + v.value().getSerial(), serialRecord(v.value(), reason, now));
    }
    if (!serials.isEmpty()) {
      txn.commit();
      LOG.info(
          "revoked {} client certificate(s) of namespace {}: {}",
          serials.size(),
          namespace,
          reason);
    }
    return serials;
  }

  /**
   * Revokes one certificate by its lower-case hex serial (a node's or a client's); idempotent.
   *
   * @throws IllegalArgumentException when {@code serial} is not lower-case hex
   */
  public void revokeSerial(String serial, String reason) {
    if (serial == null || !serial.matches("[0-9a-f]{1,40}")) {
      throw new IllegalArgumentException(
          "serial '" + serial + "' is not a certificate serial (lower-case hex, up to 40 digits)");
    }
    store
        .txn()
        .put(
            revokedSerialsPrefix() + serial,
            RevocationRecord.newBuilder()
                .setSchemaVersion(SCHEMA_VERSION)
                .setSerial(serial)
                .setRevokedAtUnixMs(clock.millis())
                .setReason(reason)
                .build())
        .commit();
    LOG.info("revoked certificate {}: {}", serial, reason);
  }

  private static RevocationRecord serialRecord(
      IssuedCertificateRecord issued, String reason, long now) {
    return RevocationRecord.newBuilder()
        .setSchemaVersion(SCHEMA_VERSION)
        .setSerial(issued.getSerial())
        .setRevokedAtUnixMs(now)
        .setReason(issued.getNodeId() + ": " + reason)
        .build();
  }

  /** Revokes a bootstrap token: no join with it is accepted from now on. */
  public void revokeToken(String tokenId, String reason) {
    store
        .txn()
        .put(
            revokedTokensPrefix() + EtcdKeys.id("token id", tokenId),
            RevocationRecord.newBuilder()
                .setSchemaVersion(SCHEMA_VERSION)
                .setTokenId(tokenId)
                .setRevokedAtUnixMs(clock.millis())
                .setReason(reason)
                .build())
        .commit();
  }

  /** Lets a removed node join again (with a valid token). Its old certificates stay revoked. */
  public void readmitNode(String nodeId) {
    store.txn().delete(revokedNodesPrefix() + EtcdKeys.id("node id", nodeId)).commit();
    revokedNodes.remove(nodeId);
  }

  @Override
  public synchronized void close() {
    if (watcher != null) {
      watcher.close();
      watcher = null;
    }
  }
}
