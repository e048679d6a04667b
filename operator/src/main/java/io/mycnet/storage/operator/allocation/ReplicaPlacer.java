package io.mycnet.storage.operator.allocation;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import java.util.List;
import java.util.Set;

/**
 * The placement decision the allocation code asks for. The implementation in a running control
 * plane is {@link PlannerPlacement} over the {@code placement} package; the allocation code only
 * depends on this shape so that its transactions stay apart from the placement rules.
 */
public interface ReplicaPlacer {

  /**
   * What to place.
   *
   * @param keepNodeIds nodes that already hold healthy replicas (re-replication); the result adds
   *     {@code replicaCount - keepNodeIds.size()} nodes in domains they do not use
   * @param excludedNodeIds nodes that must not be chosen
   * @param consumer where the volume's consumer runs (PERFORMANCE_OPTIMIZED), or null
   */
  record Query(
      String volumeId,
      long sizeBytes,
      Classification classification,
      int replicaCount,
      ReplicationStrategy strategy,
      String pool,
      double overcommitRatio,
      boolean geographicDistribution,
      List<String> keepNodeIds,
      Set<String> excludedNodeIds,
      io.mycnet.storage.operator.model.TopologyPath consumer) {

    /** A query without a consumer location. */
    public Query(
        String volumeId,
        long sizeBytes,
        Classification classification,
        int replicaCount,
        ReplicationStrategy strategy,
        String pool,
        double overcommitRatio,
        boolean geographicDistribution,
        List<String> keepNodeIds,
        Set<String> excludedNodeIds) {
      this(
          volumeId,
          sizeBytes,
          classification,
          replicaCount,
          strategy,
          pool,
          overcommitRatio,
          geographicDistribution,
          keepNodeIds,
          excludedNodeIds,
          null);
    }

    /**
     * One more replica for the existing volume {@code a}: keeping {@code keep} where they are,
     * never on {@code excluded} (a rebuild's replacement, a re-placed create, a re-spread target).
     */
    public static Query oneMore(
        io.mycnet.storage.api.v1.Allocation a,
        double overcommitRatio,
        List<String> keep,
        Set<String> excluded) {
      return new Query(
          a.getVolumeId(),
          a.getSizeBytes(),
          io.mycnet.storage.operator.wire.ProtoMapping.fromProto(a.getClassification()),
          keep.size() + 1,
          io.mycnet.storage.operator.wire.ProtoMapping.fromProto(a.getStrategy()),
          a.getPool(),
          overcommitRatio,
          a.getGeographicDistribution(),
          keep,
          excluded);
    }
  }

  /**
   * The answer: the chosen new node ids (primary first when nothing is kept), or none with an
   * explanation of why not.
   */
  record Outcome(List<String> nodeIds, String explanation) {
    public boolean placed() {
      return !nodeIds.isEmpty();
    }
  }

  Outcome place(Query query, List<NodeSnapshot> nodes);
}
