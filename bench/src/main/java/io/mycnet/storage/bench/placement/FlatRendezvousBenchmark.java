package io.mycnet.storage.bench.placement;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Baseline: a flat weighted rendezvous (straw2) scan, the simplest placement with minimal movement:
 * one hash and one logarithm per node, keep the best 3 nodes in distinct regions. Its cost grows
 * linearly with the cluster, which is what the planner's search avoids.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class FlatRendezvousBenchmark {
  @Param({"100", "10000"})
  public int nodes;

  private long[] nodeHash;
  private double[] invWeight;
  private int[] region;
  private long[] volumes;
  private int next;

  @Setup
  public void setup() {
    var list = SyntheticCluster.nodes(nodes);
    nodeHash = new long[nodes];
    invWeight = new double[nodes];
    region = new int[nodes];
    for (int i = 0; i < nodes; i++) {
      nodeHash[i] = Straw2.hash(list.get(i).id());
      invWeight[i] = 1.0;
      region[i] = list.get(i).topology().valueAt("region").hashCode();
    }
    volumes = new long[4096];
    for (int i = 0; i < volumes.length; i++) {
      volumes[i] = Straw2.hash("pvc-" + i);
    }
  }

  @Benchmark
  public int place() {
    long v = volumes[next];
    next = (next + 1) & 4095;
    double[] best = {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY};
    int[] who = {-1, -1, -1};
    for (int i = 0; i < nodeHash.length; i++) {
      double d = Straw2.draw(v, nodeHash[i]) * invWeight[i];
      if (d >= best[2]) {
        continue;
      }
      int same = -1;
      for (int k = 0; k < 3; k++) {
        if (who[k] >= 0 && region[who[k]] == region[i]) {
          same = k;
        }
      }
      if (same >= 0) {
        if (d < best[same]) {
          best[same] = d;
          who[same] = i;
          sort(best, who);
        }
        continue;
      }
      best[2] = d;
      who[2] = i;
      sort(best, who);
    }
    return who[0] + who[1] + who[2];
  }

  private static void sort(double[] best, int[] who) {
    for (int i = 1; i < 3; i++) {
      for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
        double t = best[j];
        best[j] = best[j - 1];
        best[j - 1] = t;
        int w = who[j];
        who[j] = who[j - 1];
        who[j - 1] = w;
      }
    }
  }
}
