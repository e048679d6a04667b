package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.kubernetes.api.model.Quantity;

/**
 * The intent of a {@link StorageClaim}. Unset optional fields take the storage type's defaults; a
 * value that is set may tighten them, never loosen them.
 */
public class StorageClaimSpec {
  @Required
  @JsonPropertyDescription(
      "The ServiceNamespace (in this Kubernetes namespace) the volume belongs to.")
  @Pattern(ServiceNamespaceSpec.NAME_PATTERN)
  private String serviceNamespace;

  @JsonPropertyDescription(
      "The StoragePool to place the volume in. Default: the service namespace's first pool, or"
          + " the only pool of the cluster.")
  @Pattern(ServiceNamespaceSpec.NAME_PATTERN)
  private String pool;

  @Required
  @JsonPropertyDescription("Size as a Kubernetes quantity (e.g. 10Gi). Volumes grow, never shrink.")
  private Quantity size;

  @Required
  @JsonPropertyDescription(
      "What the volume is for: INFRASTRUCTURE, CONSENSUS, DISCOVERY, CONFIGURATION (network"
          + " storage) or SERVICE (application storage).")
  private StorageTypeName storageType;

  @JsonPropertyDescription(
      "Data classification; only nodes trusted enough hold it. Default: the storage type's"
          + " (CONSENSUS CRITICAL; INFRASTRUCTURE, CONFIGURATION SENSITIVE; DISCOVERY, SERVICE"
          + " STANDARD).")
  private ClassificationName classification;

  @JsonPropertyDescription("Replication requirements. Default: the storage type's.")
  private Replication replication;

  public String getServiceNamespace() {
    return serviceNamespace;
  }

  public void setServiceNamespace(String serviceNamespace) {
    this.serviceNamespace = serviceNamespace;
  }

  public String getPool() {
    return pool;
  }

  public void setPool(String pool) {
    this.pool = pool;
  }

  public Quantity getSize() {
    return size;
  }

  public void setSize(Quantity size) {
    this.size = size;
  }

  public StorageTypeName getStorageType() {
    return storageType;
  }

  public void setStorageType(StorageTypeName storageType) {
    this.storageType = storageType;
  }

  public ClassificationName getClassification() {
    return classification;
  }

  public void setClassification(ClassificationName classification) {
    this.classification = classification;
  }

  public Replication getReplication() {
    return replication;
  }

  public void setReplication(Replication replication) {
    this.replication = replication;
  }

  /** How the volume is replicated. */
  public static class Replication {
    @JsonPropertyDescription(
        "Number of replicas, 1 to 7. Default: the storage type's (SERVICE 2, the others 3).")
    @Min(1)
    @Max(7)
    private Integer replicas;

    @JsonPropertyDescription(
        "STRONG (every in-sync replica) or EVENTUAL (the primary). Default: the storage type's.")
    private ConsistencyLevelName consistency;

    @JsonPropertyDescription(
        "Spread replicas over distinct regions (geographic distribution). Default: false.")
    private Boolean geographicDistribution;

    @JsonPropertyDescription("Replication strategy. Default: the pool's defaultStrategy.")
    private ReplicationStrategyName strategy;

    public Integer getReplicas() {
      return replicas;
    }

    public void setReplicas(Integer replicas) {
      this.replicas = replicas;
    }

    public ConsistencyLevelName getConsistency() {
      return consistency;
    }

    public void setConsistency(ConsistencyLevelName consistency) {
      this.consistency = consistency;
    }

    public Boolean getGeographicDistribution() {
      return geographicDistribution;
    }

    public void setGeographicDistribution(Boolean geographicDistribution) {
      this.geographicDistribution = geographicDistribution;
    }

    public ReplicationStrategyName getStrategy() {
      return strategy;
    }

    public void setStrategy(ReplicationStrategyName strategy) {
      this.strategy = strategy;
    }
  }
}
