package io.mycnet.storage.operator.reconciler.storageclaim;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.ConsistencyLevelName;
import io.mycnet.storage.crds.v1alpha1.ReplicationStrategyName;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StorageClaimStatus;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.Reason;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.util.ArrayList;
import java.util.List;

/** Builds a {@link StorageClaimStatus} from the claim's allocation, or from why it has none. */
final class StorageClaimStatusFactory {
  /** True while every requested replica is healthy. */
  static final String REPLICATED = "Replicated";

  private final Conditions conditions;
  private final NodeTrustSource trust;

  /** Why a claim's current spec is not what its volume has (the volume stays as it is). */
  record Problem(Reason reason, String message) {}

  StorageClaimStatusFactory(Conditions conditions, NodeTrustSource trust) {
    this.conditions = conditions;
    this.trust = trust;
  }

  static ClaimPhase phaseOf(Allocation a) {
    return switch (a.getState()) {
      case VOLUME_STATE_BOUND -> ClaimPhase.Bound;
      case VOLUME_STATE_DEGRADED -> ClaimPhase.Degraded;
      case VOLUME_STATE_REBUILDING -> ClaimPhase.Rebuilding;
      case VOLUME_STATE_LOST -> ClaimPhase.Lost;
      default -> ClaimPhase.Pending;
    };
  }

  /**
   * The status of a claim with a volume.
   *
   * @param problem null, or why the claim's current spec is not what the volume has
   */
  StorageClaimStatus bound(StorageClaim claim, Allocation a, Problem problem) {
    StorageClaimStatus s = base(claim);
    Long gen = claim.getMetadata().getGeneration();
    ClaimPhase phase = phaseOf(a);
    s.setPhase(phase);
    s.setVolumeId(a.getVolumeId());
    s.setPool(a.getPool());
    s.setSizeBytes(a.getSizeBytes());
    s.setClassification(
        ClassificationName.valueOf(ProtoMapping.fromProto(a.getClassification()).name()));
    s.setConsistency(
        ConsistencyLevelName.valueOf(ProtoMapping.fromProto(a.getConsistency()).name()));
    s.setStrategy(ReplicationStrategyName.valueOf(ProtoMapping.fromProto(a.getStrategy()).name()));
    s.setEpoch(a.getEpoch());
    s.setPlacement(a.getPlacementNote());
    int healthy = 0;
    List<StorageClaimStatus.ReplicaStatus> replicas = new ArrayList<>();
    for (Replica r : a.getReplicasList()) {
      StorageClaimStatus.ReplicaStatus rs = new StorageClaimStatus.ReplicaStatus();
      rs.setNode(r.getNodeId());
      rs.setTopologyPath(r.getTopologyPath());
      rs.setTrustScore(Math.round(trust.trustOf(r.getNodeId()).score() * 1000) / 1000.0);
      rs.setState(r.getState().name().replace("REPLICA_STATE_", ""));
      replicas.add(rs);
      if (r.getState() == ReplicaState.REPLICA_STATE_HEALTHY) {
        healthy++;
      }
    }
    s.setReplicas(replicas);
    s.setReplicasReady(healthy + "/" + a.getReplicaCount());
    boolean creating = a.getState() == io.mycnet.storage.api.v1.VolumeState.VOLUME_STATE_CREATING;
    boolean usable = phase != ClaimPhase.Lost && !creating;
    if (creating && problem == null) {
      // Not bound before its replicas exist: Pending until every agent confirmed its replica.
      s.setConditions(
          conditions.set(
              s.getConditions(),
              Conditions.READY,
              false,
              StorageClaimReason.REPLICAS_CREATING,
              "volume "
                  + a.getVolumeId()
                  + " is allocated in pool "
                  + a.getPool()
                  + "; "
                  + healthy
                  + " of "
                  + a.getReplicaCount()
                  + " replicas confirmed by their agents"
                  + refusals(a),
              gen));
    } else if (problem != null) {
      s.setConditions(
          conditions.set(
              s.getConditions(),
              Conditions.READY,
              false,
              problem.reason(),
              problem.message(),
              gen));
    } else {
      s.setConditions(
          conditions.set(
              s.getConditions(),
              Conditions.READY,
              usable,
              StorageClaimReason.of(phase),
              usable
                  ? "volume " + a.getVolumeId() + " is allocated in pool " + a.getPool()
                  : "volume " + a.getVolumeId() + " has no healthy replica left",
              gen));
    }
    s.setConditions(
        conditions.set(
            s.getConditions(),
            REPLICATED,
            phase == ClaimPhase.Bound && !a.getRepairNote().startsWith("replication paused"),
            a.getRepairNote().startsWith("replication paused")
                ? StorageClaimReason.REPLICATION_PAUSED
                : StorageClaimReason.of(phase),
            healthy
                + " of "
                + a.getReplicaCount()
                + " replicas healthy"
                + (a.getRepairNote().isEmpty() ? "" : "; " + a.getRepairNote()),
            gen));
    return s;
  }

  /** The latest refused creates, for the Ready message: where a replica went instead and why. */
  private static String refusals(Allocation a) {
    if (a.getCreateRefusalsCount() == 0) {
      return "";
    }
    var last = a.getCreateRefusals(a.getCreateRefusalsCount() - 1);
    return "; node "
        + last.getNodeId()
        + " refused its replica ("
        + last.getReason()
        + "), re-placed on "
        + last.getReplacedBy();
  }

  /** The status of a claim without a volume. */
  StorageClaimStatus pending(StorageClaim claim, Reason reason, String message) {
    return unbound(claim, ClaimPhase.Pending, reason, message);
  }

  /** The status of a claim whose volume was released from under it. */
  StorageClaimStatus released(StorageClaim claim, String message) {
    StorageClaimStatus s =
        unbound(claim, ClaimPhase.Released, StorageClaimReason.VOLUME_RELEASED, message);
    StorageClaimStatus old = claim.getStatus();
    if (old != null) {
      s.setVolumeId(old.getVolumeId());
      s.setPool(old.getPool());
    }
    return s;
  }

  private StorageClaimStatus unbound(
      StorageClaim claim, ClaimPhase phase, Reason reason, String message) {
    StorageClaimStatus s = base(claim);
    Long gen = claim.getMetadata().getGeneration();
    s.setPhase(phase);
    s.setReplicas(new ArrayList<>());
    s.setConditions(
        conditions.set(s.getConditions(), Conditions.READY, false, reason, message, gen));
    s.setConditions(
        conditions.set(
            s.getConditions(),
            REPLICATED,
            false,
            StorageClaimReason.of(phase),
            "no volume is allocated",
            gen));
    return s;
  }

  private static StorageClaimStatus base(StorageClaim claim) {
    StorageClaimStatus s = new StorageClaimStatus();
    if (claim.getStatus() != null) {
      s.setConditions(claim.getStatus().getConditions());
    }
    s.setObservedGeneration(claim.getMetadata().getGeneration());
    return s;
  }
}
