package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link StorageClaim}. */
public class StorageClaimStatus {
  @JsonPropertyDescription("The metadata.generation this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription("Pending, Bound, Degraded, Rebuilding, Lost or Released.")
  private ClaimPhase phase;

  @JsonPropertyDescription("The volume's id in the control plane (<namespace>.<name>).")
  private String volumeId;

  @JsonPropertyDescription("The StoragePool the volume is placed in.")
  private String pool;

  @JsonPropertyDescription("Allocated size in bytes.")
  private Long sizeBytes;

  @JsonPropertyDescription("The effective classification (after the storage type's defaults).")
  private ClassificationName classification;

  @JsonPropertyDescription("The effective consistency level.")
  private ConsistencyLevelName consistency;

  @JsonPropertyDescription("The effective replication strategy.")
  private ReplicationStrategyName strategy;

  @JsonPropertyDescription("Healthy replicas / requested replicas, e.g. 3/3.")
  private String replicasReady;

  @JsonPropertyDescription("The volume's epoch: raised whenever its replica set changes.")
  private Long epoch;

  @JsonPropertyDescription("The replicas: node, topology path, the node's trust score, state.")
  private List<ReplicaStatus> replicas = new ArrayList<>();

  @JsonPropertyDescription("Why the replicas are where they are (the placement explanation).")
  private String placement;

  @JsonPropertyDescription(
      "Kubernetes-style conditions. Ready: the volume is allocated; when it is not, the reason"
          + " and message say why (invalid field, not allowed, quota, placement explanation).")
  private List<Condition> conditions = new ArrayList<>();

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public ClaimPhase getPhase() {
    return phase;
  }

  public void setPhase(ClaimPhase phase) {
    this.phase = phase;
  }

  public String getVolumeId() {
    return volumeId;
  }

  public void setVolumeId(String volumeId) {
    this.volumeId = volumeId;
  }

  public String getPool() {
    return pool;
  }

  public void setPool(String pool) {
    this.pool = pool;
  }

  public Long getSizeBytes() {
    return sizeBytes;
  }

  public void setSizeBytes(Long sizeBytes) {
    this.sizeBytes = sizeBytes;
  }

  public ClassificationName getClassification() {
    return classification;
  }

  public void setClassification(ClassificationName classification) {
    this.classification = classification;
  }

  public ConsistencyLevelName getConsistency() {
    return consistency;
  }

  public void setConsistency(ConsistencyLevelName consistency) {
    this.consistency = consistency;
  }

  public ReplicationStrategyName getStrategy() {
    return strategy;
  }

  public void setStrategy(ReplicationStrategyName strategy) {
    this.strategy = strategy;
  }

  public String getReplicasReady() {
    return replicasReady;
  }

  public void setReplicasReady(String replicasReady) {
    this.replicasReady = replicasReady;
  }

  public Long getEpoch() {
    return epoch;
  }

  public void setEpoch(Long epoch) {
    this.epoch = epoch;
  }

  public List<ReplicaStatus> getReplicas() {
    return replicas;
  }

  public void setReplicas(List<ReplicaStatus> replicas) {
    this.replicas = replicas;
  }

  public String getPlacement() {
    return placement;
  }

  public void setPlacement(String placement) {
    this.placement = placement;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  /** One replica of the volume. */
  public static class ReplicaStatus {
    private String node;
    private String topologyPath;

    @JsonPropertyDescription("The node's trust score when the status was written.")
    private Double trustScore;

    @JsonPropertyDescription("HEALTHY, REBUILDING, STALE or LOST.")
    private String state;

    public String getNode() {
      return node;
    }

    public void setNode(String node) {
      this.node = node;
    }

    public String getTopologyPath() {
      return topologyPath;
    }

    public void setTopologyPath(String topologyPath) {
      this.topologyPath = topologyPath;
    }

    public Double getTrustScore() {
      return trustScore;
    }

    public void setTrustScore(Double trustScore) {
      this.trustScore = trustScore;
    }

    public String getState() {
      return state;
    }

    public void setState(String state) {
      this.state = state;
    }
  }
}
