package io.mycnet.storage.operator.allocation;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import io.etcd.jetcd.Watch;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeUsage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster as placement sees it, read from etcd once and then kept current by watches on {@code
 * nodes/} and {@code usage/nodes/}: a watch event invalidates the cached listing, so placement does
 * not read etcd for every decision. Trust is looked up at {@link #nodes()} time from the {@link
 * NodeTrustSource}, so a tier change needs no invalidation here.
 *
 * <p>The cache may lag etcd by the watch delay. That is safe: the allocation transaction re-reads
 * the usage of every node it chose and is guarded by those revisions.
 */
public final class ClusterViewCache implements AutoCloseable {
  private static final String RECORDS = "records";
  private static final String USAGES = "usages";

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final NodeTrustSource trust;
  private final LoadingCache<String, Map<String, Object>> cache;
  private final List<Watch.Watcher> watchers = new ArrayList<>();
  private final java.util.concurrent.ExecutorService invalidator =
      java.util.concurrent.Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "cluster-view-invalidator");
            t.setDaemon(true);
            return t;
          });

  public ClusterViewCache(EtcdStore store, EtcdKeys keys, NodeTrustSource trust) {
    this.store = store;
    this.keys = keys;
    this.trust = trust;
    this.cache =
        Caffeine.newBuilder()
            // A safety net only: watches invalidate on every change.
            .expireAfterWrite(Duration.ofSeconds(30))
            .build(this::load);
    // Watch callbacks run on the etcd client's event thread, which also completes the reads a
    // load waits for: invalidating there could block on an in-flight load forever. Hand it off.
    watchers.add(
        store.watchPrefix(keys.nodes(), e -> invalidator.execute(() -> cache.invalidate(RECORDS))));
    watchers.add(
        store.watchPrefix(
            keys.nodeUsages(), e -> invalidator.execute(() -> cache.invalidate(USAGES))));
  }

  private Map<String, Object> load(String what) {
    Map<String, Object> out = new HashMap<>();
    if (RECORDS.equals(what)) {
      for (Versioned<NodeRecord> v : store.list(keys.nodes(), NodeRecord.parser())) {
        out.put(v.value().getNodeId(), v.value());
      }
    } else {
      for (Versioned<NodeUsage> v : store.list(keys.nodeUsages(), NodeUsage.parser())) {
        out.put(v.value().getNodeId(), v.value());
      }
    }
    return out;
  }

  /** Every registered node with its reservations and current trust, in node-id order. */
  public List<NodeSnapshot> nodes() {
    Map<String, Object> records = cache.get(RECORDS);
    Map<String, Object> usages = cache.get(USAGES);
    List<NodeSnapshot> out = new ArrayList<>(records.size());
    for (Object o : records.values()) {
      NodeRecord r = (NodeRecord) o;
      NodeUsage u = (NodeUsage) usages.get(r.getNodeId());
      NodeTrustSource.NodeTrust t = trust.trustOf(r.getNodeId());
      out.add(
          new NodeSnapshot(
              r,
              u == null ? 0 : u.getReservedBytes(),
              u == null ? 0 : u.getReplicaCount(),
              t.tier(),
              t.score()));
    }
    out.sort((a, b) -> a.nodeId().compareTo(b.nodeId()));
    return out;
  }

  /** Drops the cached listings (after a write this process made and wants to see at once). */
  public void invalidate() {
    cache.invalidateAll();
  }

  @Override
  public void close() {
    watchers.forEach(Watch.Watcher::close);
    watchers.clear();
    invalidator.shutdownNow();
  }
}
