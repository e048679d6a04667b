package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.store.EtcdKeys;

/**
 * A request for one volume. {@code classification}, {@code replicaCount}, {@code consistency} and
 * {@code strategy} may be null: the storage type's defaults apply (strategy: {@code
 * HIERARCHY_AWARE}). A value that is set may tighten the storage type's default, never loosen it.
 *
 * @param volumeId stable id; the same id twice is the same volume (idempotent allocate)
 * @param namespace the owning service namespace; quota is charged there
 * @param pool the storage pool to place in
 * @param consumer where the volume's consumer runs (a node's topology path, its last segment the
 *     node), or null: a PERFORMANCE_OPTIMIZED placement keeps replicas near it
 */
public record StorageRequest(
    String volumeId,
    String namespace,
    String pool,
    long sizeBytes,
    StorageType storageType,
    Classification classification,
    Integer replicaCount,
    ConsistencyLevel consistency,
    boolean geographicDistribution,
    ReplicationStrategy strategy,
    TopologyPath consumer) {

  public static final int MAX_REPLICAS = 7;

  /** A request without a consumer location. */
  public StorageRequest(
      String volumeId,
      String namespace,
      String pool,
      long sizeBytes,
      StorageType storageType,
      Classification classification,
      Integer replicaCount,
      ConsistencyLevel consistency,
      boolean geographicDistribution,
      ReplicationStrategy strategy) {
    this(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        classification,
        replicaCount,
        consistency,
        geographicDistribution,
        strategy,
        null);
  }

  /** A request with the storage type's defaults for everything optional. */
  public static StorageRequest of(
      String volumeId, String namespace, String pool, long sizeBytes, StorageType type) {
    return new StorageRequest(
        volumeId, namespace, pool, sizeBytes, type, null, null, null, false, null);
  }

  public StorageRequest withClassification(Classification c) {
    return new StorageRequest(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        c,
        replicaCount,
        consistency,
        geographicDistribution,
        strategy,
        consumer);
  }

  public StorageRequest withReplicas(int n) {
    return new StorageRequest(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        classification,
        n,
        consistency,
        geographicDistribution,
        strategy,
        consumer);
  }

  public StorageRequest withConsistency(ConsistencyLevel c) {
    return new StorageRequest(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        classification,
        replicaCount,
        c,
        geographicDistribution,
        strategy,
        consumer);
  }

  public StorageRequest withStrategy(ReplicationStrategy s) {
    return new StorageRequest(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        classification,
        replicaCount,
        consistency,
        geographicDistribution,
        s,
        consumer);
  }

  /** The request with its consumer's location (null: none). */
  public StorageRequest withConsumer(TopologyPath at) {
    return new StorageRequest(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        classification,
        replicaCount,
        consistency,
        geographicDistribution,
        strategy,
        at);
  }

  /**
   * The request with every default applied, after checking it.
   *
   * @throws AllocationException with reason INVALID_REQUEST naming the field
   */
  public Effective effective() {
    try {
      EtcdKeys.id("volumeId", volumeId);
      EtcdKeys.id("namespace", namespace);
      EtcdKeys.id("pool", pool);
    } catch (IllegalArgumentException e) {
      throw AllocationException.invalid(e.getMessage());
    }
    if (sizeBytes <= 0) {
      throw AllocationException.invalid("sizeBytes must be > 0, was " + sizeBytes);
    }
    if (storageType == null) {
      throw AllocationException.invalid(
          "storageType must be set (INFRASTRUCTURE, CONSENSUS, DISCOVERY, CONFIGURATION, SERVICE)");
    }
    Classification c =
        classification == null ? storageType.defaultClassification() : classification;
    if (!c.isAtLeastAsStrictAs(storageType.defaultClassification())) {
      throw AllocationException.invalid(
          "classification "
              + c
              + " is looser than storage type "
              + storageType
              + "'s "
              + storageType.defaultClassification()
              + "; a request may tighten a storage type's defaults, never loosen them");
    }
    int replicas = replicaCount == null ? storageType.defaultReplicas() : replicaCount;
    if (replicas < 1 || replicas > MAX_REPLICAS) {
      throw AllocationException.invalid(
          "replicaCount must be between 1 and " + MAX_REPLICAS + ", was " + replicas);
    }
    if (replicas < storageType.defaultReplicas()) {
      throw AllocationException.invalid(
          "replicaCount "
              + replicas
              + " is below storage type "
              + storageType
              + "'s "
              + storageType.defaultReplicas()
              + "; a request may tighten a storage type's defaults, never loosen them");
    }
    ConsistencyLevel cl = consistency == null ? storageType.defaultConsistency() : consistency;
    if (!cl.isAtLeastAsStrictAs(storageType.defaultConsistency())) {
      throw AllocationException.invalid(
          "consistency "
              + cl
              + " is looser than storage type "
              + storageType
              + "'s "
              + storageType.defaultConsistency()
              + "; a request may tighten a storage type's defaults, never loosen them");
    }
    ReplicationStrategy s = strategy == null ? ReplicationStrategy.HIERARCHY_AWARE : strategy;
    return new Effective(
        volumeId,
        namespace,
        pool,
        sizeBytes,
        storageType,
        c,
        replicas,
        cl,
        geographicDistribution,
        s);
  }

  /** A checked request with every default applied. */
  public record Effective(
      String volumeId,
      String namespace,
      String pool,
      long sizeBytes,
      StorageType storageType,
      Classification classification,
      int replicaCount,
      ConsistencyLevel consistency,
      boolean geographicDistribution,
      ReplicationStrategy strategy) {}
}
