package io.mycnet.storage.operator.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A node's place in the failure-domain hierarchy, e.g. {@code
 * region=eu/zone=eu-1/rack=r3/node=n17}: an ordered list of (level, value) segments, outermost
 * first. Level names are configurable; the default hierarchy is {@link #DEFAULT_LEVELS}.
 */
public final class TopologyPath {
  public static final List<String> DEFAULT_LEVELS = List.of("region", "zone", "rack", "node");

  /** One level of the path. */
  public record Segment(String level, String value) {
    public Segment {
      requireToken(level, "level name");
      requireToken(value, "value of level '" + level + "'");
    }

    @Override
    public String toString() {
      return level + "=" + value;
    }
  }

  private final List<Segment> segments;
  private final String text;

  private TopologyPath(List<Segment> segments) {
    if (segments.isEmpty()) {
      throw new IllegalArgumentException("topology path must have at least one level");
    }
    this.segments = List.copyOf(segments);
    StringBuilder sb = new StringBuilder();
    for (Segment s : this.segments) {
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(s);
    }
    this.text = sb.toString();
  }

  public static TopologyPath of(List<Segment> segments) {
    return new TopologyPath(segments);
  }

  /**
   * Parses {@code level=value/level=value/...}.
   *
   * @throws IllegalArgumentException naming the offending segment when the text is malformed
   */
  public static TopologyPath parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("topology path is empty; expected e.g. region=eu/zone=a");
    }
    List<Segment> out = new ArrayList<>();
    for (String part : text.split("/", -1)) {
      int eq = part.indexOf('=');
      if (eq <= 0 || eq == part.length() - 1) {
        throw new IllegalArgumentException(
            "topology path '" + text + "': segment '" + part + "' is not of the form level=value");
      }
      out.add(new Segment(part.substring(0, eq), part.substring(eq + 1)));
    }
    return new TopologyPath(out);
  }

  public List<Segment> segments() {
    return segments;
  }

  public int depth() {
    return segments.size();
  }

  /** The value at {@code level}, or null when the path does not have that level. */
  public String valueAt(String level) {
    for (Segment s : segments) {
      if (s.level().equals(level)) {
        return s.value();
      }
    }
    return null;
  }

  /**
   * The failure domain this path lies in at {@code depth} levels: the prefix of that many segments,
   * as text ({@code region=eu/zone=eu-1} for depth 2). Two nodes share a domain at a depth exactly
   * when these strings are equal.
   */
  public String domainAt(int depth) {
    if (depth <= 0) {
      return "";
    }
    if (depth >= segments.size()) {
      return text;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      if (i > 0) {
        sb.append('/');
      }
      sb.append(segments.get(i));
    }
    return sb.toString();
  }

  private static void requireToken(String s, String what) {
    if (s == null || s.isBlank()) {
      throw new IllegalArgumentException("topology " + what + " is empty");
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(Character.isLetterOrDigit(c) || c == '-' || c == '_' || c == '.')) {
        throw new IllegalArgumentException(
            "topology " + what + " '" + s + "' has '" + c + "'; use letters, digits, - _ .");
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TopologyPath other && text.equals(other.text);
  }

  @Override
  public int hashCode() {
    return Objects.hash(text);
  }

  @Override
  public String toString() {
    return text;
  }
}
