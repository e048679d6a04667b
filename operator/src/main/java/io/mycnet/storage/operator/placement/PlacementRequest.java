package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TopologyPath;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * What to place: one volume's replicas and the rules they must follow. Every field is validated on
 * construction; an invalid one throws {@link InvalidPlacementRequestException} naming the field.
 *
 * @param volumeId the volume's id; the placement is a function of it (same id, same replicas)
 * @param sizeBytes the volume's size, {@code > 0}
 * @param replicas how many replicas, 1 to {@value #MAX_REPLICAS}
 * @param classification the data classification; every replica's node tier must allow it
 * @param strategy how replicas are spread (see {@link PlacementPlanner})
 * @param pool the storage pool whose nodes may be used, or null for any node
 * @param overcommitRatio the pool's overcommit ratio, {@code >= 1}: a node qualifies when its free
 *     bytes are at least {@code sizeBytes / overcommitRatio}
 * @param nodeSelector labels a node must carry (exact match), empty for none
 * @param antiAffinity whether spreading at {@code antiAffinityLevel} is required or best effort
 * @param antiAffinityLevel the level replicas should be in distinct domains of (a hierarchy level
 *     or {@code node}); null means the outermost level
 * @param minTrustScore a minimum trust score on top of the tier rule (from the TrustPolicy), or
 *     null
 * @param consumerNode the node the volume's consumer runs on (PERFORMANCE_OPTIMIZED), or null
 * @param consumerTopology the consumer's topology path when it is not a storage node, or null
 * @param keepReplicas nodes already holding replicas that stay (re-replication): they count towards
 *     {@code replicas} and towards every spread rule
 * @param excludeNodes nodes that must not be chosen
 */
public record PlacementRequest(
    String volumeId,
    long sizeBytes,
    int replicas,
    Classification classification,
    ReplicationStrategy strategy,
    String pool,
    double overcommitRatio,
    Map<String, String> nodeSelector,
    AntiAffinity antiAffinity,
    String antiAffinityLevel,
    Double minTrustScore,
    String consumerNode,
    TopologyPath consumerTopology,
    List<String> keepReplicas,
    Set<String> excludeNodes) {

  public static final int MIN_REPLICAS = 1;
  public static final int MAX_REPLICAS = 7;

  public PlacementRequest {
    if (volumeId == null || volumeId.isBlank()) {
      throw new InvalidPlacementRequestException("volumeId", "is required (a non-empty string)");
    }
    if (sizeBytes <= 0) {
      throw new InvalidPlacementRequestException(
          "sizeBytes", "must be greater than 0 bytes, got " + sizeBytes);
    }
    if (replicas < MIN_REPLICAS || replicas > MAX_REPLICAS) {
      throw new InvalidPlacementRequestException(
          "replicas",
          "must be between " + MIN_REPLICAS + " and " + MAX_REPLICAS + ", got " + replicas);
    }
    if (classification == null) {
      throw new InvalidPlacementRequestException(
          "classification", "is required; one of " + names(Classification.values()));
    }
    if (strategy == null) {
      throw new InvalidPlacementRequestException(
          "strategy", "is required; one of " + names(ReplicationStrategy.values()));
    }
    if (pool != null && pool.isBlank()) {
      pool = null;
    }
    if (!(overcommitRatio >= 1.0) || Double.isInfinite(overcommitRatio)) {
      throw new InvalidPlacementRequestException(
          "overcommitRatio",
          "must be a finite number >= 1.0 (1.0 = no overcommit), got " + overcommitRatio);
    }
    nodeSelector = nodeSelector == null ? Map.of() : Map.copyOf(new TreeMap<>(nodeSelector));
    if (antiAffinity == null) {
      throw new InvalidPlacementRequestException(
          "antiAffinity", "is required; one of " + names(AntiAffinity.values()));
    }
    if (antiAffinityLevel != null && antiAffinityLevel.isBlank()) {
      antiAffinityLevel = null;
    }
    if (minTrustScore != null && !(minTrustScore >= 0 && minTrustScore <= 1)) {
      throw new InvalidPlacementRequestException(
          "minTrustScore", "must be between 0 and 1, got " + minTrustScore);
    }
    if (consumerNode != null && consumerNode.isBlank()) {
      consumerNode = null;
    }
    keepReplicas = keepReplicas == null ? List.of() : List.copyOf(keepReplicas);
    if (new LinkedHashSet<>(keepReplicas).size() != keepReplicas.size()) {
      throw new InvalidPlacementRequestException(
          "keepReplicas", "lists a node twice: " + keepReplicas);
    }
    if (keepReplicas.size() > replicas) {
      throw new InvalidPlacementRequestException(
          "keepReplicas",
          "holds "
              + keepReplicas.size()
              + " nodes, more than replicas ("
              + replicas
              + "); at most replicas nodes can be kept");
    }
    excludeNodes = excludeNodes == null ? Set.of() : Set.copyOf(new TreeSet<>(excludeNodes));
    for (String k : keepReplicas) {
      if (excludeNodes.contains(k)) {
        throw new InvalidPlacementRequestException(
            "excludeNodes", "contains " + k + ", which keepReplicas keeps");
      }
    }
  }

  private static String names(Enum<?>[] values) {
    return Arrays.stream(values).map(Enum::name).collect(Collectors.joining(", "));
  }

  /**
   * Parses a strategy name (case-insensitive, {@code -} or {@code _} between words).
   *
   * @throws InvalidPlacementRequestException naming field {@code strategy} and the allowed names
   */
  public static ReplicationStrategy parseStrategy(String text) {
    return parse(text, ReplicationStrategy.class, "strategy");
  }

  /** Parses a classification name; errors name field {@code classification}. */
  public static Classification parseClassification(String text) {
    return parse(text, Classification.class, "classification");
  }

  private static <E extends Enum<E>> E parse(String text, Class<E> type, String field) {
    String allowed = names(type.getEnumConstants());
    if (text == null || text.isBlank()) {
      throw new InvalidPlacementRequestException(field, "is required; one of " + allowed);
    }
    String norm = text.trim().toUpperCase(Locale.ROOT).replace('-', '_');
    for (E e : type.getEnumConstants()) {
      if (e.name().equals(norm)) {
        return e;
      }
    }
    throw new InvalidPlacementRequestException(
        field, "unknown value '" + text + "'; one of " + allowed);
  }

  public static Builder builder(String volumeId) {
    return new Builder(volumeId);
  }

  public Builder toBuilder() {
    Builder b = new Builder(volumeId);
    b.sizeBytes = sizeBytes;
    b.replicas = replicas;
    b.classification = classification;
    b.strategy = strategy;
    b.pool = pool;
    b.overcommitRatio = overcommitRatio;
    b.nodeSelector = nodeSelector;
    b.antiAffinity = antiAffinity;
    b.antiAffinityLevel = antiAffinityLevel;
    b.minTrustScore = minTrustScore;
    b.consumerNode = consumerNode;
    b.consumerTopology = consumerTopology;
    b.keepReplicas = new ArrayList<>(keepReplicas);
    b.excludeNodes = new TreeSet<>(excludeNodes);
    return b;
  }

  /**
   * Fluent construction. Defaults: 3 replicas, STANDARD, HIERARCHY_AWARE, any pool, no overcommit,
   * SOFT anti-affinity at the outermost level. Size has no default.
   */
  public static final class Builder {
    private final String volumeId;
    private long sizeBytes;
    private int replicas = 3;
    private Classification classification = Classification.STANDARD;
    private ReplicationStrategy strategy = ReplicationStrategy.HIERARCHY_AWARE;
    private String pool;
    private double overcommitRatio = 1.0;
    private Map<String, String> nodeSelector = Map.of();
    private AntiAffinity antiAffinity = AntiAffinity.SOFT;
    private String antiAffinityLevel;
    private Double minTrustScore;
    private String consumerNode;
    private TopologyPath consumerTopology;
    private List<String> keepReplicas = new ArrayList<>();
    private Set<String> excludeNodes = new TreeSet<>();

    private Builder(String volumeId) {
      this.volumeId = volumeId;
    }

    public Builder sizeBytes(long v) {
      sizeBytes = v;
      return this;
    }

    public Builder replicas(int v) {
      replicas = v;
      return this;
    }

    public Builder classification(Classification v) {
      classification = v;
      return this;
    }

    public Builder classification(String v) {
      classification = parseClassification(v);
      return this;
    }

    public Builder strategy(ReplicationStrategy v) {
      strategy = v;
      return this;
    }

    public Builder strategy(String v) {
      strategy = parseStrategy(v);
      return this;
    }

    public Builder pool(String v) {
      pool = v;
      return this;
    }

    public Builder overcommitRatio(double v) {
      overcommitRatio = v;
      return this;
    }

    public Builder nodeSelector(Map<String, String> v) {
      nodeSelector = v;
      return this;
    }

    public Builder antiAffinity(AntiAffinity mode, String level) {
      antiAffinity = mode;
      antiAffinityLevel = level;
      return this;
    }

    public Builder minTrustScore(Double v) {
      minTrustScore = v;
      return this;
    }

    public Builder consumerNode(String v) {
      consumerNode = v;
      return this;
    }

    public Builder consumerTopology(TopologyPath v) {
      consumerTopology = v;
      return this;
    }

    public Builder keepReplicas(List<String> v) {
      keepReplicas = new ArrayList<>(v);
      return this;
    }

    public Builder excludeNodes(Set<String> v) {
      excludeNodes = new TreeSet<>(v);
      return this;
    }

    public PlacementRequest build() {
      return new PlacementRequest(
          volumeId,
          sizeBytes,
          replicas,
          classification,
          strategy,
          pool,
          overcommitRatio,
          nodeSelector,
          antiAffinity,
          antiAffinityLevel,
          minTrustScore,
          consumerNode,
          consumerTopology,
          keepReplicas,
          excludeNodes);
    }
  }
}
