package io.mycnet.storage.bench.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.NodeState;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.placement.ClusterView;
import io.mycnet.storage.operator.placement.NodeView;
import io.mycnet.storage.operator.placement.PlacementPlanner;
import io.mycnet.storage.operator.placement.PlacementRequest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The placement figures, each printed against its goal: throughput (JMH) at 100 to 100,000 nodes
 * and its growth, replicas moved when one node is added or removed (against the optimum and against
 * a CRUSH-style baseline computed in the same run), and balance after 100,000 volumes.
 *
 * <p>Usage: {@code PlacementReport [--no-jmh] [--volumes=300000]}. Bounded: about 3 minutes on 2
 * cores.
 */
public final class PlacementReport {
  private static final int REPLICAS = 3;
  private static final List<String> LEVELS = TopologyPath.DEFAULT_LEVELS;

  private PlacementReport() {}

  public static void main(String[] args) throws Exception {
    boolean jmh = true;
    int volumes = 300_000;
    for (String a : args) {
      if (a.equals("--no-jmh")) {
        jmh = false;
      } else if (a.startsWith("--volumes=")) {
        volumes = Integer.parseInt(a.substring("--volumes=".length()));
      } else {
        throw new IllegalArgumentException("unknown argument " + a);
      }
    }
    List<String> summary = new ArrayList<>();
    if (jmh) {
      throughput(summary);
    }
    movement(100, volumes, 1, summary);
    movement(1_000, volumes, 4, summary);
    movement(10_000, volumes, 10, summary);
    for (int n : new int[] {100, 1_000}) {
      balance(n, 100_000, summary);
    }
    System.out.println();
    System.out.println("==== placement figures ====");
    summary.forEach(System.out::println);
  }

  private static String verdict(boolean ok) {
    return ok ? "MET" : "NOT MET";
  }

  private static void throughput(List<String> summary) throws Exception {
    Options opt =
        new OptionsBuilder()
            .include(
                "io\\.mycnet\\.storage\\.bench\\.placement\\."
                    + "(PlacementBenchmark|FlatRendezvousBenchmark)\\.")
            .forks(1)
            .warmupIterations(2)
            .warmupTime(TimeValue.seconds(2))
            .measurementIterations(3)
            .measurementTime(TimeValue.seconds(2))
            .jvmArgsAppend("-Xmx3g")
            .build();
    Collection<RunResult> results = new Runner(opt).run();
    Map<Integer, Double> planner = new TreeMap<>();
    Map<Integer, Double> flat = new TreeMap<>();
    for (RunResult r : results) {
      int n = Integer.parseInt(r.getParams().getParam("nodes"));
      double score = r.getPrimaryResult().getScore();
      if (r.getParams().getBenchmark().contains("FlatRendezvous")) {
        flat.put(n, score);
      } else {
        planner.put(n, score);
      }
    }
    summary.add("placement throughput, 3 replicas, 4-level hierarchy (JMH, 1 thread):");
    for (Map.Entry<Integer, Double> e : planner.entrySet()) {
      Double f = flat.get(e.getKey());
      summary.add(
          String.format(
              Locale.ROOT,
              "  N=%,7d: %,10.0f placements/s%s",
              e.getKey(),
              e.getValue(),
              f == null
                  ? ""
                  : String.format(
                      Locale.ROOT,
                      "   (flat straw2 scan baseline: %,.0f/s, planner is %.1fx)",
                      f,
                      e.getValue() / f)));
    }
    Double t100 = planner.get(100);
    Double t10k = planner.get(10_000);
    if (t100 != null && t10k != null) {
      double ratio = t100 / t10k; // time per placement is 1/throughput
      summary.add(
          String.format(
              Locale.ROOT,
              "  time(10,000)/time(100) = %.2f   goal <= 3        %s",
              ratio,
              verdict(ratio <= 3)));
      summary.add(
          String.format(
              Locale.ROOT,
              "  placements/s at 10,000 = %,.0f   goal >= 50,000   %s",
              t10k,
              verdict(t10k >= 50_000)));
    }
    Double t100k = planner.get(100_000);
    if (t100 != null && t100k != null) {
      summary.add(
          String.format(Locale.ROOT, "  time(100,000)/time(100) = %.2f (no goal)", t100 / t100k));
    }
  }

  private static PlacementRequest request(int i) {
    return PlacementRequest.builder("pvc-" + i)
        .sizeBytes(10L << 30)
        .replicas(REPLICAS)
        .classification(Classification.SENSITIVE)
        .build();
  }

  /**
   * Adds (separately) {@code trials} different nodes, each into a different existing rack, and
   * removes (separately) up to 3 different nodes, counting replicas that change. One trial's ratio
   * carries the sampling noise of the new node's share (about 1/sqrt(optimum)); the trials are
   * summed so the figure measures the algorithm rather than that noise.
   */
  private static void movement(int n, int volumes, int trials, List<String> summary) {
    List<NodeView> nodes = SyntheticCluster.nodes(n);
    ClusterView before = ClusterView.of(LEVELS, nodes);
    PlacementPlanner planner = new PlacementPlanner();
    List<List<String>> placed = new ArrayList<>(volumes);
    for (int i = 0; i < volumes; i++) {
      placed.add(planner.place(request(i), before).replicas());
    }
    Straw2 crushBefore = new Straw2(nodes);
    List<List<String>> crushPlaced = new ArrayList<>(volumes);
    for (int i = 0; i < volumes; i++) {
      crushPlaced.add(crushBefore.place(request(i).volumeId(), REPLICAS));
    }
    long moved = 0;
    long notToNew = 0;
    long crushMoved = 0;
    double worst = 0;
    double best = Double.POSITIVE_INFINITY;
    double optimum = (double) REPLICAS * volumes / (n + 1);
    for (int t = 0; t < trials; t++) {
      NodeView sibling = nodes.get((int) ((long) t * n / trials));
      String p = sibling.topology().toString();
      String id = "added-" + t;
      // Each trial's node takes its own placement slot, so that the trials are independent.
      NodeView added =
          SyntheticCluster.node(id, p.substring(0, p.lastIndexOf('=') + 1) + id)
              .withSlot(n + 7 * t);
      ClusterView grown = before.withNode(added);
      long m = 0;
      for (int i = 0; i < volumes; i++) {
        List<String> b = placed.get(i);
        for (String x : planner.place(request(i), grown).replicas()) {
          if (!b.contains(x)) {
            m++;
            if (!x.equals(id)) {
              notToNew++;
            }
          }
        }
      }
      moved += m;
      worst = Math.max(worst, m / optimum);
      best = Math.min(best, m / optimum);
      List<NodeView> grownNodes = new ArrayList<>(nodes);
      grownNodes.add(added);
      Straw2 crushAfter = new Straw2(grownNodes);
      for (int i = 0; i < volumes; i++) {
        List<String> b = crushPlaced.get(i);
        for (String x : crushAfter.place(request(i).volumeId(), REPLICAS)) {
          if (!b.contains(x)) {
            crushMoved++;
          }
        }
      }
    }
    double ratio = moved / (optimum * trials);
    summary.add(
        String.format(
            Locale.ROOT,
            "add 1 node to N=%,d equal nodes (V=%,d volumes x %d replicas, %d separate trials):"
                + " moved %,d replicas vs optimum %d x R*V/(N+1) = %,.0f: ratio %.3f   goal <= 1.1"
                + "   %s",
            n,
            volumes,
            REPLICAS,
            trials,
            moved,
            trials,
            optimum * trials,
            ratio,
            verdict(ratio <= 1.1)));
    summary.add(
        String.format(
            Locale.ROOT,
            "    per trial %.3f..%.3f (noise of one new node's share: +-%.3f); moves not onto the"
                + " new node: %,d; CRUSH-style baseline (independent straw2 per level, same run):"
                + " ratio %.3f",
            best,
            worst,
            1 / Math.sqrt(optimum),
            notToNew,
            crushMoved / (optimum * trials)));
    long held = 0;
    long removedMoved = 0;
    long collateral = 0;
    int removals = Math.min(3, trials);
    for (int t = 0; t < removals; t++) {
      NodeView victim = nodes.get((int) ((long) (2 * t + 1) * n / (2 * removals)));
      ClusterView shrunk = before.withNode(victim.withState(NodeState.DOWN));
      for (int i = 0; i < volumes; i++) {
        List<String> b = placed.get(i);
        if (b.contains(victim.id())) {
          held++;
        }
        List<String> a = planner.place(request(i), shrunk).replicas();
        for (String x : b) {
          if (!a.contains(x)) {
            removedMoved++;
            if (!x.equals(victim.id())) {
              collateral++;
            }
          }
        }
      }
    }
    summary.add(
        String.format(
            Locale.ROOT,
            "remove 1 node (DOWN) from N=%,d (%d separate trials): the nodes held %,d replicas,"
                + " %,d moved, %,d moved between other nodes   goal: exactly that node's replicas"
                + "   %s",
            n,
            removals,
            held,
            removedMoved,
            collateral,
            verdict(removedMoved == held && collateral == 0)));
  }

  private static void balance(int n, int volumes, List<String> summary) {
    ClusterView view = SyntheticCluster.view(n);
    PlacementPlanner planner = new PlacementPlanner();
    Map<String, Integer> load = new HashMap<>();
    for (int i = 0; i < volumes; i++) {
      for (String x : planner.place(request(i), view).replicas()) {
        load.merge(x, 1, Integer::sum);
      }
    }
    double mean = (double) REPLICAS * volumes / n;
    int max = load.values().stream().mapToInt(Integer::intValue).max().orElse(0);
    double goal = 1 + 3 / Math.sqrt(mean);
    summary.add(
        String.format(
            Locale.ROOT,
            "balance, N=%,d, %,d volumes x %d: max/mean replicas per node = %.3f   goal <= 1 +"
                + " 3/sqrt(mean) = %.3f   %s   (an ideal random placement expects ~1 + %.2f/sqrt(mean)"
                + " for the max of %,d nodes)",
            n,
            volumes,
            REPLICAS,
            max / mean,
            goal,
            verdict(max / mean <= goal),
            expectedMaxZ(n),
            n));
  }

  /** Expected maximum of n standard normal variables (Blom-style approximation). */
  private static double expectedMaxZ(int n) {
    double p = (n - 0.375) / (n + 0.25);
    // Inverse normal CDF by the Acklam approximation's central/upper branch (p in (0.5, 1)).
    double q = Math.sqrt(-2 * Math.log(1 - p));
    return q
        - (2.515517 + 0.802853 * q + 0.010328 * q * q)
            / (1 + 1.432788 * q + 0.189269 * q * q + 0.001308 * q * q * q);
  }
}
