package io.mycnet.storage.operator.reconciler.storageclaim;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StorageClaimSpec;
import io.mycnet.storage.operator.allocation.AllocationException;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.Quantities;
import io.mycnet.storage.operator.reconciler.servicenamespace.ServiceNamespaceMapper;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.util.Optional;
import java.util.Set;

/**
 * {@code StorageClaim} to {@link StorageRequest}: parses the size, resolves the pool (the claim's,
 * else the service namespace's first, else the cluster's only pool; a bound volume keeps its own),
 * takes the pool's default strategy, and runs the request's own checks (storage-type defaults are
 * tightened, never loosened) so that every problem names the claim's field.
 */
public final class StorageClaimMapper {
  /**
   * Annotation: where the claim's consumer runs, as a node's topology path (its last segment the
   * node, e.g. {@code region=eu/zone=eu-1/rack=r3/node=n17}); a PERFORMANCE_OPTIMIZED placement
   * keeps replicas near it. The CSI controller sets it from CreateVolume's preferred topology.
   */
  public static final String CONSUMER_TOPOLOGY = "storage.mycnet.io/consumer-topology";

  private StorageClaimMapper() {}

  /**
   * @param existing the claim's current allocation, if any: a bound volume keeps its pool and
   *     strategy when the claim does not name them
   * @throws InvalidFieldException naming the first invalid field
   */
  public static StorageRequest toRequest(
      StorageClaim claim, ServiceNamespace sn, PoolDirectory pools, Optional<Allocation> existing) {
    StorageClaimSpec spec = claim.getSpec();
    if (spec == null) {
      throw new InvalidFieldException("spec", "must be set");
    }
    long size = Quantities.bytes("spec.size", spec.getSize());
    if (spec.getStorageType() == null) {
      throw new InvalidFieldException(
          "spec.storageType",
          "must be set (INFRASTRUCTURE, CONSENSUS, DISCOVERY, CONFIGURATION, SERVICE)");
    }
    String pool = resolvePool(spec, sn, pools, existing);
    StorageRequest r =
        StorageRequest.of(
            VolumeIds.of(claim),
            ServiceNamespaceMapper.storeId(sn),
            pool,
            size,
            StorageType.valueOf(spec.getStorageType().name()));
    if (spec.getClassification() != null) {
      r = r.withClassification(Classification.valueOf(spec.getClassification().name()));
    }
    StorageClaimSpec.Replication rep = spec.getReplication();
    ReplicationStrategy strategy = null;
    boolean geo = false;
    if (rep != null) {
      if (rep.getReplicas() != null) {
        if (rep.getReplicas() < 1 || rep.getReplicas() > StorageRequest.MAX_REPLICAS) {
          throw new InvalidFieldException(
              "spec.replication.replicas",
              "must be between 1 and "
                  + StorageRequest.MAX_REPLICAS
                  + ", was "
                  + rep.getReplicas());
        }
        r = r.withReplicas(rep.getReplicas());
      }
      if (rep.getConsistency() != null) {
        r = r.withConsistency(ConsistencyLevel.valueOf(rep.getConsistency().name()));
      }
      if (rep.getStrategy() != null) {
        strategy = ReplicationStrategy.valueOf(rep.getStrategy().name());
      }
      geo = Boolean.TRUE.equals(rep.getGeographicDistribution());
    }
    if (strategy == null) {
      strategy =
          existing
              .map(a -> ProtoMapping.fromProto(a.getStrategy()))
              .orElseGet(
                  () ->
                      pools
                          .get(pool)
                          .map(PoolDefinition::defaultStrategy)
                          .orElse(ReplicationStrategy.HIERARCHY_AWARE));
    }
    r = r.withStrategy(strategy);
    r =
        new StorageRequest(
            r.volumeId(),
            r.namespace(),
            r.pool(),
            r.sizeBytes(),
            r.storageType(),
            r.classification(),
            r.replicaCount(),
            r.consistency(),
            geo,
            r.strategy(),
            consumer(claim));
    try {
      r.effective();
    } catch (AllocationException e) {
      throw new InvalidFieldException(fieldOf(e.getMessage()), e.getMessage());
    }
    return r;
  }

  /** The claim's {@link #CONSUMER_TOPOLOGY}, or null. */
  private static TopologyPath consumer(StorageClaim claim) {
    java.util.Map<String, String> ann = claim.getMetadata().getAnnotations();
    String at = ann == null ? null : ann.get(CONSUMER_TOPOLOGY);
    if (at == null || at.isBlank()) {
      return null;
    }
    try {
      return TopologyPath.parse(at.strip());
    } catch (IllegalArgumentException e) {
      throw new InvalidFieldException(
          "metadata.annotations[" + CONSUMER_TOPOLOGY + "]", e.getMessage());
    }
  }

  private static String resolvePool(
      StorageClaimSpec spec,
      ServiceNamespace sn,
      PoolDirectory pools,
      Optional<Allocation> existing) {
    if (spec.getPool() != null && !spec.getPool().isEmpty()) {
      return spec.getPool();
    }
    if (existing.isPresent()) {
      return existing.get().getPool();
    }
    if (sn.getSpec() != null
        && sn.getSpec().getPools() != null
        && !sn.getSpec().getPools().isEmpty()) {
      return sn.getSpec().getPools().get(0);
    }
    Set<String> all = pools.names();
    if (all.size() == 1) {
      return all.iterator().next();
    }
    throw new InvalidFieldException(
        "spec.pool",
        "must be set: the service namespace names no pools and the cluster has "
            + (all.isEmpty()
                ? "no valid StoragePool"
                : all.size() + " pools (" + String.join(", ", all) + ")"));
  }

  /** The claim field a {@link StorageRequest} check names. */
  static String fieldOf(String message) {
    if (message.startsWith("classification")) {
      return "spec.classification";
    }
    if (message.startsWith("replicaCount")) {
      return "spec.replication.replicas";
    }
    if (message.startsWith("consistency")) {
      return "spec.replication.consistency";
    }
    if (message.startsWith("sizeBytes")) {
      return "spec.size";
    }
    if (message.startsWith("pool")) {
      return "spec.pool";
    }
    if (message.startsWith("volumeId")) {
      return "metadata.name";
    }
    return "spec";
  }
}
