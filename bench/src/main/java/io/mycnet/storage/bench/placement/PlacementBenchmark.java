package io.mycnet.storage.bench.placement;

import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.placement.ClusterView;
import io.mycnet.storage.operator.placement.PlacementPlanner;
import io.mycnet.storage.operator.placement.PlacementRequest;
import io.mycnet.storage.operator.placement.PlacementResult;
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
 * Placements per second: one HIERARCHY_AWARE placement of 3 replicas, cycling over 4,096 volume
 * ids, on a {@link SyntheticCluster} of {@code nodes} equal nodes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PlacementBenchmark {
  static final int VOLUMES = 4096;

  @Param({"100", "1000", "10000", "100000"})
  public int nodes;

  private final PlacementPlanner planner = new PlacementPlanner();
  private ClusterView view;
  private PlacementRequest[] requests;
  private int next;

  @Setup
  public void setup() {
    view = SyntheticCluster.view(nodes);
    requests = new PlacementRequest[VOLUMES];
    for (int i = 0; i < VOLUMES; i++) {
      requests[i] =
          PlacementRequest.builder("pvc-" + i)
              .sizeBytes(10L << 30)
              .replicas(3)
              .classification(Classification.SENSITIVE)
              .build();
    }
    if (!planner.place(requests[0], view).placed()) {
      throw new IllegalStateException("benchmark cluster cannot place a volume");
    }
  }

  @Benchmark
  public PlacementResult place() {
    PlacementRequest r = requests[next];
    next = (next + 1) & (VOLUMES - 1);
    return planner.place(r, view);
  }
}
