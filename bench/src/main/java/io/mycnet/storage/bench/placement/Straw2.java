package io.mycnet.storage.bench.placement;

import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.placement.NodeView;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The comparison baseline for movement: CRUSH-style placement with an independent straw2 draw at
 * every level of the hierarchy (region, then zone, then rack, then node), replicas in distinct
 * regions, a replica that lands in a used region drawn again. Adding a node changes the weight of
 * each of its ancestors, and each of those draws then moves replicas into that ancestor onto
 * arbitrary nodes inside it.
 */
final class Straw2 {
  private final Bucket root = new Bucket("");

  private static final class Bucket {
    final String name;
    final long hash;
    final Map<String, Bucket> children = new LinkedHashMap<>();
    final List<Bucket> list = new ArrayList<>();
    double weight;
    String nodeId;

    Bucket(String name) {
      this.name = name;
      this.hash = Straw2.hash(name);
    }
  }

  Straw2(List<NodeView> nodes) {
    for (NodeView n : nodes) {
      Bucket b = root;
      b.weight += 1;
      TopologyPath p = n.topology();
      for (int d = 1; d <= p.depth(); d++) {
        String key = p.domainAt(d);
        Bucket child = b.children.get(key);
        if (child == null) {
          child = new Bucket(key);
          b.children.put(key, child);
          b.list.add(child);
        }
        child.weight += 1;
        b = child;
      }
      b.nodeId = n.id();
    }
  }

  static long mix(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  static long hash(String s) {
    long h = 0x9E3779B97F4A7C15L;
    for (int i = 0; i < s.length(); i++) {
      h = mix(h ^ s.charAt(i));
    }
    return h;
  }

  /** A straw2 draw {@code -ln(u)} for (volume, item); divide by the weight. */
  static double draw(long volume, long item) {
    long h = mix(volume ^ mix(item));
    return -Math.log(((h >>> 11) + 0.5) * 0x1.0p-53);
  }

  /** The replicas of {@code volume}: {@code replicas} nodes in distinct regions. */
  List<String> place(String volume, int replicas) {
    long v = hash(volume);
    List<String> out = new ArrayList<>();
    List<Bucket> usedRegions = new ArrayList<>();
    for (int r = 0; out.size() < replicas && r < 64; r++) {
      long key = mix(v + r);
      Bucket region = pick(root, key);
      if (usedRegions.contains(region)) {
        continue;
      }
      Bucket b = region;
      while (b.nodeId == null) {
        b = pick(b, key);
      }
      usedRegions.add(region);
      out.add(b.nodeId);
    }
    return out;
  }

  private static Bucket pick(Bucket parent, long key) {
    Bucket best = null;
    double bestDraw = Double.POSITIVE_INFINITY;
    for (Bucket c : parent.list) {
      double d = draw(key, c.hash) / c.weight;
      if (d < bestDraw) {
        bestDraw = d;
        best = c;
      }
    }
    return best;
  }
}
