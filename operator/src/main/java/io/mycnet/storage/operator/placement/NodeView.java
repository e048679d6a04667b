package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What placement knows about one node: an immutable snapshot built by an adapter (node labels and
 * the agent's reports in cluster mode, the topology file in local mode).
 *
 * @param id the node's name, unique in the cluster
 * @param topology its place in the failure-domain hierarchy ({@link TopologyLabels} builds it from
 *     node labels)
 * @param capacityBytes raw capacity of the node's data directory
 * @param freeBytes bytes still free on it, {@code 0 <= freeBytes <= capacityBytes}
 * @param trustTier the highest classification the node may hold (from the trust package)
 * @param trustScore its trust score in [0, 1]
 * @param owner who operates the node (label {@code mycnet.io/owner}); {@code null} when unlabelled:
 *     all unlabelled nodes count as one owner, {@value ClusterView#UNKNOWN_OWNER}
 * @param location geographic coordinates, or {@code null} when unknown
 * @param ioOpsPerSecond measured IO operations per second, 0 when not measured yet
 * @param latencyMillis measured response time in milliseconds, 0 when not measured yet
 * @param pools storage pools the node belongs to
 * @param labels the node's labels (matched by node selectors)
 * @param state operational state; only {@code UP} nodes take new replicas
 * @param slot the node's placement slot, a small integer fixed for the node's lifetime (like a Ceph
 *     OSD id) that anchors its share of every placement draw; {@code -1} lets {@link ClusterView}
 *     assign one (the lowest free slot, or the one the node had in a previous view). Persist the
 *     assignment ({@link ClusterView#slotAssignments()}) so that placement stays stable across
 *     restarts.
 */
public record NodeView(
    String id,
    TopologyPath topology,
    long capacityBytes,
    long freeBytes,
    TrustTier trustTier,
    double trustScore,
    String owner,
    GeoPoint location,
    double ioOpsPerSecond,
    double latencyMillis,
    Set<String> pools,
    Map<String, String> labels,
    NodeState state,
    int slot) {

  /** Label that names a node's owner or operator. */
  public static final String OWNER_LABEL = "mycnet.io/owner";

  public NodeView {
    if (id == null || id.isBlank()) {
      throw new IllegalArgumentException("node id is empty");
    }
    Objects.requireNonNull(topology, () -> "node " + id + ": topology is required");
    if (capacityBytes < 0) {
      throw new IllegalArgumentException(
          "node " + id + ": capacityBytes must be >= 0, got " + capacityBytes);
    }
    if (freeBytes < 0 || freeBytes > capacityBytes) {
      throw new IllegalArgumentException(
          "node "
              + id
              + ": freeBytes must be between 0 and capacityBytes ("
              + capacityBytes
              + "), got "
              + freeBytes);
    }
    Objects.requireNonNull(trustTier, () -> "node " + id + ": trustTier is required");
    if (!(trustScore >= 0 && trustScore <= 1)) {
      throw new IllegalArgumentException(
          "node " + id + ": trustScore must be between 0 and 1, got " + trustScore);
    }
    if (owner != null && owner.isBlank()) {
      owner = null;
    }
    if (!(ioOpsPerSecond >= 0) || !(latencyMillis >= 0)) {
      throw new IllegalArgumentException(
          "node " + id + ": ioOpsPerSecond and latencyMillis must be >= 0 (0 = not measured)");
    }
    pools = pools == null ? Set.of() : Set.copyOf(new TreeSet<>(pools));
    labels = labels == null ? Map.of() : Map.copyOf(new TreeMap<>(labels));
    Objects.requireNonNull(state, () -> "node " + id + ": state is required");
    if (slot < -1) {
      throw new IllegalArgumentException(
          "node " + id + ": slot must be >= 0, or -1 to have one assigned, got " + slot);
    }
  }

  public static Builder builder(String id, TopologyPath topology) {
    return new Builder(id, topology);
  }

  public static Builder builder(String id, String topology) {
    return new Builder(id, TopologyPath.parse(topology));
  }

  public Builder toBuilder() {
    Builder b = new Builder(id, topology);
    b.capacityBytes = capacityBytes;
    b.freeBytes = freeBytes;
    b.trustTier = trustTier;
    b.trustScore = trustScore;
    b.owner = owner;
    b.location = location;
    b.ioOpsPerSecond = ioOpsPerSecond;
    b.latencyMillis = latencyMillis;
    b.pools = pools;
    b.labels = labels;
    b.state = state;
    b.slot = slot;
    return b;
  }

  public NodeView withState(NodeState newState) {
    return toBuilder().state(newState).build();
  }

  public NodeView withTrust(TrustTier tier, double score) {
    return toBuilder().trust(tier, score).build();
  }

  public NodeView withFreeBytes(long free) {
    return toBuilder().freeBytes(free).build();
  }

  public NodeView withSlot(int newSlot) {
    return toBuilder().slot(newSlot).build();
  }

  /** True when the node takes new replicas at all (state {@code UP}). */
  public boolean isUp() {
    return state == NodeState.UP;
  }

  /** Fluent construction with defaults: 1 TiB capacity and free, STANDARD tier, score 0.6, UP. */
  public static final class Builder {
    private final String id;
    private final TopologyPath topology;
    private long capacityBytes = 1L << 40;
    private long freeBytes = -1;
    private TrustTier trustTier = TrustTier.STANDARD;
    private double trustScore = 0.6;
    private String owner;
    private GeoPoint location;
    private double ioOpsPerSecond;
    private double latencyMillis;
    private Set<String> pools = Set.of();
    private Map<String, String> labels = Map.of();
    private NodeState state = NodeState.UP;
    private int slot = -1;

    private Builder(String id, TopologyPath topology) {
      this.id = id;
      this.topology = topology;
    }

    /** Sets capacity; free space defaults to the whole capacity unless set. */
    public Builder capacityBytes(long v) {
      capacityBytes = v;
      return this;
    }

    public Builder freeBytes(long v) {
      freeBytes = v;
      return this;
    }

    public Builder trust(TrustTier tier, double score) {
      trustTier = tier;
      trustScore = score;
      return this;
    }

    public Builder owner(String v) {
      owner = v;
      return this;
    }

    public Builder location(GeoPoint v) {
      location = v;
      return this;
    }

    public Builder location(double latitude, double longitude) {
      location = new GeoPoint(latitude, longitude);
      return this;
    }

    public Builder performance(double ioOps, double latencyMs) {
      ioOpsPerSecond = ioOps;
      latencyMillis = latencyMs;
      return this;
    }

    public Builder pools(Set<String> v) {
      pools = v;
      return this;
    }

    public Builder pools(String... v) {
      pools = Set.of(v);
      return this;
    }

    public Builder labels(Map<String, String> v) {
      labels = v;
      return this;
    }

    public Builder state(NodeState v) {
      state = v;
      return this;
    }

    public Builder slot(int v) {
      slot = v;
      return this;
    }

    public NodeView build() {
      long free = freeBytes < 0 ? capacityBytes : freeBytes;
      return new NodeView(
          id,
          topology,
          capacityBytes,
          free,
          trustTier,
          trustScore,
          owner,
          location,
          ioOpsPerSecond,
          latencyMillis,
          pools,
          labels,
          state,
          slot);
    }
  }
}
