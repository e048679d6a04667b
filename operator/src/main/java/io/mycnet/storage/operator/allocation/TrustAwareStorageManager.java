package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.DeleteReplica;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NamespaceUsage;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeUsage;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.StoreWatch;
import io.mycnet.storage.operator.store.Txn;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * Allocates, resizes and releases volumes. Each decision is one etcd transaction that writes the
 * allocation record, the capacity reservation on every chosen node, the namespace's quota usage and
 * the agents' commands together, guarded by the revisions they were computed from; on a conflict it
 * re-reads and re-places. Every operation is idempotent by volume id: the same request twice gives
 * the same allocation and reserves once, and a retry after a lost answer finds its own write.
 */
public final class TrustAwareStorageManager {
  public static final int SCHEMA_VERSION = 1;
  private static final int MAX_ATTEMPTS = 64;

  private final KeyValueStore store;
  private final EtcdKeys keys;
  private final CommandQueue queue;
  private final ClusterViewCache cluster;
  private final ReplicaPlacer placer;
  private final ToDoubleFunction<String> overcommitOfPool;
  private final Clock clock;

  /**
   * @param overcommitOfPool a pool's overcommit ratio (1.0: reservations may not exceed raw
   *     capacity)
   */
  public TrustAwareStorageManager(
      KeyValueStore store,
      EtcdKeys keys,
      CommandQueue queue,
      ClusterViewCache cluster,
      ReplicaPlacer placer,
      ToDoubleFunction<String> overcommitOfPool,
      Clock clock) {
    this.store = store;
    this.keys = keys;
    this.queue = queue;
    this.cluster = cluster;
    this.placer = placer;
    this.overcommitOfPool = overcommitOfPool;
    this.clock = clock;
  }

  /** Writes (creates or replaces) a namespace's storage policy. */
  public void putNamespace(NamespaceRecord record) {
    EtcdKeys.id("namespace", record.getNamespace());
    store
        .txn()
        .put(
            keys.namespace(record.getNamespace()),
            record.toBuilder().setSchemaVersion(SCHEMA_VERSION).build())
        .commit();
  }

  /**
   * Deletes a namespace's storage policy: no new volume can be allocated in it from then on. Its
   * existing volumes are not touched (the deletion policy decides about them).
   */
  public void deleteNamespace(String namespace) {
    store.txn().delete(keys.namespace(EtcdKeys.id("namespace", namespace))).commit();
  }

  public Optional<NamespaceRecord> getNamespace(String namespace) {
    return Optional.ofNullable(
        store.get(keys.namespace(namespace), NamespaceRecord.parser()).value());
  }

  /** The namespace's usage: the sum of its counters. */
  public NamespaceUsage namespaceUsage(String namespace) {
    return NamespaceBooks.read(store, keys, EtcdKeys.id("namespace", namespace)).total();
  }

  /**
   * Allocates a volume, or returns the existing allocation of the same request.
   *
   * @throws AllocationException when the request is invalid, conflicts with an existing volume of
   *     the same id, is not allowed in its namespace, exceeds its quota, or cannot be placed (the
   *     message carries the placement's explanation)
   */
  public Allocation allocate(StorageRequest request) {
    StorageRequest.Effective spec = request.effective();
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // One round trip: the allocation, the namespace's policy and its usage counters.
      List<String> reads = new ArrayList<>();
      reads.add(keys.allocation(spec.volumeId()));
      reads.add(keys.namespace(spec.namespace()));
      reads.addAll(NamespaceBooks.shardKeys(keys, spec.namespace()));
      List<Versioned<byte[]>> raw = store.getAllRaw(reads);
      Versioned<Allocation> existing = KeyValueStore.parse(raw.get(0), Allocation.parser());
      if (existing.exists()) {
        return sameSpecOrConflict(existing.value(), spec);
      }
      Versioned<NamespaceRecord> ns = KeyValueStore.parse(raw.get(1), NamespaceRecord.parser());
      checkNamespaceAllows(ns, spec);
      List<Versioned<NamespaceUsage>> shards = new ArrayList<>();
      for (Versioned<byte[]> r : raw.subList(2, raw.size())) {
        shards.add(KeyValueStore.parse(r, NamespaceUsage.parser()));
      }
      NamespaceBooks books = NamespaceBooks.of(keys, spec.namespace(), shards);
      books.checkQuota(ns.value(), spec.sizeBytes(), 1);

      double overcommit = overcommitOfPool.applyAsDouble(spec.pool());
      List<NodeSnapshot> nodes = cluster.nodes();
      ReplicaPlacer.Outcome outcome =
          placer.place(
              new ReplicaPlacer.Query(
                  spec.volumeId(),
                  spec.sizeBytes(),
                  spec.classification(),
                  spec.replicaCount(),
                  spec.strategy(),
                  spec.pool(),
                  overcommit,
                  spec.geographicDistribution(),
                  List.of(),
                  Set.of(),
                  request.consumer()),
              nodes);
      if (!outcome.placed()) {
        throw new AllocationException(
            AllocationException.Reason.NO_PLACEMENT,
            "volume " + spec.volumeId() + " cannot be placed: " + outcome.explanation());
      }
      Map<String, NodeSnapshot> snapshots = new HashMap<>();
      Map<String, NodeRecord> records = new HashMap<>();
      nodes.forEach(
          n -> {
            snapshots.put(n.nodeId(), n);
            records.put(n.nodeId(), n.record());
          });

      Txn txn = store.txn();
      txn.requireAbsent(keys.allocation(spec.volumeId()));
      txn.requireUnchanged(ns);
      books.stage(txn, ns.value(), spec.volumeId(), spec.sizeBytes(), 1);
      // Reserve on every chosen node, guarded on the counter revision the decision saw: if the
      // cached view was behind, the transaction fails and the decision is made again.
      for (String nodeId : outcome.nodeIds()) {
        NodeSnapshot snap = snapshots.get(nodeId);
        NodeUsage current =
            snap.usageModRevision() == 0
                ? null
                : NodeUsage.newBuilder()
                    .setNodeId(nodeId)
                    .setReservedBytes(snap.reservedBytes())
                    .setReplicaCount(snap.replicaCount())
                    .build();
        txn.requireModRevision(keys.nodeUsage(nodeId), snap.usageModRevision());
        txn.put(keys.nodeUsage(nodeId), addUsage(nodeId, current, spec.sizeBytes(), 1));
      }
      long now = clock.millis();
      Allocation.Builder a =
          Allocation.newBuilder()
              .setSchemaVersion(SCHEMA_VERSION)
              .setVolumeId(spec.volumeId())
              .setNamespace(spec.namespace())
              .setPool(spec.pool())
              .setSizeBytes(spec.sizeBytes())
              .setClassification(ProtoMapping.toProto(spec.classification()))
              .setStorageType(ProtoMapping.toProto(spec.storageType()))
              .setStrategy(ProtoMapping.toProto(spec.strategy()))
              .setConsistency(ProtoMapping.toProto(spec.consistency()))
              .setReplicaCount(spec.replicaCount())
              .setGeographicDistribution(spec.geographicDistribution())
              .setState(VolumeState.VOLUME_STATE_CREATING)
              .setEpoch(1)
              .setPrimaryNodeId(outcome.nodeIds().get(0))
              .setCreatedAtUnixMs(now)
              .setUpdatedAtUnixMs(now)
              .setPlacementNote(outcome.explanation())
              .setIncarnation(java.util.UUID.randomUUID().toString().substring(0, 8));
      for (String nodeId : outcome.nodeIds()) {
        a.addReplicas(
            Replica.newBuilder()
                .setNodeId(nodeId)
                .setState(ReplicaState.REPLICA_STATE_CREATING)
                .setEpoch(1)
                .setTopologyPath(records.get(nodeId).getTopologyPath()));
      }
      Allocation allocation = a.build();
      txn.put(keys.allocation(spec.volumeId()), allocation);
      CommandQueue.Batch batch = queue.batch();
      for (String nodeId : outcome.nodeIds()) {
        batch.add(
            nodeId,
            createCommand(
                allocation,
                nodeId,
                capacityLimit(records.get(nodeId), overcommit),
                commandId("create", allocation, nodeId),
                now));
      }
      batch.stage(txn);
      if (txn.commit()) {
        return allocation;
      }
      if (attempt % 4 == 3) {
        cluster.invalidate(); // repeated conflicts: make sure the view is not the cause
      }
      backOff(attempt);
    }
    throw new StoreUnavailableException(
        "allocation of " + spec.volumeId() + " kept conflicting with concurrent decisions", null);
  }

  /**
   * Releases a volume: deletes its allocation, returns its reservations and quota, and queues the
   * deletion of its replicas and a {@code DetachVolume} to every node attached to it. Releasing a
   * volume that does not exist returns empty.
   */
  public Optional<Allocation> release(String volumeId) {
    return releaseIf(volumeId, a -> true);
  }

  /**
   * Releases a volume as {@link #release} does, but only while its allocation still satisfies
   * {@code still} (read in the same transaction's guard): a volume re-created since the caller
   * decided (another incarnation) is left alone and empty is returned.
   */
  public Optional<Allocation> releaseIf(String volumeId, Predicate<Allocation> still) {
    EtcdKeys.id("volume id", volumeId);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<Allocation> existing = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!existing.exists() || !still.test(existing.value())) {
        return Optional.empty();
      }
      Allocation a = existing.value();
      Txn txn = store.txn().requireUnchanged(existing).delete(existing.key());
      List<String> holders = replicaNodes(a);
      List<Versioned<NodeUsage>> usages =
          store.getAll(holders.stream().map(keys::nodeUsage).toList(), NodeUsage.parser());
      for (int i = 0; i < holders.size(); i++) {
        String nodeId = holders.get(i);
        Versioned<NodeUsage> u = usages.get(i);
        txn.requireUnchanged(u);
        txn.put(keys.nodeUsage(nodeId), addUsage(nodeId, u.value(), -a.getSizeBytes(), -1));
      }
      NamespaceBooks.read(store, keys, a.getNamespace())
          .stage(txn, null, a.getVolumeId(), -a.getSizeBytes(), -1);
      long now = clock.millis();
      CommandQueue.Batch batch = queue.batch();
      for (String nodeId : replicaNodes(a)) {
        batch.add(nodeId, deleteCommand(a, nodeId, "volume released", now));
      }
      // An attached node's frontend stops serving it: its data is being deleted.
      for (Attachment at : a.getAttachmentsList()) {
        batch.add(
            at.getNodeId(), Assignments.detach("release", a, at, "volume released", true, now));
      }
      batch.stage(txn);
      if (txn.commit()) {
        return Optional.of(a);
      }
      backOff(attempt);
    }
    throw new StoreUnavailableException(
        "release of " + volumeId + " kept conflicting with concurrent decisions", null);
  }

  /**
   * Grows a volume to {@code newSizeBytes}, reserving the difference on every replica's node and in
   * the namespace's quota. Resizing to the current size returns the allocation unchanged. Shrinking
   * is refused: the bytes beyond the new end may hold data.
   */
  public Allocation resize(String volumeId, long newSizeBytes) {
    EtcdKeys.id("volume id", volumeId);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Versioned<Allocation> existing = store.get(keys.allocation(volumeId), Allocation.parser());
      if (!existing.exists()) {
        throw new AllocationException(
            AllocationException.Reason.NOT_FOUND, "volume " + volumeId + " does not exist");
      }
      Allocation a = existing.value();
      long delta = newSizeBytes - a.getSizeBytes();
      if (delta == 0) {
        return a;
      }
      if (delta < 0) {
        throw AllocationException.invalid(
            "sizeBytes "
                + newSizeBytes
                + " is smaller than volume "
                + volumeId
                + "'s "
                + a.getSizeBytes()
                + "; volumes can grow, not shrink");
      }
      Versioned<NamespaceRecord> ns =
          store.get(keys.namespace(a.getNamespace()), NamespaceRecord.parser());
      NamespaceBooks books = NamespaceBooks.read(store, keys, a.getNamespace());
      books.checkQuota(ns.value(), delta, 0);
      double overcommit = overcommitOfPool.applyAsDouble(a.getPool());
      Txn txn = store.txn().requireUnchanged(existing).requireUnchanged(ns);
      books.stage(txn, ns.value(), a.getVolumeId(), delta, 0);
      for (String nodeId : replicaNodes(a)) {
        Versioned<NodeUsage> u = store.get(keys.nodeUsage(nodeId), NodeUsage.parser());
        NodeRecord rec = store.get(keys.node(nodeId), NodeRecord.parser()).value();
        long reserved = u.exists() ? u.value().getReservedBytes() : 0;
        if (rec == null || reserved + delta > (long) (rec.getCapacityBytes() * overcommit)) {
          throw new AllocationException(
              AllocationException.Reason.NO_PLACEMENT,
              "volume "
                  + volumeId
                  + " cannot grow by "
                  + delta
                  + " bytes: node "
                  + nodeId
                  + " has "
                  + (rec == null ? 0 : (long) (rec.getCapacityBytes() * overcommit) - reserved)
                  + " bytes left");
        }
        txn.requireUnchanged(u);
        txn.put(keys.nodeUsage(nodeId), addUsage(nodeId, u.value(), delta, 0));
      }
      Allocation resized =
          a.toBuilder().setSizeBytes(newSizeBytes).setUpdatedAtUnixMs(clock.millis()).build();
      txn.put(existing.key(), resized);
      if (txn.commit()) {
        return resized;
      }
      backOff(attempt);
    }
    throw new StoreUnavailableException("resize of " + volumeId + " kept conflicting", null);
  }

  public Optional<Allocation> get(String volumeId) {
    return Optional.ofNullable(store.get(keys.allocation(volumeId), Allocation.parser()).value());
  }

  public List<Allocation> list() {
    List<Allocation> out = new ArrayList<>();
    for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
      out.add(v.value());
    }
    return out;
  }

  /** A change to an allocation: the new value, or null when it was released. */
  public record AllocationEvent(String volumeId, Allocation allocation) {}

  /** Calls {@code onChange} for every allocation written or deleted from now on. */
  public StoreWatch watch(Consumer<AllocationEvent> onChange) {
    String prefix = keys.allocations();
    return store.watchPrefix(
        prefix,
        e -> {
          String id = e.key();
          id = id.substring(prefix.length());
          Allocation a = null;
          if (e.isPut()) {
            try {
              a = Allocation.parseFrom(e.value());
            } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
              throw new IllegalStateException("unreadable allocation " + id, ex);
            }
          }
          onChange.accept(new AllocationEvent(id, a));
        });
  }

  // ---------------------------------------------------------------------------------------------

  private Allocation sameSpecOrConflict(Allocation a, StorageRequest.Effective spec) {
    List<String> diffs = new ArrayList<>();
    if (!a.getNamespace().equals(spec.namespace())) {
      diffs.add("namespace " + a.getNamespace() + " vs " + spec.namespace());
    }
    if (!a.getPool().equals(spec.pool())) {
      diffs.add("pool " + a.getPool() + " vs " + spec.pool());
    }
    if (a.getSizeBytes() != spec.sizeBytes()) {
      diffs.add("sizeBytes " + a.getSizeBytes() + " vs " + spec.sizeBytes());
    }
    if (a.getClassification() != ProtoMapping.toProto(spec.classification())) {
      diffs.add("classification");
    }
    if (a.getStorageType() != ProtoMapping.toProto(spec.storageType())) {
      diffs.add("storageType");
    }
    if (a.getReplicaCount() != spec.replicaCount()) {
      diffs.add("replicaCount " + a.getReplicaCount() + " vs " + spec.replicaCount());
    }
    if (a.getConsistency() != ProtoMapping.toProto(spec.consistency())) {
      diffs.add("consistency");
    }
    if (a.getStrategy() != ProtoMapping.toProto(spec.strategy())) {
      diffs.add("strategy");
    }
    if (!diffs.isEmpty()) {
      throw new AllocationException(
          AllocationException.Reason.CONFLICT,
          "volume "
              + spec.volumeId()
              + " already exists with a different specification ("
              + String.join(", ", diffs)
              + "); use resize to grow it or another volume id");
    }
    return a;
  }

  private static void checkNamespaceAllows(
      Versioned<NamespaceRecord> ns, StorageRequest.Effective spec) {
    if (!ns.exists()) {
      throw new AllocationException(
          AllocationException.Reason.NOT_ALLOWED,
          "service namespace "
              + spec.namespace()
              + " is not known; create its ServiceNamespace before claiming storage in it");
    }
    NamespaceRecord r = ns.value();
    if (!r.getAllowedClassificationsList().isEmpty()
        && !r.getAllowedClassificationsList()
            .contains(ProtoMapping.toProto(spec.classification()))) {
      throw new AllocationException(
          AllocationException.Reason.NOT_ALLOWED,
          "classification "
              + spec.classification()
              + " is not allowed in service namespace "
              + spec.namespace()
              + " (allowed: "
              + names(r.getAllowedClassificationsList())
              + ")");
    }
    if (!r.getAllowedStorageTypesList().isEmpty()
        && !r.getAllowedStorageTypesList().contains(ProtoMapping.toProto(spec.storageType()))) {
      throw new AllocationException(
          AllocationException.Reason.NOT_ALLOWED,
          "storage type "
              + spec.storageType()
              + " is not allowed in service namespace "
              + spec.namespace()
              + " (allowed: "
              + names(r.getAllowedStorageTypesList())
              + ")");
    }
    if (!r.getPoolsList().isEmpty() && !r.getPoolsList().contains(spec.pool())) {
      throw new AllocationException(
          AllocationException.Reason.NOT_ALLOWED,
          "pool "
              + spec.pool()
              + " is not allowed in service namespace "
              + spec.namespace()
              + " (allowed: "
              + String.join(", ", r.getPoolsList())
              + ")");
    }
  }

  private static String names(List<? extends Enum<?>> values) {
    List<String> out = new ArrayList<>();
    for (Enum<?> v : values) {
      String n = v.name();
      out.add(n.substring(n.indexOf('_', n.startsWith("STORAGE_TYPE_") ? 13 : 0) + 1));
    }
    return String.join(", ", out);
  }

  /**
   * After a conflict: wait a random time that grows with the attempt (up to ~50 ms), so that
   * deciders that collided do not collide again in lock step.
   */
  static void backOff(int attempt) {
    long bound = Math.min(50, 1L << Math.min(attempt, 6));
    try {
      Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextLong(bound + 1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreUnavailableException("interrupted while retrying a conflicting decision", e);
    }
  }

  /** The distinct nodes holding a replica of {@code a}, in replica order. */
  static List<String> replicaNodes(Allocation a) {
    Map<String, Boolean> seen = new LinkedHashMap<>();
    for (Replica r : a.getReplicasList()) {
      seen.put(r.getNodeId(), Boolean.TRUE);
    }
    return new ArrayList<>(seen.keySet());
  }

  public static NodeUsage addUsage(String nodeId, NodeUsage current, long bytes, int replicas) {
    long b = (current == null ? 0 : current.getReservedBytes()) + bytes;
    int r = (current == null ? 0 : current.getReplicaCount()) + replicas;
    if (b < 0 || r < 0) {
      throw new IllegalStateException(
          "capacity accounting of node " + nodeId + " would go negative: " + b + " bytes");
    }
    return NodeUsage.newBuilder()
        .setSchemaVersion(SCHEMA_VERSION)
        .setNodeId(nodeId)
        .setReservedBytes(b)
        .setReplicaCount(r)
        .build();
  }

  /** Stable per (kind, volume incarnation, epoch, node): a retried decision reuses it. */
  public static String commandId(String kind, Allocation a, String nodeId) {
    return kind
        + ":"
        + a.getVolumeId()
        + ":"
        + a.getIncarnation()
        + ":"
        + a.getEpoch()
        + ":"
        + nodeId;
  }

  /**
   * The sum of replica sizes a node may hold as the placement counts it: its capacity times its
   * pool's overcommit ratio. Sent with every create and rebuild so that the agent accepts exactly
   * what the placement may place (docs/resources.md, overcommitRatio).
   */
  public static long capacityLimit(NodeRecord node, double overcommit) {
    return node == null ? 0 : (long) (node.getCapacityBytes() * overcommit);
  }

  /**
   * The replica is never counted healthy on this command alone: {@link ReplicaCreation} marks it
   * HEALTHY when the agent's result says it exists.
   */
  static NodeCommand createCommand(
      Allocation a, String nodeId, long capacityLimit, String commandId, long now) {
    CreateReplica.Builder c =
        CreateReplica.newBuilder()
            .setVolumeId(a.getVolumeId())
            .setEpoch(a.getEpoch())
            .setSizeBytes(a.getSizeBytes())
            .setClassification(a.getClassification())
            .setConsistency(a.getConsistency())
            .setPrimaryNodeId(a.getPrimaryNodeId())
            .setCapacityLimitBytes(capacityLimit);
    for (Replica r : a.getReplicasList()) {
      c.addReplicaNodeIds(r.getNodeId());
    }
    return NodeCommand.newBuilder()
        .setCommandId(commandId)
        .setIssuedAtUnixMs(now)
        .setCreateReplica(c)
        .build();
  }

  public static NodeCommand deleteCommand(Allocation a, String nodeId, String reason, long now) {
    return NodeCommand.newBuilder()
        .setCommandId(commandId("delete", a, nodeId))
        .setIssuedAtUnixMs(now)
        .setDeleteReplica(
            DeleteReplica.newBuilder()
                .setVolumeId(a.getVolumeId())
                .setEpoch(a.getEpoch())
                .setReason(reason))
        .build();
  }
}
