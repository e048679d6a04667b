package io.mycnet.storage.operator.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.TrustTier;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Turns a failed placement into a {@link PlacementFailure}: real reasons, real counts, fixes. */
final class PlacementExplainer {
  private static final int MAX_LISTED = 6;

  private PlacementExplainer() {}

  static PlacementFailure explain(
      PlacementPlanner.Attempt c, PlacementPlanner.ExactEligibility exact) {
    ClusterView view = c.view;
    PlacementRequest req = c.req;
    int r = c.replicas;
    Map<RejectionReason, Integer> rejected = new EnumMap<>(RejectionReason.class);
    for (RejectionReason why : exact.reason) {
      if (why != null) {
        rejected.merge(why, 1, Integer::sum);
      }
    }
    int available = exact.eligible + c.pinned.length;
    List<String> fixes = new ArrayList<>();
    StringBuilder msg = new StringBuilder();
    msg.append("cannot place ")
        .append(r)
        .append(r == 1 ? " replica" : " replicas")
        .append(" of volume ")
        .append(req.volumeId())
        .append(" (")
        .append(req.classification())
        .append(", ")
        .append(bytes(req.sizeBytes()));
    if (req.pool() != null) {
      msg.append(", pool ").append(req.pool());
    }
    msg.append("): ");
    PlacementFailure.Kind kind;
    String level = null;
    int domains = -1;
    String rejectedText = rejectedText(c, rejected);
    if (available < r) {
      kind = PlacementFailure.Kind.NOT_ENOUGH_ELIGIBLE_NODES;
      msg.append(available == 1 ? "1 node is" : available + " nodes are")
          .append(" eligible of ")
          .append(view.nodeCount);
      if (c.pinned.length > 0) {
        msg.append(" (").append(c.pinned.length).append(" kept replicas included)");
      }
      msg.append(", ").append(r).append(" needed");
      if (!rejectedText.isEmpty()) {
        msg.append(". Rejected: ").append(rejectedText);
      }
      eligibilityFixes(c, exact, rejected, available, fixes);
    } else if (req.strategy() == ReplicationStrategy.TRUST_DIVERSIFICATION && exact.owners < r) {
      kind = PlacementFailure.Kind.NOT_ENOUGH_OWNERS;
      domains = exact.owners;
      Map<String, Integer> byOwner = new TreeMap<>();
      for (int i = 0; i < view.nodeCount; i++) {
        if (exact.reason[i] == null) {
          byOwner.merge(view.ownerNames.get(view.ownerOf[i]), 1, Integer::sum);
        }
      }
      msg.append("TRUST_DIVERSIFICATION needs ")
          .append(r)
          .append(" distinct owners but the ")
          .append(available)
          .append(" eligible nodes belong to ")
          .append(exact.owners)
          .append(" (")
          .append(listCounts(byOwner))
          .append(")");
      if (byOwner.containsKey(ClusterView.UNKNOWN_OWNER)) {
        msg.append("; nodes without label ")
            .append(NodeView.OWNER_LABEL)
            .append(" count as one owner");
      }
      fixes.add(
          "add eligible nodes run by "
              + (r - exact.owners)
              + " more owner(s) (label "
              + NodeView.OWNER_LABEL
              + ")");
      fixes.add("lower replicas to " + exact.owners);
      fixes.add("use strategy HIERARCHY_AWARE, which does not require distinct owners");
    } else if (c.hard && exact.counts.domainsWith[c.preferredDepth] < r) {
      kind = PlacementFailure.Kind.NOT_ENOUGH_DOMAINS;
      int d = c.preferredDepth;
      level = view.levelName(d);
      domains = exact.counts.domainsWith[d];
      Map<String, Integer> byDomain = new TreeMap<>();
      for (int dom = 0; dom < view.domainCount[d]; dom++) {
        if (exact.counts.count[d][dom] > 0) {
          byDomain.put(lastSegment(view.domainName[d][dom]), exact.counts.count[d][dom]);
        }
      }
      msg.append("HARD anti-affinity needs ")
          .append(r)
          .append(" distinct ")
          .append(level)
          .append("s with eligible nodes but only ")
          .append(domains)
          .append(" have any");
      if (!byDomain.isEmpty()) {
        msg.append(" (").append(listCounts(byDomain)).append(" eligible)");
      }
      if (!rejectedText.isEmpty()) {
        msg.append(". Rejected: ").append(rejectedText);
      }
      fixes.add("add eligible nodes in " + (r - domains) + " more " + level + "(s)");
      for (int deeper = d + 1; deeper <= view.depthLeaf; deeper++) {
        if (exact.counts.domainsWith[deeper] >= r) {
          fixes.add(
              "use SOFT anti-affinity (replicas would be in distinct "
                  + view.levelName(deeper)
                  + "s)");
          break;
        }
      }
      if (domains >= 1) {
        fixes.add("lower replicas to " + domains);
      }
    } else {
      kind = PlacementFailure.Kind.CONSTRAINTS_UNSATISFIABLE;
      msg.append(available)
          .append(" nodes are eligible but no ")
          .append(r)
          .append(" of them satisfy the spread and ")
          .append(req.strategy())
          .append(" rules together");
      fixes.add("add eligible nodes in other failure domains or of other owners");
      if (c.hard) {
        fixes.add("use SOFT anti-affinity");
      }
      fixes.add("lower replicas to " + (r - 1));
    }
    msg.append(". To place it: ").append(String.join("; or ", fixes)).append('.');
    return new PlacementFailure(
        kind, msg.toString(), view.nodeCount, available, r, rejected, level, domains, fixes);
  }

  private static void eligibilityFixes(
      PlacementPlanner.Attempt c,
      PlacementPlanner.ExactEligibility exact,
      Map<RejectionReason, Integer> rejected,
      int available,
      List<String> fixes) {
    ClusterView view = c.view;
    PlacementRequest req = c.req;
    int r = c.replicas;
    int missing = r - available;
    if (rejected.getOrDefault(RejectionReason.TRUST_TOO_LOW, 0) > 0) {
      Classification[] all = Classification.values();
      for (int k = req.classification().ordinal() + 1; k < all.length; k++) {
        NodeFilter looser = c.filter.withClassification(all[k]);
        int n = 0;
        for (int i = 0; i < view.nodeCount; i++) {
          if (exact.reason[i] != RejectionReason.EXCLUDED && looser.accepts(i)) {
            n++;
          }
        }
        if (n + c.pinned.length >= r) {
          fixes.add(
              "classify the volume "
                  + all[k]
                  + " instead of "
                  + req.classification()
                  + " ("
                  + n
                  + " nodes would be eligible)");
          break;
        }
      }
    }
    int shortOfSpace = rejected.getOrDefault(RejectionReason.INSUFFICIENT_FREE_SPACE, 0);
    if (shortOfSpace > 0) {
      List<Long> free = new ArrayList<>();
      for (int i = 0; i < view.nodeCount; i++) {
        if (exact.reason[i] == RejectionReason.INSUFFICIENT_FREE_SPACE) {
          free.add(c.filter.freeOf(i));
        }
      }
      free.sort((a, b) -> Long.compare(b, a));
      if (free.size() >= missing) {
        long fits = (long) Math.floor(Math.max(0, free.get(missing - 1)) * req.overcommitRatio());
        fixes.add(
            "shrink the volume to at most "
                + bytes(fits)
                + ", or free space on "
                + missing
                + " of the "
                + shortOfSpace
                + " nodes short of space (largest free: "
                + bytes(free.get(0))
                + ")");
      } else {
        fixes.add("free space on the " + shortOfSpace + " nodes short of space");
      }
    }
    int out =
        rejected.getOrDefault(RejectionReason.DOWN, 0)
            + rejected.getOrDefault(RejectionReason.DRAINING, 0)
            + rejected.getOrDefault(RejectionReason.QUARANTINED, 0);
    if (out > 0) {
      fixes.add("return down, draining or quarantined nodes to service (" + out + " now)");
    }
    StringBuilder add = new StringBuilder("add ").append(missing).append(" UP node(s)");
    if (req.pool() != null) {
      add.append(" in pool ").append(req.pool());
    }
    if (!req.nodeSelector().isEmpty()) {
      add.append(" labelled ").append(selectorText(req.nodeSelector()));
    }
    add.append(" with trust tier ")
        .append(TrustTier.of(req.classification()))
        .append(" or higher and ")
        .append(bytes(c.filter.needFree))
        .append(" free");
    fixes.add(add.toString());
    if (available >= 1) {
      fixes.add("lower replicas to " + available);
    }
  }

  private static String rejectedText(
      PlacementPlanner.Attempt c, Map<RejectionReason, Integer> counts) {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<RejectionReason, Integer> e : counts.entrySet()) {
      int n = e.getValue();
      switch (e.getKey()) {
        case NOT_IN_POOL:
          parts.add(n + " not in pool " + c.req.pool());
          break;
        case SELECTOR_MISMATCH:
          parts.add(n + " not matching node selector " + selectorText(c.req.nodeSelector()));
          break;
        case TRUST_TOO_LOW:
          parts.add(
              n
                  + " below trust "
                  + number(threshold(c.req))
                  + " (tier "
                  + TrustTier.of(c.req.classification())
                  + ")");
          break;
        case INSUFFICIENT_FREE_SPACE:
          parts.add(n + " without " + bytes(c.filter.needFree) + " free");
          break;
        default:
          parts.add(n + " " + e.getKey().description());
      }
    }
    return String.join(", ", parts);
  }

  static double threshold(PlacementRequest req) {
    return req.minTrustScore() != null
        ? Math.max(
            req.minTrustScore(),
            PlacementPlanner.DEFAULT_THRESHOLDS[req.classification().ordinal()])
        : PlacementPlanner.DEFAULT_THRESHOLDS[req.classification().ordinal()];
  }

  private static String selectorText(Map<String, String> selector) {
    List<String> kv = new ArrayList<>();
    new TreeMap<>(selector).forEach((k, v) -> kv.add(k + "=" + v));
    return String.join(",", kv);
  }

  private static String listCounts(Map<String, Integer> counts) {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<String, Integer> e : counts.entrySet()) {
      if (parts.size() == MAX_LISTED) {
        parts.add("...");
        break;
      }
      parts.add(e.getKey() + ": " + e.getValue());
    }
    return String.join(", ", parts);
  }

  private static String lastSegment(String domain) {
    int slash = domain.lastIndexOf('/');
    return slash < 0 ? domain : domain.substring(slash + 1);
  }

  static String number(double v) {
    String s = String.format(Locale.ROOT, "%.2f", v);
    while (s.contains(".") && (s.endsWith("0") || s.endsWith("."))) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }

  /** Bytes in binary units: "50 GiB", "1.5 TiB", "512 B". */
  static String bytes(long b) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = b;
    int u = 0;
    while (Math.abs(v) >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return number(Math.round(v * 10) / 10.0) + " " + units[u];
  }
}
