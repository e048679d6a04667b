package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.TopologyPath;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An immutable snapshot of the cluster for placement: the hierarchy's level names and every node,
 * indexed once so that the many placements computed against it are fast.
 *
 * <p>What the index holds:
 *
 * <ul>
 *   <li>the failure-domain tree: for every level, each node's domain, each domain's parent,
 *       children and members;
 *   <li>the <em>placement axis</em>: node {@code i} owns the strip {@code [slot·2^32, slot·2^32 +
 *       width_i)}, where {@code width_i} is proportional to its weight (capacity relative to {@link
 *       #slotCapacityBytes()}, times its trust weight). A volume's draws are a Poisson process on
 *       this axis (see {@link PlacementPlanner}); a node's draw is the first arrival in its strip.
 *       Because a node's strip never depends on the other nodes, adding, removing or re-weighting
 *       one node changes no other node's draw;
 *   <li>a segment tree over slots with, per range, the best trust tier, the most free bytes and the
 *       pools of its UP nodes, so that a search skips ranges holding no possible candidate;
 *   <li>lazily, per (pool, classification), how many eligible UP nodes every domain holds.
 * </ul>
 *
 * <p>Placement slots: every node has one, fixed for its lifetime. Nodes whose {@link
 * NodeView#slot()} is -1 get the slot they had in the view passed to {@link
 * Builder#inheritSlotsFrom(ClusterView)}, else the lowest free slot (in node-id order). Callers
 * that restart should persist {@link #slotAssignments()} and pass the slots back in.
 */
public final class ClusterView {
  /** The owner all nodes without a {@code mycnet.io/owner} label share. */
  public static final String UNKNOWN_OWNER = "<unknown>";

  /** Name of the implicit innermost level: the node itself. */
  public static final String NODE_LEVEL = "node";

  static final int SLOT_BITS = 32;
  static final long SLOT_WIDTH = 1L << SLOT_BITS;

  /**
   * Trust bands are {@code 1/TRUST_BANDS} wide: band {@code b} holds scores in [b/20, (b+1)/20).
   */
  static final int TRUST_BANDS = 20;

  static final byte NO_LIVE_NODE = 5;

  private final List<String> levels;
  private final List<NodeView> nodes;
  private final Map<String, Integer> indexById;
  private final long slotCapacityBytes;

  // Per node (index = position in nodes, sorted by id).
  final int nodeCount;
  final int[] slotOf;
  final long[] stripWidth;
  final byte[] tierOrd;
  final long[] freeBytes;
  final boolean[] up;
  final long[] poolMask;
  final int[] ownerOf;
  final int[] bandOf;
  final double[] weight;
  final double[] perfFactor;
  final long[] idHash;

  // Placement axis.
  final int slotCount;
  final int[] nodeAtSlot;
  final byte[][] aggTier;
  final long[][] aggFree;
  final long[][] aggPools;

  // Hierarchy: depth 0 is the root, 1..L the levels, L+1 the node itself.
  final int depthLeaf;
  final int[][] domainOf;
  final int[] domainCount;
  final int[][] parentOf;
  final int[][][] childrenOf;
  final int[][][] membersOf;
  final String[][] domainName;
  final List<Map<String, Integer>> domainIndex;

  final List<String> poolNames;
  final Map<String, Integer> poolIndex;
  final List<String> ownerNames;
  final double medianIo;
  final double medianLatency;

  private final Map<Integer, EligibilityIndex> eligibility = new ConcurrentHashMap<>();

  private ClusterView(
      List<String> levels, List<NodeView> sortedNodes, int[] slots, long slotCapacityBytes) {
    this.levels = List.copyOf(levels);
    this.nodes = List.copyOf(sortedNodes);
    this.slotCapacityBytes = slotCapacityBytes;
    this.nodeCount = nodes.size();
    int n = nodeCount;
    int levelCount = levels.size();
    this.depthLeaf = levelCount + 1;

    Map<String, Integer> ids = new HashMap<>(n * 2);
    for (int i = 0; i < n; i++) {
      ids.put(nodes.get(i).id(), i);
    }
    this.indexById = Collections.unmodifiableMap(ids);

    // Pools and owners.
    TreeSet<String> pools = new TreeSet<>();
    TreeSet<String> owners = new TreeSet<>();
    for (NodeView v : nodes) {
      pools.addAll(v.pools());
      owners.add(ownerName(v));
    }
    this.poolNames = List.copyOf(pools);
    Map<String, Integer> pi = new HashMap<>();
    for (int i = 0; i < poolNames.size(); i++) {
      pi.put(poolNames.get(i), i);
    }
    this.poolIndex = Collections.unmodifiableMap(pi);
    this.ownerNames = List.copyOf(owners);
    Map<String, Integer> oi = new HashMap<>();
    for (int i = 0; i < ownerNames.size(); i++) {
      oi.put(ownerNames.get(i), i);
    }

    // Per-node arrays.
    this.slotOf = slots.clone();
    this.stripWidth = new long[n];
    this.tierOrd = new byte[n];
    this.freeBytes = new long[n];
    this.up = new boolean[n];
    this.poolMask = new long[n];
    this.ownerOf = new int[n];
    this.bandOf = new int[n];
    this.weight = new double[n];
    this.perfFactor = new double[n];
    this.idHash = new long[n];
    List<Double> ios = new ArrayList<>();
    List<Double> lats = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      NodeView v = nodes.get(i);
      double cap = Math.min(1.0, (double) v.capacityBytes() / slotCapacityBytes);
      int band = trustBand(v.trustScore());
      double w = cap * (band + 1) / (double) TRUST_BANDS;
      weight[i] = w;
      stripWidth[i] = Math.max(1L, (long) Math.floor(w * SLOT_WIDTH));
      if (stripWidth[i] > SLOT_WIDTH) {
        stripWidth[i] = SLOT_WIDTH;
      }
      tierOrd[i] = (byte) v.trustTier().ordinal();
      freeBytes[i] = v.freeBytes();
      up[i] = v.isUp();
      long mask = 0;
      for (String p : v.pools()) {
        int idx = poolIndex.get(p);
        mask |= idx < 63 ? 1L << idx : 1L << 63;
      }
      poolMask[i] = mask;
      ownerOf[i] = oi.get(ownerName(v));
      bandOf[i] = band;
      idHash[i] = PlacementHash.of(v.id());
      if (v.isUp() && v.ioOpsPerSecond() > 0) {
        ios.add(v.ioOpsPerSecond());
      }
      if (v.isUp() && v.latencyMillis() > 0) {
        lats.add(v.latencyMillis());
      }
    }
    this.medianIo = median(ios);
    this.medianLatency = median(lats);
    for (int i = 0; i < n; i++) {
      NodeView v = nodes.get(i);
      double f = 1.0;
      if (medianIo > 0 && v.ioOpsPerSecond() > 0) {
        f *= v.ioOpsPerSecond() / medianIo;
      }
      if (medianLatency > 0 && v.latencyMillis() > 0) {
        f *= medianLatency / v.latencyMillis();
      }
      perfFactor[i] = Math.max(0.25, Math.min(4.0, f));
    }

    // Slots and the segment tree over them.
    int maxSlot = -1;
    for (int s : slotOf) {
      maxSlot = Math.max(maxSlot, s);
    }
    this.slotCount = maxSlot + 1;
    this.nodeAtSlot = new int[slotCount];
    Arrays.fill(nodeAtSlot, -1);
    for (int i = 0; i < n; i++) {
      nodeAtSlot[slotOf[i]] = i;
    }
    int height = 1;
    while ((1L << (height - 1)) < Math.max(1, slotCount)) {
      height++;
    }
    this.aggTier = new byte[height][];
    this.aggFree = new long[height][];
    this.aggPools = new long[height][];
    for (int h = 0; h < height; h++) {
      int len = (int) ((slotCount + (1L << h) - 1) >>> h);
      aggTier[h] = new byte[len];
      aggFree[h] = new long[len];
      aggPools[h] = new long[len];
      Arrays.fill(aggTier[h], NO_LIVE_NODE);
      Arrays.fill(aggFree[h], -1L);
    }
    for (int s = 0; s < slotCount; s++) {
      int i = nodeAtSlot[s];
      if (i >= 0 && up[i]) {
        aggTier[0][s] = tierOrd[i];
        aggFree[0][s] = freeBytes[i];
        aggPools[0][s] = poolMask[i];
      }
    }
    for (int h = 1; h < height; h++) {
      for (int k = 0; k < aggTier[h].length; k++) {
        int a = 2 * k;
        int b = 2 * k + 1;
        byte t = aggTier[h - 1][a];
        long f = aggFree[h - 1][a];
        long p = aggPools[h - 1][a];
        if (b < aggTier[h - 1].length) {
          t = (byte) Math.min(t, aggTier[h - 1][b]);
          f = Math.max(f, aggFree[h - 1][b]);
          p |= aggPools[h - 1][b];
        }
        aggTier[h][k] = t;
        aggFree[h][k] = f;
        aggPools[h][k] = p;
      }
    }

    // The failure-domain tree.
    int depths = levelCount + 2;
    this.domainOf = new int[depths][n];
    this.domainCount = new int[depths];
    this.domainName = new String[depths][];
    this.parentOf = new int[depths][];
    List<Map<String, Integer>> dIndex = new ArrayList<>();
    domainCount[0] = 1;
    domainName[0] = new String[] {""};
    parentOf[0] = new int[] {-1};
    dIndex.add(Map.of("", 0));
    for (int d = 1; d <= levelCount; d++) {
      Map<String, Integer> index = new HashMap<>();
      List<String> names = new ArrayList<>();
      List<Integer> parents = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String key = nodes.get(i).topology().domainAt(d);
        Integer dom = index.get(key);
        if (dom == null) {
          dom = names.size();
          index.put(key, dom);
          names.add(key);
          parents.add(domainOf[d - 1][i]);
        }
        domainOf[d][i] = dom;
      }
      domainCount[d] = names.size();
      domainName[d] = names.toArray(new String[0]);
      parentOf[d] = parents.stream().mapToInt(Integer::intValue).toArray();
      dIndex.add(Collections.unmodifiableMap(index));
    }
    domainCount[depthLeaf] = n;
    domainName[depthLeaf] = new String[n];
    parentOf[depthLeaf] = new int[n];
    for (int i = 0; i < n; i++) {
      domainOf[depthLeaf][i] = i;
      domainName[depthLeaf][i] = nodes.get(i).id();
      parentOf[depthLeaf][i] = domainOf[levelCount][i];
    }
    dIndex.add(ids);
    this.domainIndex = Collections.unmodifiableList(dIndex);
    this.childrenOf = new int[depths - 1][][];
    this.membersOf = new int[depths - 1][][];
    for (int d = 0; d < depths - 1; d++) {
      int[] childCounts = new int[domainCount[d]];
      for (int c = 0; c < domainCount[d + 1]; c++) {
        childCounts[parentOf[d + 1][c]]++;
      }
      childrenOf[d] = new int[domainCount[d]][];
      for (int p = 0; p < domainCount[d]; p++) {
        childrenOf[d][p] = new int[childCounts[p]];
      }
      int[] fill = new int[domainCount[d]];
      for (int c = 0; c < domainCount[d + 1]; c++) {
        int p = parentOf[d + 1][c];
        childrenOf[d][p][fill[p]++] = c;
      }
      int[] memberCounts = new int[domainCount[d]];
      for (int i = 0; i < n; i++) {
        memberCounts[domainOf[d][i]]++;
      }
      membersOf[d] = new int[domainCount[d]][];
      for (int p = 0; p < domainCount[d]; p++) {
        membersOf[d][p] = new int[memberCounts[p]];
      }
      Arrays.fill(fill, 0);
      for (int i = 0; i < n; i++) {
        int p = domainOf[d][i];
        membersOf[d][p][fill[p]++] = i;
      }
    }
  }

  private static double median(List<Double> values) {
    if (values.isEmpty()) {
      return 0;
    }
    Collections.sort(values);
    int m = values.size() / 2;
    return values.size() % 2 == 1 ? values.get(m) : (values.get(m - 1) + values.get(m)) / 2;
  }

  static String ownerName(NodeView v) {
    return v.owner() == null ? UNKNOWN_OWNER : v.owner();
  }

  /** The trust band of a score: {@code floor(score * 20)}, capped at 19. */
  static int trustBand(double score) {
    return Math.min(TRUST_BANDS - 1, (int) Math.floor(score * TRUST_BANDS));
  }

  // ---------------------------------------------------------------------------------------------
  // Construction.

  /** A view over {@code nodes} with hierarchy {@code levels} and default settings. */
  public static ClusterView of(List<String> levels, Collection<NodeView> nodes) {
    return builder(levels).nodes(nodes).build();
  }

  public static Builder builder(List<String> levels) {
    return new Builder(levels);
  }

  /**
   * A new view of the same hierarchy over {@code newNodes}, keeping the slot capacity and the slot
   * of every node this view already had.
   */
  public ClusterView withNodes(Collection<NodeView> newNodes) {
    return builder(levels).inheritSlotsFrom(this).nodes(newNodes).build();
  }

  /** This view with one node replaced (matched by id) or added. */
  public ClusterView withNode(NodeView node) {
    Map<String, NodeView> byId = new LinkedHashMap<>();
    for (NodeView v : nodes) {
      byId.put(v.id(), v.slot() < 0 ? v.withSlot(slotOf[indexById.get(v.id())]) : v);
    }
    byId.put(node.id(), node);
    return withNodes(byId.values());
  }

  /** Builds a {@link ClusterView}; validates every node against the hierarchy. */
  public static final class Builder {
    private final List<String> levels;
    private final List<NodeView> nodes = new ArrayList<>();
    private long slotCapacityBytes;
    private ClusterView previous;

    private Builder(List<String> levels) {
      if (levels == null || levels.isEmpty()) {
        throw new IllegalArgumentException("topology levels are empty; e.g. " + defaultLevels());
      }
      for (String l : levels) {
        new TopologyPath.Segment(l, "x"); // validates the level name
      }
      if (new TreeSet<>(levels).size() != levels.size()) {
        throw new IllegalArgumentException("topology levels " + levels + " repeat a name");
      }
      this.levels = List.copyOf(levels);
    }

    private static List<String> defaultLevels() {
      return TopologyPath.DEFAULT_LEVELS;
    }

    public Builder node(NodeView node) {
      nodes.add(Objects.requireNonNull(node, "node"));
      return this;
    }

    public Builder nodes(Collection<NodeView> all) {
      for (NodeView v : all) {
        node(v);
      }
      return this;
    }

    /**
     * The capacity one full slot stands for: a node of this capacity and trust 1.0 gets the full
     * weight 1; smaller nodes proportionally less; larger ones are capped at 1. Defaults to the
     * previous view's value, else the smallest power of two at or above the largest node. Changing
     * it re-weights every node (and so moves data): pin it.
     */
    public Builder slotCapacityBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("slotCapacityBytes must be > 0, got " + bytes);
      }
      slotCapacityBytes = bytes;
      return this;
    }

    /** Nodes without an explicit slot keep the one they had in {@code view}. */
    public Builder inheritSlotsFrom(ClusterView view) {
      previous = view;
      return this;
    }

    public ClusterView build() {
      List<NodeView> sorted = new ArrayList<>(nodes);
      sorted.sort(Comparator.comparing(NodeView::id));
      for (int i = 1; i < sorted.size(); i++) {
        if (sorted.get(i).id().equals(sorted.get(i - 1).id())) {
          throw new IllegalArgumentException("node id " + sorted.get(i).id() + " appears twice");
        }
      }
      long maxCap = 1;
      for (NodeView v : sorted) {
        validateTopology(v);
        maxCap = Math.max(maxCap, v.capacityBytes());
      }
      long slotCap = slotCapacityBytes;
      if (slotCap <= 0 && previous != null) {
        slotCap = previous.slotCapacityBytes;
      }
      if (slotCap <= 0) {
        slotCap = Long.highestOneBit(maxCap);
        if (slotCap < maxCap) {
          slotCap = slotCap << 1;
        }
      }
      return new ClusterView(levels, sorted, assignSlots(sorted), slotCap);
    }

    private void validateTopology(NodeView v) {
      List<TopologyPath.Segment> segs = v.topology().segments();
      boolean ok = segs.size() == levels.size();
      for (int d = 0; ok && d < segs.size(); d++) {
        ok = segs.get(d).level().equals(levels.get(d));
      }
      if (!ok) {
        throw new IllegalArgumentException(
            "node "
                + v.id()
                + ": topology path '"
                + v.topology()
                + "' does not have the levels "
                + String.join(" > ", levels)
                + " in that order");
      }
    }

    private int[] assignSlots(List<NodeView> sorted) {
      int[] slots = new int[sorted.size()];
      Map<Integer, String> taken = new TreeMap<>();
      for (int i = 0; i < sorted.size(); i++) {
        NodeView v = sorted.get(i);
        slots[i] = v.slot();
        if (v.slot() >= 0) {
          String other = taken.put(v.slot(), v.id());
          if (other != null) {
            throw new IllegalArgumentException(
                "nodes " + other + " and " + v.id() + " both claim placement slot " + v.slot());
          }
        }
      }
      if (previous != null) {
        for (int i = 0; i < sorted.size(); i++) {
          if (slots[i] < 0) {
            Integer prev = previous.indexById.get(sorted.get(i).id());
            if (prev != null) {
              int s = previous.slotOf[prev];
              if (!taken.containsKey(s)) {
                slots[i] = s;
                taken.put(s, sorted.get(i).id());
              }
            }
          }
        }
      }
      int next = 0;
      for (int i = 0; i < sorted.size(); i++) {
        if (slots[i] < 0) {
          while (taken.containsKey(next)) {
            next++;
          }
          slots[i] = next;
          taken.put(next, sorted.get(i).id());
        }
      }
      return slots;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Public accessors.

  /** The hierarchy's level names, outermost first. */
  public List<String> levels() {
    return levels;
  }

  /** All nodes, sorted by id. */
  public List<NodeView> nodes() {
    return nodes;
  }

  public Optional<NodeView> node(String id) {
    Integer i = indexById.get(id);
    return i == null ? Optional.empty() : Optional.of(nodes.get(i));
  }

  public boolean contains(String nodeId) {
    return indexById.containsKey(nodeId);
  }

  public long slotCapacityBytes() {
    return slotCapacityBytes;
  }

  /** The placement slot of node {@code id}, or -1 when the node is not in this view. */
  public int slotOf(String id) {
    Integer i = indexById.get(id);
    return i == null ? -1 : slotOf[i];
  }

  /** Node id to placement slot, for every node: persist this with the node records. */
  public Map<String, Integer> slotAssignments() {
    Map<String, Integer> out = new TreeMap<>();
    for (int i = 0; i < nodeCount; i++) {
      out.put(nodes.get(i).id(), slotOf[i]);
    }
    return out;
  }

  /** The placement weight of node {@code id} in [0, 1]: capacity share times trust weight. */
  public double weightOf(String id) {
    Integer i = indexById.get(id);
    if (i == null) {
      throw new IllegalArgumentException("node " + id + " is not in this view");
    }
    return weight[i];
  }

  /**
   * The level names a spread can be required at: the hierarchy's levels plus {@value #NODE_LEVEL}
   * (distinct nodes), unless the innermost level is already called that.
   */
  public List<String> spreadLevels() {
    List<String> out = new ArrayList<>(levels);
    if (!levels.get(levels.size() - 1).equals(NODE_LEVEL)) {
      out.add(NODE_LEVEL);
    }
    return out;
  }

  /** The depth (1 = outermost) of a spread level name, or -1 when unknown. */
  int depthOfLevel(String level) {
    int i = levels.indexOf(level);
    if (i >= 0) {
      return i + 1;
    }
    return NODE_LEVEL.equals(level) ? depthLeaf : -1;
  }

  String levelName(int depth) {
    return depth >= 1 && depth <= levels.size() ? levels.get(depth - 1) : NODE_LEVEL;
  }

  int indexOf(String nodeId) {
    Integer i = indexById.get(nodeId);
    return i == null ? -1 : i;
  }

  NodeView nodeAt(int index) {
    return nodes.get(index);
  }

  /** How deep two nodes' paths agree: 0 = different outermost domain, L = same innermost. */
  int sharedDepth(int a, int b) {
    int d = 0;
    while (d < levels.size() && domainOf[d + 1][a] == domainOf[d + 1][b]) {
      d++;
    }
    return d;
  }

  int poolIndexOf(String pool) {
    Integer i = poolIndex.get(pool);
    return i == null ? -1 : i;
  }

  /** Per-domain counts of UP nodes in {@code pool} (null = any) whose tier allows {@code c}. */
  EligibilityIndex eligibility(String pool, Classification c) {
    int p = pool == null ? -1 : poolIndexOf(pool);
    if (pool != null && p < 0) {
      p = -2;
    }
    int key = (p + 2) * 8 + c.ordinal();
    final int poolIdx = p;
    return eligibility.computeIfAbsent(key, k -> new EligibilityIndex(this, poolIdx, c));
  }

  /** Per-domain counts and summary of the UP nodes a (pool, classification) may use. */
  static final class EligibilityIndex {
    final int[][] count;
    final int[] domainsWithEligible;
    final int total;
    final int distinctOwners;
    final int bandCount;
    private final ClusterView view;
    private final Map<Integer, SpreadPlan> plans = new ConcurrentHashMap<>();

    EligibilityIndex(ClusterView view, int poolIdx, Classification c) {
      this.view = view;
      int depths = view.depthLeaf + 1;
      count = new int[depths][];
      for (int d = 0; d < depths; d++) {
        count[d] = new int[view.domainCount[d]];
      }
      boolean[] ownerSeen = new boolean[view.ownerNames.size()];
      int owners = 0;
      int bands = 0;
      int tot = 0;
      for (int i = 0; i < view.nodeCount; i++) {
        if (!view.up[i] || view.tierOrd[i] > c.ordinal() || poolIdx == -2) {
          continue;
        }
        if (poolIdx >= 0 && !view.nodes.get(i).pools().contains(view.poolNames.get(poolIdx))) {
          continue;
        }
        tot++;
        for (int d = 0; d < depths; d++) {
          count[d][view.domainOf[d][i]]++;
        }
        if (!ownerSeen[view.ownerOf[i]]) {
          ownerSeen[view.ownerOf[i]] = true;
          owners++;
        }
        bands |= 1 << view.bandOf[i];
      }
      total = tot;
      distinctOwners = owners;
      bandCount = Integer.bitCount(bands);
      domainsWithEligible = new int[depths];
      for (int d = 0; d < depths; d++) {
        for (int v : count[d]) {
          if (v > 0) {
            domainsWithEligible[d]++;
          }
        }
      }
    }

    SpreadPlan plan(int replicas, int depth) {
      return plans.computeIfAbsent(
          replicas * 64 + depth, k -> SpreadPlan.compute(view, count, replicas, depth));
    }
  }
}
