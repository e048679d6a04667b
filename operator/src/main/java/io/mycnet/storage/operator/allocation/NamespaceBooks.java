package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NamespaceUsage;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import java.util.ArrayList;
import java.util.List;

/**
 * A namespace's quota accounting, kept in {@link EtcdKeys#NAMESPACE_USAGE_SHARDS} counters so that
 * allocations in one namespace do not all collide on one key. A volume always counts in the same
 * shard. When the namespace has a quota, a decision guards every shard (including absent ones), so
 * two concurrent allocations can never both pass the quota check; without a quota it guards only
 * the shard it writes.
 */
final class NamespaceBooks {
  private final EtcdKeys keys;
  private final String namespace;
  private final List<Versioned<NamespaceUsage>> shards;

  private NamespaceBooks(EtcdKeys keys, String namespace, List<Versioned<NamespaceUsage>> shards) {
    this.keys = keys;
    this.namespace = namespace;
    this.shards = shards;
  }

  /** The keys of every shard of the namespace. */
  static List<String> shardKeys(EtcdKeys keys, String namespace) {
    List<String> shardKeys = new ArrayList<>();
    String prefix = keys.namespaceUsage(namespace);
    for (int i = 0; i < EtcdKeys.NAMESPACE_USAGE_SHARDS; i++) {
      shardKeys.add(prefix + String.format("%02d", i));
    }
    return shardKeys;
  }

  /** Reads every shard in one round trip. */
  static NamespaceBooks read(EtcdStore store, EtcdKeys keys, String namespace) {
    return of(keys, namespace, store.getAll(shardKeys(keys, namespace), NamespaceUsage.parser()));
  }

  /** The books from shards read by the caller (in {@link #shardKeys} order). */
  static NamespaceBooks of(
      EtcdKeys keys, String namespace, List<Versioned<NamespaceUsage>> shards) {
    return new NamespaceBooks(keys, namespace, shards);
  }

  long usedBytes() {
    long sum = 0;
    for (Versioned<NamespaceUsage> s : shards) {
      sum += s.exists() ? s.value().getUsedBytes() : 0;
    }
    return sum;
  }

  int volumeCount() {
    int sum = 0;
    for (Versioned<NamespaceUsage> s : shards) {
      sum += s.exists() ? s.value().getVolumeCount() : 0;
    }
    return sum;
  }

  NamespaceUsage total() {
    return NamespaceUsage.newBuilder()
        .setSchemaVersion(TrustAwareStorageManager.SCHEMA_VERSION)
        .setNamespace(namespace)
        .setUsedBytes(usedBytes())
        .setVolumeCount(volumeCount())
        .build();
  }

  /**
   * Refuses when adding {@code bytes} and {@code volumes} would exceed the namespace's quota.
   * Decreases are always allowed.
   */
  void checkQuota(NamespaceRecord ns, long bytes, int volumes) {
    if (ns == null) {
      return;
    }
    long usedBytes = usedBytes();
    int usedVolumes = volumeCount();
    if (bytes > 0 && ns.getQuotaBytes() > 0 && usedBytes + bytes > ns.getQuotaBytes()) {
      throw new AllocationException(
          AllocationException.Reason.QUOTA_EXCEEDED,
          "service namespace "
              + namespace
              + " quota exceeded: "
              + usedBytes
              + " of "
              + ns.getQuotaBytes()
              + " bytes used, "
              + bytes
              + " more requested");
    }
    if (volumes > 0 && ns.getQuotaVolumes() > 0 && usedVolumes + volumes > ns.getQuotaVolumes()) {
      throw new AllocationException(
          AllocationException.Reason.QUOTA_EXCEEDED,
          "service namespace "
              + namespace
              + " quota exceeded: "
              + usedVolumes
              + " of "
              + ns.getQuotaVolumes()
              + " volumes used");
    }
  }

  /**
   * Adds the guards and the write for changing {@code volumeId}'s shard by {@code bytes} and {@code
   * volumes}.
   */
  void stage(EtcdStore.Txn txn, NamespaceRecord ns, String volumeId, long bytes, int volumes) {
    String shardKey = keys.namespaceUsageShard(namespace, volumeId);
    boolean limited = ns != null && (ns.getQuotaBytes() > 0 || ns.getQuotaVolumes() > 0);
    Versioned<NamespaceUsage> mine = null;
    for (Versioned<NamespaceUsage> s : shards) {
      if (s.key().equals(shardKey)) {
        mine = s;
      }
      if (limited || s.key().equals(shardKey)) {
        txn.requireUnchanged(s);
      }
    }
    NamespaceUsage current = mine == null ? null : mine.value();
    long b = (current == null ? 0 : current.getUsedBytes()) + bytes;
    int v = (current == null ? 0 : current.getVolumeCount()) + volumes;
    if (b < 0 || v < 0) {
      throw new IllegalStateException(
          "quota accounting of namespace " + namespace + " would go negative in " + shardKey);
    }
    txn.put(
        shardKey,
        NamespaceUsage.newBuilder()
            .setSchemaVersion(TrustAwareStorageManager.SCHEMA_VERSION)
            .setNamespace(namespace)
            .setUsedBytes(b)
            .setVolumeCount(v)
            .build());
  }
}
