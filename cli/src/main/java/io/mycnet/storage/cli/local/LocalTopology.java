package io.mycnet.storage.cli.local;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.mycnet.storage.common.settings.DurationText;
import io.mycnet.storage.operator.runtime.LivenessTimings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Local mode's nodes and timings, read from a YAML file ({@code config/local/topology.yaml}):
 *
 * <pre>
 * settings:                 # all optional; they must hold together (LivenessTimings)
 *   heartbeatInterval: 2s   # agents' heartbeats
 *   nodeLeaseTtl: 6s        # a node whose lease lapses this long is not live (>= 2 heartbeats)
 *   reconnectBackoffMax: 2s # agents' longest wait between reconnect attempts (±20 %)
 *   downGracePeriod: 10s    # then DOWN after this (> nodeLeaseTtl + 1.2 × reconnectBackoffMax)
 * nodes:
 *   - id: core-1            # DNS-1123 name
 *     region: eu
 *     zone: eu-1
 *     rack: r1
 *     owner: acme
 *     capacity: 100Gi       # Kubernetes quantity
 *     labels: {storage.mycnet.io/pool: core}
 *     encryption: true      # at-rest encryption on (reported as ENCRYPTION_COMPLIANCE)
 *     record:               # the history the node brings (see TrustHistory); optional
 *       days: 60
 *       audits: 600
 *       failedAudits: 0
 *       uptime: 0.999
 *       responseTime: 20ms
 * </pre>
 *
 * A file that cannot be used is refused with a message naming the field ({@code nodes[2].capacity:
 * ...}).
 */
public record LocalTopology(
    Duration heartbeatInterval,
    Duration nodeLeaseTtl,
    Duration downGrace,
    Duration reconnectBackoffMax,
    List<Node> nodes) {

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][-A-Za-z0-9_.]*");

  /** One node of local mode. */
  public record Node(
      String id,
      String region,
      String zone,
      String rack,
      String owner,
      long capacityBytes,
      Map<String, String> labels,
      boolean encryption,
      TrustHistory.Record record) {

    public String topologyPath() {
      return "region=" + region + "/zone=" + zone + "/rack=" + rack + "/node=" + id;
    }

    /** The labels as the agent's {@code --labels} flag. */
    public String labelsFlag() {
      StringBuilder b = new StringBuilder();
      labels.forEach(
          (k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append('=').append(v));
      return b.toString();
    }
  }

  /** The file cannot be used; the message names the file and the field. */
  public static final class BadTopology extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadTopology(String message) {
      super(message);
    }
  }

  public Node node(String id) {
    for (Node n : nodes) {
      if (n.id.equals(id)) {
        return n;
      }
    }
    throw new BadTopology(
        "no node '" + id + "' in the topology; nodes: " + String.join(", ", ids()));
  }

  public List<String> ids() {
    return nodes.stream().map(Node::id).toList();
  }

  /** Reads and validates a topology file. */
  @SuppressWarnings("unchecked")
  public static LocalTopology read(Path file) {
    Map<String, Object> root;
    try {
      root = new KubernetesSerialization().unmarshal(Files.readString(file), Map.class);
    } catch (IOException e) {
      throw new BadTopology("cannot read " + file + ": " + e.getMessage());
    } catch (RuntimeException e) {
      throw new BadTopology(file + " is not valid YAML: " + e.getMessage());
    }
    if (root == null) {
      throw new BadTopology(file + " is empty");
    }
    Fields top = new Fields(file + "", root);
    top.only("settings", "nodes");
    Fields settings = top.object("settings");
    Duration heartbeat = settings.duration("heartbeatInterval", Duration.ofSeconds(2));
    Duration lease = settings.duration("nodeLeaseTtl", Duration.ofSeconds(6));
    Duration grace = settings.duration("downGracePeriod", Duration.ofSeconds(10));
    Duration reconnect = settings.duration("reconnectBackoffMax", Duration.ofSeconds(2));
    settings.only("heartbeatInterval", "nodeLeaseTtl", "reconnectBackoffMax", "downGracePeriod");
    if (reconnect.toSeconds() > 60) {
      throw settings.bad("reconnectBackoffMax", "must be at most 60s (the agents' limit)");
    }
    new LivenessTimings(heartbeat, lease, reconnect, grace)
        .problem(
            new LivenessTimings.Names(
                "settings.heartbeatInterval",
                "settings.nodeLeaseTtl",
                "settings.reconnectBackoffMax",
                "settings.downGracePeriod"))
        .ifPresent(
            p -> {
              throw new BadTopology(file + ": " + p);
            });
    List<Node> nodes = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    List<Fields> list = top.list("nodes");
    if (list.isEmpty()) {
      throw new BadTopology(file + ": nodes: at least one node is needed");
    }
    for (Fields n : list) {
      n.only("id", "region", "zone", "rack", "owner", "capacity", "labels", "encryption", "record");
      String id = n.string("id", null);
      if (!NAME.matcher(id).matches() || id.length() > 63) {
        throw n.bad("id", "'" + id + "' is not a DNS-1123 label (a-z, 0-9, '-')");
      }
      if (!seen.add(id)) {
        throw n.bad("id", "'" + id + "' appears twice");
      }
      String region = n.segment("region");
      String zone = n.segment("zone");
      String rack = n.segment("rack");
      String owner = n.string("owner", "local");
      String cap = n.string("capacity", null);
      long capacity;
      try {
        capacity = Quantity.getAmountInBytes(new Quantity(cap)).longValueExact();
      } catch (RuntimeException e) {
        throw n.bad("capacity", "'" + cap + "' is not a quantity like 100Gi");
      }
      if (capacity < (1L << 30)) {
        throw n.bad("capacity", "must be at least 1Gi");
      }
      Map<String, String> labels = new LinkedHashMap<>();
      Fields l = n.object("labels");
      for (String k : l.keys()) {
        labels.put(k, l.string(k, null));
      }
      boolean encryption = n.bool("encryption", true);
      Fields r = n.object("record");
      r.only("days", "audits", "failedAudits", "uptime", "responseTime");
      TrustHistory.Record record =
          new TrustHistory.Record(
              r.integer("days", 30),
              r.integer("audits", 400),
              r.integer("failedAudits", 0),
              r.fraction("uptime", 0.999),
              r.duration("responseTime", Duration.ofMillis(20)));
      if (record.failedAudits() > record.audits()) {
        throw r.bad("failedAudits", "cannot exceed audits (" + record.audits() + ")");
      }
      nodes.add(
          new Node(
              id, region, zone, rack, owner, capacity, Map.copyOf(labels), encryption, record));
    }
    return new LocalTopology(heartbeat, lease, grace, reconnect, List.copyOf(nodes));
  }

  /**
   * Checks the capacities against the file system that will hold the nodes' data ({@code nodesDir},
   * or its nearest existing parent): a node offering more than the file system's whole size is
   * refused, as its agent would refuse to start. Replicas are sparse (space is used only when
   * written), so capacities that only add up to more than the file system are allowed, and returned
   * as a warning.
   *
   * @return the warning, or empty
   * @throws BadTopology naming the first node whose capacity exceeds the file system's size
   */
  public java.util.Optional<String> checkCapacities(Path file, Path nodesDir) {
    Path existing = nodesDir.toAbsolutePath();
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return java.util.Optional.empty();
    }
    long size;
    try {
      size = Files.getFileStore(existing).getTotalSpace();
    } catch (IOException e) {
      throw new BadTopology("cannot read the file system of " + existing + ": " + e.getMessage());
    }
    if (size <= 0) {
      return java.util.Optional.empty();
    }
    long sum = 0;
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      if (n.capacityBytes() > size) {
        throw new BadTopology(
            file
                + ".nodes["
                + i
                + "].capacity: "
                + n.capacityBytes()
                + " bytes ("
                + n.id()
                + ") is more than the size of the file system holding "
                + nodesDir
                + " ("
                + size
                + " bytes); its agent could not start");
      }
      sum = Math.addExact(sum, n.capacityBytes());
    }
    if (sum > size) {
      return java.util.Optional.of(
          "the nodes' capacities add up to "
              + sum
              + " bytes, more than the "
              + size
              + " bytes of the file system holding "
              + nodesDir
              + ": fine while the data written fits (replicas are sparse)");
    }
    return java.util.Optional.empty();
  }

  /** One YAML mapping, with its path for messages. */
  private static final class Fields {
    private final String path;
    private final Map<String, Object> map;

    Fields(String path, Map<String, Object> map) {
      this.path = path;
      this.map = map == null ? Map.of() : map;
    }

    BadTopology bad(String field, String problem) {
      return new BadTopology(path + "." + field + ": " + problem);
    }

    Set<String> keys() {
      return map.keySet();
    }

    void only(String... allowed) {
      Set<String> ok = Set.of(allowed);
      for (String k : map.keySet()) {
        if (!ok.contains(k)) {
          throw bad(k, "unknown field; known: " + String.join(", ", allowed));
        }
      }
    }

    @SuppressWarnings("unchecked")
    Fields object(String field) {
      Object v = map.get(field);
      if (v == null) {
        return new Fields(path + "." + field, Map.of());
      }
      if (!(v instanceof Map)) {
        throw bad(field, "must be a mapping");
      }
      return new Fields(path + "." + field, (Map<String, Object>) v);
    }

    @SuppressWarnings("unchecked")
    List<Fields> list(String field) {
      Object v = map.get(field);
      if (v == null) {
        return List.of();
      }
      if (!(v instanceof List<?> l)) {
        throw bad(field, "must be a list");
      }
      List<Fields> out = new ArrayList<>();
      for (int i = 0; i < l.size(); i++) {
        if (!(l.get(i) instanceof Map)) {
          throw bad(field + "[" + i + "]", "must be a mapping");
        }
        out.add(new Fields(path + "." + field + "[" + i + "]", (Map<String, Object>) l.get(i)));
      }
      return out;
    }

    String string(String field, String dflt) {
      Object v = map.get(field);
      if (v == null) {
        if (dflt == null) {
          throw bad(field, "is required");
        }
        return dflt;
      }
      if (v instanceof Map || v instanceof List) {
        throw bad(field, "must be a single value");
      }
      return String.valueOf(v).strip();
    }

    String segment(String field) {
      String v = string(field, null);
      if (!SEGMENT.matcher(v).matches()) {
        throw bad(field, "'" + v + "' may hold only letters, digits, '-', '_' and '.'");
      }
      return v;
    }

    boolean bool(String field, boolean dflt) {
      String v = string(field, String.valueOf(dflt));
      if (!v.equals("true") && !v.equals("false")) {
        throw bad(field, "'" + v + "' is neither true nor false");
      }
      return Boolean.parseBoolean(v);
    }

    int integer(String field, int dflt) {
      String v = string(field, String.valueOf(dflt));
      try {
        int n = Integer.parseInt(v);
        if (n >= 0) {
          return n;
        }
      } catch (NumberFormatException e) {
        // below
      }
      throw bad(field, "'" + v + "' is not a whole number >= 0");
    }

    double fraction(String field, double dflt) {
      String v = string(field, String.valueOf(dflt));
      try {
        double d = Double.parseDouble(v);
        if (d >= 0 && d <= 1) {
          return d;
        }
      } catch (NumberFormatException e) {
        // below
      }
      throw bad(field, "'" + v + "' is not a number between 0 and 1");
    }

    Duration duration(String field, Duration dflt) {
      Object v = map.get(field);
      if (v == null) {
        return dflt;
      }
      try {
        return DurationText.parse(String.valueOf(v));
      } catch (IllegalArgumentException e) {
        throw bad(field, "'" + v + "' is not a duration like 500ms, 10s, 5m");
      }
    }
  }
}
