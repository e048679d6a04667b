package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.TopologyPath;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which node label holds each level of the hierarchy, and the pure function that turns a node's
 * labels into its {@link TopologyPath}. The cluster-mode adapter passes Kubernetes node labels; the
 * local-mode adapter passes the labels of a topology-file entry.
 *
 * <p>A level mapped to {@link #NODE_NAME} takes the node's name instead of a label. A missing label
 * is an error naming the node and the label, unless a {@code defaultValue} is configured, in which
 * case the node lands in that (shared) domain.
 */
public final class TopologyLabels {
  /** Pseudo label key meaning "the node's own name". */
  public static final String NODE_NAME = "<node-name>";

  public static final String REGION_LABEL = "topology.kubernetes.io/region";
  public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
  public static final String RACK_LABEL = "mycnet.io/rack";

  /** region, zone, rack from the well-known labels, node from the node name; missing = error. */
  public static final TopologyLabels DEFAULT =
      new TopologyLabels(
          List.of("region", "zone", "rack", "node"),
          List.of(REGION_LABEL, ZONE_LABEL, RACK_LABEL, NODE_NAME),
          null);

  private final List<String> levels;
  private final List<String> labelKeys;
  private final String defaultValue;

  private TopologyLabels(List<String> levels, List<String> labelKeys, String defaultValue) {
    if (levels.isEmpty() || levels.size() != labelKeys.size()) {
      throw new IllegalArgumentException(
          "topology labels: need one label key per level, got levels "
              + levels
              + " and keys "
              + labelKeys);
    }
    this.levels = List.copyOf(levels);
    this.labelKeys = List.copyOf(labelKeys);
    this.defaultValue = defaultValue;
    if (defaultValue != null) {
      new TopologyPath.Segment(levels.get(0), defaultValue); // validates the token
    }
  }

  /** A custom mapping: level name to label key, outermost level first. */
  public static TopologyLabels of(Map<String, String> levelToLabel) {
    Map<String, String> ordered = new LinkedHashMap<>(levelToLabel);
    return new TopologyLabels(
        new ArrayList<>(ordered.keySet()), new ArrayList<>(ordered.values()), null);
  }

  /** The same mapping, filling missing labels with {@code value} instead of failing. */
  public TopologyLabels withDefaultValue(String value) {
    return new TopologyLabels(levels, labelKeys, value);
  }

  public List<String> levels() {
    return levels;
  }

  /**
   * The topology path of node {@code nodeName} with labels {@code labels}.
   *
   * @throws IllegalArgumentException naming the node and the label when a label is missing (and no
   *     default is configured) or its value is not a valid topology token
   */
  public TopologyPath pathFor(String nodeName, Map<String, String> labels) {
    List<TopologyPath.Segment> segments = new ArrayList<>(levels.size());
    for (int i = 0; i < levels.size(); i++) {
      String key = labelKeys.get(i);
      String value = NODE_NAME.equals(key) ? nodeName : labels == null ? null : labels.get(key);
      if (value == null || value.isBlank()) {
        if (defaultValue == null) {
          throw new IllegalArgumentException(
              "node "
                  + nodeName
                  + " has no label "
                  + key
                  + " (topology level '"
                  + levels.get(i)
                  + "'); label the node or configure a default value");
        }
        value = defaultValue;
      }
      try {
        segments.add(new TopologyPath.Segment(levels.get(i), value));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "node " + nodeName + ", label " + key + ": " + e.getMessage(), e);
      }
    }
    return TopologyPath.of(segments);
  }
}
