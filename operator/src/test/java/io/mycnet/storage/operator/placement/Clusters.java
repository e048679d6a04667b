package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Seeded cluster generators for the placement tests. */
final class Clusters {
  static final long GIB = 1L << 30;
  static final List<String> LEVELS = TopologyPath.DEFAULT_LEVELS;

  private Clusters() {}

  static String path(int region, int zone, int rack, String node) {
    return "region=r"
        + region
        + "/zone=r"
        + region
        + "z"
        + zone
        + "/rack=r"
        + region
        + "z"
        + zone
        + "k"
        + rack
        + "/node="
        + node;
  }

  /** Equal nodes (1 TiB, CRITICAL 0.95, UP) in a regular hierarchy, ids n0000, n0001, ... */
  static List<NodeView> uniform(int regions, int zones, int racks, int nodesPerRack) {
    List<NodeView> out = new ArrayList<>();
    int i = 0;
    for (int r = 0; r < regions; r++) {
      for (int z = 0; z < zones; z++) {
        for (int k = 0; k < racks; k++) {
          for (int m = 0; m < nodesPerRack; m++) {
            String id = String.format("n%04d", i++);
            out.add(
                NodeView.builder(id, path(r, z, k, id))
                    .capacityBytes(1L << 40)
                    .trust(TrustTier.CRITICAL, 0.95)
                    .owner("o" + (i % 5))
                    .pools("p0")
                    .build());
          }
        }
      }
    }
    return out;
  }

  static ClusterView view(List<NodeView> nodes) {
    return ClusterView.of(LEVELS, nodes);
  }

  static double scoreFor(TrustTier tier, Random rnd) {
    switch (tier) {
      case CRITICAL:
        return 0.9 + 0.1 * rnd.nextDouble();
      case SENSITIVE:
        return 0.7 + 0.2 * rnd.nextDouble();
      case STANDARD:
        return 0.5 + 0.2 * rnd.nextDouble();
      case PUBLIC:
        return 0.1 + 0.4 * rnd.nextDouble();
      default:
        return 0.1 * rnd.nextDouble();
    }
  }

  /**
   * A random but "stable" cluster: 1-4 regions, 1-3 zones each, 1-3 racks each, 2-4 nodes per rack,
   * all UP with ample space; nodes of a rack share tier, pools and owner, so removing any one node
   * leaves every rack's eligibility unchanged.
   */
  static List<NodeView> stable(Random rnd) {
    List<NodeView> out = new ArrayList<>();
    int regions = 1 + rnd.nextInt(4);
    int i = 0;
    TrustTier[] tiers = {TrustTier.CRITICAL, TrustTier.SENSITIVE, TrustTier.STANDARD};
    for (int r = 0; r < regions; r++) {
      int zones = 1 + rnd.nextInt(3);
      for (int z = 0; z < zones; z++) {
        int racks = 1 + rnd.nextInt(3);
        for (int k = 0; k < racks; k++) {
          int n = 2 + rnd.nextInt(3);
          TrustTier tier = tiers[rnd.nextInt(tiers.length)];
          String owner = "o" + rnd.nextInt(4);
          boolean both = rnd.nextBoolean();
          for (int m = 0; m < n; m++) {
            String id = String.format("n%04d", i++);
            long cap = (1L + rnd.nextInt(4)) << 40;
            NodeView.Builder b =
                NodeView.builder(id, path(r, z, k, id))
                    .capacityBytes(cap)
                    .freeBytes(cap / 2)
                    .trust(tier, scoreFor(tier, rnd))
                    .owner(owner);
            out.add((both ? b.pools("p0", "p1") : b.pools("p0")).build());
          }
        }
      }
    }
    return out;
  }

  /**
   * A random messy cluster: like {@link #stable} but with per-node tiers, states, owners, free
   * space, labels and pools varying, for explanation and rule checks.
   */
  static List<NodeView> messy(Random rnd) {
    List<NodeView> out = new ArrayList<>();
    int regions = 1 + rnd.nextInt(4);
    int i = 0;
    TrustTier[] tiers = TrustTier.values();
    NodeState[] states = {
      NodeState.UP,
      NodeState.UP,
      NodeState.UP,
      NodeState.UP,
      NodeState.UP,
      NodeState.DRAINING,
      NodeState.DOWN,
      NodeState.QUARANTINED
    };
    for (int r = 0; r < regions; r++) {
      int zones = 1 + rnd.nextInt(3);
      for (int z = 0; z < zones; z++) {
        int racks = 1 + rnd.nextInt(3);
        for (int k = 0; k < racks; k++) {
          int n = 1 + rnd.nextInt(4);
          for (int m = 0; m < n; m++) {
            String id = String.format("n%04d", i++);
            TrustTier tier = tiers[rnd.nextInt(tiers.length)];
            long cap = (1L + rnd.nextInt(8)) * 100 * GIB;
            NodeView.Builder b =
                NodeView.builder(id, path(r, z, k, id))
                    .capacityBytes(cap)
                    .freeBytes((long) (cap * rnd.nextDouble()))
                    .trust(tier, scoreFor(tier, rnd))
                    .owner(rnd.nextInt(5) == 0 ? null : "o" + rnd.nextInt(4))
                    .state(states[rnd.nextInt(states.length)])
                    .labels(rnd.nextBoolean() ? Map.of("disk", "ssd") : Map.of("disk", "hdd"));
            int pools = rnd.nextInt(3);
            out.add(
                (pools == 0 ? b.pools("p0") : pools == 1 ? b.pools("p1") : b.pools("p0", "p1"))
                    .build());
          }
        }
      }
    }
    return out;
  }

  static PlacementRequest request(
      String id, int replicas, Classification c, ReplicationStrategy strategy) {
    return PlacementRequest.builder(id)
        .sizeBytes(10 * GIB)
        .replicas(replicas)
        .classification(c)
        .strategy(strategy)
        .build();
  }
}
