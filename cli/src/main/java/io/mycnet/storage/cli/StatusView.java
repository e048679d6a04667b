package io.mycnet.storage.cli;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.cli.local.ManifestWatcher;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** {@code mycnet status}: nodes grouped by topology, volumes, claims, manifest errors. */
public final class StatusView {
  private StatusView() {}

  public static void print(LocalClient c, PrintStream out) {
    List<NodeRecord> nodes = c.nodes();
    List<Allocation> volumes = c.volumes();
    Map<String, String[]> trust;
    try {
      trust = c.trust();
    } catch (CliException e) {
      trust = Map.of();
      out.println("(trust unavailable: " + e.getMessage() + ")");
    }
    Map<String, Long> reserved = new HashMap<>();
    Map<String, Integer> replicas = new HashMap<>();
    for (Allocation a : volumes) {
      for (Replica r : a.getReplicasList()) {
        reserved.merge(r.getNodeId(), a.getSizeBytes(), Long::sum);
        replicas.merge(r.getNodeId(), 1, Integer::sum);
      }
    }
    out.println("NODES");
    Map<String, Map<String, Map<String, List<NodeRecord>>>> tree = new TreeMap<>();
    for (NodeRecord n : nodes) {
      Map<String, String> p = path(n.getTopologyPath());
      tree.computeIfAbsent(p.getOrDefault("region", "?"), k -> new TreeMap<>())
          .computeIfAbsent(p.getOrDefault("zone", "?"), k -> new TreeMap<>())
          .computeIfAbsent(p.getOrDefault("rack", "?"), k -> new ArrayList<>())
          .add(n);
    }
    for (var region : tree.entrySet()) {
      out.println("  region " + region.getKey());
      for (var zone : region.getValue().entrySet()) {
        out.println("    zone " + zone.getKey());
        for (var rack : zone.getValue().entrySet()) {
          out.println("      rack " + rack.getKey());
          rack.getValue().sort(Comparator.comparing(NodeRecord::getNodeId));
          for (NodeRecord n : rack.getValue()) {
            String[] t = trust.getOrDefault(n.getNodeId(), new String[] {"-", "-"});
            out.printf(
                Locale.ROOT,
                "        %-8s %-9s trust %-5s  %-11s %3d replicas  %9s of %9s  pool %s%n",
                n.getNodeId(),
                t[1],
                t[0],
                state(c, n),
                replicas.getOrDefault(n.getNodeId(), 0),
                bytes(reserved.getOrDefault(n.getNodeId(), 0L)),
                bytes(n.getCapacityBytes()),
                n.getLabelsMap().getOrDefault("storage.mycnet.io/pool", "-"));
          }
        }
      }
    }
    List<String> endpoints = new ArrayList<>();
    nodes.stream()
        .map(NodeRecord::getNodeId)
        .sorted()
        .forEach(
            id -> {
              var e = c.state.nbdEndpoints(id);
              if (e.socket() != null || e.tlsAddress() != null) {
                endpoints.add(
                    String.format(
                        Locale.ROOT,
                        "  %-8s unix %s  tls %s",
                        id,
                        e.socket() == null ? "-" : e.socket(),
                        e.tlsAddress() == null ? "-" : e.tlsAddress()));
              }
            });
    if (!endpoints.isEmpty()) {
      out.println();
      out.println("BLOCK EXPORT (NBD; mycnet volume export CLAIM prints a volume's URIs)");
      endpoints.forEach(out::println);
    }
    printCsi(c, nodes, out);
    var replication = c.replication();
    if (!replication.getHoldReason().isEmpty()) {
      out.println();
      out.println(
          "REPLICATION HELD for "
              + String.join(", ", replication.getHeldNodesList())
              + ": "
              + replication.getHoldReason());
    }
    out.println();
    out.println("VOLUMES");
    volumes.sort(Comparator.comparing(Allocation::getVolumeId));
    for (Allocation a : volumes) {
      long healthy =
          a.getReplicasList().stream()
              .filter(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY)
              .count();
      StringBuilder rs = new StringBuilder();
      for (Replica r : a.getReplicasList()) {
        rs.append(' ')
            .append(r.getNodeId())
            .append(r.getNodeId().equals(a.getPrimaryNodeId()) ? "*" : "")
            .append(
                r.getState() == ReplicaState.REPLICA_STATE_HEALTHY
                    ? ""
                    : "(" + replicaState(r) + ")");
      }
      out.printf(
          Locale.ROOT,
          "  %-36s %-9s %-8s %8s  %-11s %d/%d healthy  epoch %d  on%s%n",
          a.getVolumeId(),
          a.getClassification().name().replace("CLASSIFICATION_", ""),
          a.getConsistency().name().replace("CONSISTENCY_LEVEL_", ""),
          bytes(a.getSizeBytes()),
          a.getState().name().replace("VOLUME_STATE_", ""),
          healthy,
          a.getReplicaCount(),
          a.getEpoch(),
          rs
              + (a.getAttachmentsCount() == 0
                  ? ""
                  : "  attached " + BlockExport.shortList(a.getAttachmentsList())));
    }
    out.println("  (* primary)");
    out.println();
    out.println("CLAIMS");
    List<StorageClaim> claims =
        new ArrayList<>(c.kube().resources(StorageClaim.class).inAnyNamespace().list().getItems());
    claims.sort(
        Comparator.comparing(
            x -> x.getMetadata().getNamespace() + "/" + x.getMetadata().getName()));
    for (StorageClaim claim : claims) {
      var s = claim.getStatus();
      out.printf(
          Locale.ROOT,
          "  %-36s %-8s %s%n",
          claim.getMetadata().getNamespace() + "/" + claim.getMetadata().getName(),
          s == null || s.getPhase() == null ? "-" : s.getPhase(),
          s == null ? "" : readyMessage(claim));
    }
    Map<String, String[]> manifests = ManifestWatcher.readStatus(c.state.manifestStatus());
    List<String> errors = new ArrayList<>();
    manifests.forEach(
        (file, st) -> {
          if (st[0].equals("error")) {
            errors.add("  " + file + ": " + st[1]);
          }
        });
    if (!errors.isEmpty()) {
      out.println();
      out.println("MANIFEST ERRORS (the previous state of these files is kept)");
      errors.forEach(out::println);
    }
  }

  static String readyMessage(StorageClaim claim) {
    if (claim.getStatus() == null || claim.getStatus().getConditions() == null) {
      return "";
    }
    for (var cond : claim.getStatus().getConditions()) {
      if ("Ready".equals(cond.getType()) && !"True".equals(cond.getStatus())) {
        return cond.getReason() + ": " + cond.getMessage();
      }
    }
    // Usable but not fully replicated: say why (a repair waits, is impossible, or is paused).
    for (var cond : claim.getStatus().getConditions()) {
      if ("Replicated".equals(cond.getType())
          && !"True".equals(cond.getStatus())
          && cond.getMessage() != null
          && cond.getMessage().contains(";")) {
        return cond.getReason() + ": " + cond.getMessage();
      }
    }
    return "";
  }

  private static String state(LocalClient c, NodeRecord n) {
    String s = n.getState().name().replace("NODE_STATE_", "");
    if (s.equals("UP") && !c.registry.isLive(n.getNodeId())) {
      return "UNREACHABLE";
    }
    return s;
  }

  static String replicaState(Replica r) {
    return r.getState().name().replace("REPLICA_STATE_", "").toLowerCase(Locale.ROOT);
  }

  public static Map<String, String> path(String topology) {
    Map<String, String> out = new HashMap<>();
    for (String seg : topology.split("/")) {
      int eq = seg.indexOf('=');
      if (eq > 0) {
        out.put(seg.substring(0, eq), seg.substring(eq + 1));
      }
    }
    return out;
  }

  public static String bytes(long b) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = b;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? b + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  /** The CSI sockets local mode serves and what {@code mycnet volume mount} mounted. */
  static void printCsi(LocalClient c, List<NodeRecord> nodes, PrintStream out) {
    java.util.Properties p = c.state.properties();
    String controller = p.getProperty("control-plane.csi");
    List<String> lines = new ArrayList<>();
    if (controller != null) {
      lines.add("  controller " + controller);
    }
    nodes.stream()
        .map(NodeRecord::getNodeId)
        .sorted()
        .forEach(
            id -> {
              String s = p.getProperty("node." + id + ".csi.socket");
              if (s != null) {
                lines.add(String.format(Locale.ROOT, "  %-10s %s", id, s));
              }
            });
    for (io.mycnet.storage.cli.local.LocalCsi.Mount m :
        new io.mycnet.storage.cli.local.LocalCsi(c.state).mounts()) {
      lines.add(
          "  mounted " + m.dir() + ": " + m.volumeId() + " on " + m.node() + " (" + m.mode() + ")");
    }
    if (!lines.isEmpty()) {
      out.println();
      out.println("CSI (mycnet volume mount CLAIM DIR, mycnet volume unmount DIR)");
      lines.forEach(out::println);
    }
  }
}
