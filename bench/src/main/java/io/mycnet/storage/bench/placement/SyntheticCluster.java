package io.mycnet.storage.bench.placement;

import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.placement.ClusterView;
import io.mycnet.storage.operator.placement.NodeView;
import java.util.ArrayList;
import java.util.List;

/**
 * Equal nodes (1 TiB, trust tier CRITICAL, score 0.95, UP) in a 4-level hierarchy region > zone >
 * rack > node: 5 regions; 2 zones per region below 1,000 nodes, 4 up to 10,000, 10 from 100,000; 5
 * nodes per rack below 1,000 nodes, else 10; as many racks per zone as it takes.
 */
final class SyntheticCluster {
  static final int REGIONS = 5;

  private SyntheticCluster() {}

  static int zonesPerRegion(int n) {
    return n >= 100_000 ? 10 : n >= 1_000 ? 4 : 2;
  }

  static int nodesPerRack(int n) {
    return n >= 1_000 ? 10 : 5;
  }

  static String path(int region, int zone, int rack, String id) {
    return "region=r"
        + region
        + "/zone=r"
        + region
        + "-z"
        + zone
        + "/rack=r"
        + region
        + "-z"
        + zone
        + "-k"
        + rack
        + "/node="
        + id;
  }

  static NodeView node(String id, String path) {
    return NodeView.builder(id, path)
        .capacityBytes(1L << 40)
        .trust(TrustTier.CRITICAL, 0.95)
        .build();
  }

  static List<NodeView> nodes(int n) {
    int zones = zonesPerRegion(n);
    int perRack = nodesPerRack(n);
    int domains = REGIONS * zones;
    int racks = Math.max(1, (n + domains * perRack - 1) / (domains * perRack));
    List<NodeView> out = new ArrayList<>(n);
    int i = 0;
    for (int k = 0; k < racks && i < n; k++) {
      for (int r = 0; r < REGIONS && i < n; r++) {
        for (int z = 0; z < zones && i < n; z++) {
          for (int m = 0; m < perRack && i < n; m++) {
            String id = String.format("n%06d", i++);
            out.add(node(id, path(r, z, k, id)));
          }
        }
      }
    }
    return out;
  }

  static ClusterView view(int n) {
    return ClusterView.of(TopologyPath.DEFAULT_LEVELS, nodes(n));
  }
}
