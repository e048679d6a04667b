package io.mycnet.storage.operator.allocation;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.placement.AntiAffinity;
import io.mycnet.storage.operator.placement.ClusterView;
import io.mycnet.storage.operator.placement.GeoPoint;
import io.mycnet.storage.operator.placement.InvalidPlacementRequestException;
import io.mycnet.storage.operator.placement.NodeView;
import io.mycnet.storage.operator.placement.PlacementPlanner;
import io.mycnet.storage.operator.placement.PlacementRequest;
import io.mycnet.storage.operator.placement.PlacementResult;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The {@link ReplicaPlacer} of a running control plane: turns the etcd node snapshots into the
 * placement package's {@link ClusterView} and asks its {@link PlacementPlanner}.
 *
 * <p>Reserved bytes become free bytes with the pool's overcommit: a node may take a volume of
 * {@code s} bytes while {@code reserved + s <= capacity × overcommit}, which is the planner's rule
 * {@code free >= s / overcommit} for {@code free = capacity − reserved / overcommit}. Placement
 * slots come from the node records, where registration assigned them once.
 *
 * <p>A request's {@code geographicDistribution} makes distinct domains at the outermost level
 * (regions by default) a hard rule: placement fails, explaining why, rather than put two replicas
 * in one region.
 *
 * <p>Building a view indexes every node, so the last few views are kept (Caffeine) and reused while
 * the snapshots they were built from are unchanged — replication passes, dry runs and bursts of
 * requests between two cluster changes share one view.
 */
public final class PlannerPlacement implements ReplicaPlacer {
  private record ViewKey(List<NodeSnapshot> nodes, double overcommit) {}

  private final PlacementPlanner planner = new PlacementPlanner();
  private final Cache<ViewKey, ClusterView> views = Caffeine.newBuilder().maximumSize(4).build();
  private final Function<NodeRecord, Set<String>> poolsOf;

  /**
   * @param poolsOf the storage pools a node belongs to (from the StoragePool resources' node
   *     selectors)
   */
  public PlannerPlacement(Function<NodeRecord, Set<String>> poolsOf) {
    this.poolsOf = poolsOf;
  }

  @Override
  public Outcome place(Query q, List<NodeSnapshot> nodes) {
    ClusterView view =
        views.get(
            new ViewKey(List.copyOf(nodes), q.overcommitRatio()),
            k -> view(k.nodes(), k.overcommit()));
    PlacementRequest request;
    try {
      PlacementRequest.Builder b =
          PlacementRequest.builder(q.volumeId())
              .sizeBytes(q.sizeBytes())
              .replicas(q.replicaCount())
              .classification(q.classification())
              .strategy(q.strategy())
              .pool(q.pool())
              .overcommitRatio(q.overcommitRatio())
              .keepReplicas(q.keepNodeIds())
              .excludeNodes(q.excludedNodeIds());
      if (q.geographicDistribution()) {
        b.antiAffinity(AntiAffinity.HARD, null);
      }
      if (q.consumer() != null) {
        List<TopologyPath.Segment> at = q.consumer().segments();
        b.consumerNode(at.get(at.size() - 1).value()).consumerTopology(q.consumer());
      }
      request = b.build();
    } catch (InvalidPlacementRequestException e) {
      throw AllocationException.invalid(e.getMessage());
    }
    PlacementResult result = planner.place(request, view);
    if (!result.placed()) {
      return new Outcome(List.of(), result.message());
    }
    return new Outcome(result.added(), result.message());
  }

  /** The placement view of the snapshots. */
  ClusterView view(List<NodeSnapshot> nodes, double overcommit) {
    List<NodeView> views = new ArrayList<>(nodes.size());
    List<String> levels = null;
    for (NodeSnapshot n : nodes) {
      NodeRecord r = n.record();
      TopologyPath path = TopologyPath.parse(r.getTopologyPath());
      if (levels == null) {
        levels = new ArrayList<>();
        for (TopologyPath.Segment s : path.segments()) {
          levels.add(s.level());
        }
      }
      long capacity = Math.max(0, r.getCapacityBytes());
      long free = (long) Math.max(0, Math.min(capacity, capacity - n.reservedBytes() / overcommit));
      Map<String, String> labels = new HashMap<>(r.getLabelsMap());
      views.add(
          new NodeView(
              r.getNodeId(),
              path,
              capacity,
              free,
              n.tier(),
              Math.max(0, Math.min(1, n.trustScore())),
              r.getOwner().isBlank() ? null : r.getOwner(),
              r.getHasCoordinates() ? new GeoPoint(r.getLatitude(), r.getLongitude()) : null,
              0,
              0,
              poolsOf.apply(r),
              labels,
              state(r),
              r.getPlacementSlot()));
    }
    return ClusterView.of(levels == null ? TopologyPath.DEFAULT_LEVELS : levels, views);
  }

  private static NodeState state(NodeRecord r) {
    return switch (r.getState()) {
      case NODE_STATE_DRAINING -> NodeState.DRAINING;
        // A removed node is gone to placement: no replica goes to it, none is read from it.
      case NODE_STATE_DOWN, NODE_STATE_REMOVED -> NodeState.DOWN;
      case NODE_STATE_QUARANTINED -> NodeState.QUARANTINED;
      default -> NodeState.UP;
    };
  }
}
