package io.mycnet.storage.operator.allocation;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster as placement sees it: every node record and node usage counter, read from etcd once
 * and then kept current event by event by watches on {@code nodes/} and {@code usage/nodes/} that
 * start at the revision of that read, so nothing is missed and placement never reads etcd for a
 * decision. Each snapshot carries the usage counter's modification revision, so an allocation can
 * guard its transaction on exactly what it decided from; if the cache was behind, the guard fails
 * and the decision is made again. Trust is looked up at {@link #nodes()} time from the {@link
 * NodeTrustSource}, so a tier change needs nothing here.
 *
 * <p>When a watch breaks (etcd restarted, the revision was compacted), the cache re-reads
 * everything on next use; {@link #invalidate()} forces the same.
 */
public final class ClusterViewCache implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterViewCache.class);

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final NodeTrustSource trust;
  private final Map<String, Versioned<NodeRecord>> records = new ConcurrentHashMap<>();
  private final Map<String, Versioned<NodeUsage>> usages = new ConcurrentHashMap<>();
  private final List<Watch.Watcher> watchers = new ArrayList<>();
  private volatile boolean stale = true;
  private volatile boolean closed;

  public ClusterViewCache(EtcdStore store, EtcdKeys keys, NodeTrustSource trust) {
    this.store = store;
    this.keys = keys;
    this.trust = trust;
  }

  private synchronized void reloadIfStale() {
    if (!stale || closed) {
      return;
    }
    watchers.forEach(Watch.Watcher::close);
    watchers.clear();
    EtcdStore.Listing<NodeRecord> r = store.listWithRevision(keys.nodes(), NodeRecord.parser());
    EtcdStore.Listing<NodeUsage> u = store.listWithRevision(keys.nodeUsages(), NodeUsage.parser());
    records.clear();
    usages.clear();
    r.values().forEach(v -> records.put(v.key(), v));
    u.values().forEach(v -> usages.put(v.key(), v));
    stale = false;
    watchers.add(
        store.watchPrefixFrom(
            keys.nodes(),
            r.revision() + 1,
            e -> apply(records, e, NodeRecord.parser()),
            this::watchBroke));
    watchers.add(
        store.watchPrefixFrom(
            keys.nodeUsages(),
            u.revision() + 1,
            e -> apply(usages, e, NodeUsage.parser()),
            this::watchBroke));
  }

  private static <T extends com.google.protobuf.Message> void apply(
      Map<String, Versioned<T>> map, WatchEvent e, com.google.protobuf.Parser<T> parser) {
    KeyValue kv = e.getKeyValue();
    String key = kv.getKey().toString(StandardCharsets.UTF_8);
    if (e.getEventType() == WatchEvent.EventType.DELETE) {
      map.remove(key);
      return;
    }
    try {
      Versioned<T> v =
          new Versioned<>(
              key,
              parser.parseFrom(kv.getValue().getBytes()),
              kv.getModRevision(),
              kv.getCreateRevision());
      map.merge(key, v, (old, neu) -> neu.modRevision() >= old.modRevision() ? neu : old);
    } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
      LOG.error("unreadable record at {}", key, ex);
    }
  }

  private void watchBroke(Throwable t) {
    if (!closed) {
      LOG.warn("cluster view watch broke ({}); re-reading on next use", t.toString());
      stale = true;
    }
  }

  /** Every registered node with its reservations and current trust, in node-id order. */
  public List<NodeSnapshot> nodes() {
    reloadIfStale();
    List<NodeSnapshot> out = new ArrayList<>(records.size());
    for (Versioned<NodeRecord> v : records.values()) {
      NodeRecord r = v.value();
      Versioned<NodeUsage> u = usages.get(keys.nodeUsage(r.getNodeId()));
      NodeTrustSource.NodeTrust t = trust.trustOf(r.getNodeId());
      out.add(
          new NodeSnapshot(
              r,
              u == null ? 0 : u.value().getReservedBytes(),
              u == null ? 0 : u.value().getReplicaCount(),
              u == null ? 0 : u.modRevision(),
              t.tier(),
              t.score()));
    }
    out.sort((a, b) -> a.nodeId().compareTo(b.nodeId()));
    return out;
  }

  /** Re-reads everything from etcd on next use (after a decision found the cache behind). */
  public void invalidate() {
    stale = true;
  }

  @Override
  public synchronized void close() {
    closed = true;
    watchers.forEach(Watch.Watcher::close);
    watchers.clear();
  }
}
