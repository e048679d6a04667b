package io.mycnet.storage.bench.trust;

import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvaluator;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * How much it costs to evaluate trust for 10,000 nodes, against a baseline measured in the same
 * run: a plain 8-term weighted sum over the same nodes' factor arrays (the least any scoring could
 * cost). Every benchmark handles all {@value #NODES} nodes per invocation and reports time per
 * node.
 *
 * <ul>
 *   <li>{@code baselineWeightedSum}: Σ w·v over a double[8] per node;
 *   <li>{@code score}: {@link TrustEvaluator#score} (lower bounds, contradiction cap, weights);
 *   <li>{@code evaluate}: {@link TrustEvaluator#evaluate}, the full assessment with tier, gates,
 *       vetting, quarantine and the structured explanation;
 *   <li>{@code engineReassessAll}: {@link TrustEngine#reassessAll()}, evaluate + commit for every
 *       node.
 * </ul>
 *
 * <p>{@link #main} runs them with short settings unless JMH options are given, and prints the
 * ratios.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TrustEvaluationBenchmark {
  static final int NODES = 10_000;
  private static final Instant T0 = Instant.parse("2025-01-01T00:00:00Z");

  private TrustEvaluator evaluator;
  private NodeTrustRecord[] records;
  private double[][] values;
  private double[] weights;
  private TrustEngine engine;
  private Instant now;

  @Setup
  public void setUp() {
    TrustPolicy policy = TrustPolicy.defaults();
    evaluator = new TrustEvaluator(policy);
    now = T0.plus(Duration.ofDays(3));
    engine = new TrustEngine(policy, Clock.fixed(now, ZoneOffset.UTC));
    records = new NodeTrustRecord[NODES];
    values = new double[NODES][TrustFactor.values().length];
    weights = new double[TrustFactor.values().length];
    for (TrustFactor f : TrustFactor.values()) {
      weights[f.ordinal()] = policy.effectiveWeight(f);
    }
    SplittableRandom rng = new SplittableRandom(42);
    TrustFactor[] factors = TrustFactor.values();
    for (int n = 0; n < NODES; n++) {
      String id = String.format(Locale.ROOT, "node-%05d", n);
      NodeTrustRecord r = NodeTrustRecord.create(id);
      double quality = 0.9 + 0.1 * rng.nextDouble();
      int events = 200 + rng.nextInt(800);
      List<TrustEvidence> evidence = new ArrayList<>(events);
      for (int e = 0; e < events; e++) {
        TrustFactor f = factors[rng.nextInt(factors.length)];
        double s = rng.nextDouble() < quality ? 1 : rng.nextDouble() * 0.5;
        evidence.add(event(id, T0.plusSeconds(60L * e), f, s));
      }
      for (TrustEvidence e : evidence) {
        r.apply(e, policy);
      }
      engine.recordAll(evidence);
      records[n] = r;
      for (TrustFactor f : factors) {
        double a = r.alpha(f);
        double b = r.beta(f);
        values[n][f.ordinal()] = (a + 1) / (a + b + 2);
      }
    }
  }

  private static TrustEvidence event(String node, Instant at, TrustFactor f, double s) {
    switch (f) {
      case UPTIME:
        return new TrustEvidence.Heartbeat(node, at, s >= 0.5);
      case DATA_INTEGRITY:
        return new TrustEvidence.IntegrityAudit(
            node, at, TrustEvidence.AuditKind.CHALLENGE, s >= 0.5);
      case CONSENSUS_PARTICIPATION:
        return new TrustEvidence.ReplicationAck(node, at, s >= 0.5);
      case RESPONSE_TIME:
        return new TrustEvidence.LatencySample(
            node,
            at,
            TrustEvidence.RoundTrip.COMMAND,
            Duration.ofMillis(Math.round(1000 - 900 * s)));
      case NETWORK_CONTRIBUTION:
        return new TrustEvidence.BytesServed(node, at, Math.round(s * 1_000_000), 1_000_000);
      default:
        return new TrustEvidence.ReportedFactor(node, at, f, s);
    }
  }

  @Benchmark
  @OperationsPerInvocation(NODES)
  public double baselineWeightedSum() {
    double total = 0;
    double[] w = weights;
    for (double[] v : values) {
      double s = 0;
      for (int i = 0; i < 8; i++) {
        s += w[i] * v[i];
      }
      total += s;
    }
    return total;
  }

  @Benchmark
  @OperationsPerInvocation(NODES)
  public double score() {
    double total = 0;
    for (NodeTrustRecord r : records) {
      total += evaluator.score(r);
    }
    return total;
  }

  @Benchmark
  @OperationsPerInvocation(NODES)
  public void evaluate(Blackhole bh) {
    for (NodeTrustRecord r : records) {
      bh.consume(evaluator.evaluate(r, now));
    }
  }

  @Benchmark
  @OperationsPerInvocation(NODES)
  public Object engineReassessAll() {
    return engine.reassessAll();
  }

  /**
   * Runs the benchmarks and prints ns per node, ms per 10,000 nodes and the ratio to the baseline.
   * JMH options may be given (e.g. {@code -f 1 -wi 3 -i 5 -w 1s -r 1s}); by default those.
   */
  public static void main(String[] args) throws Exception {
    CommandLineOptions cli = new CommandLineOptions(args);
    OptionsBuilder b = new OptionsBuilder();
    b.parent(cli).include(TrustEvaluationBenchmark.class.getName() + "\\.");
    if (!cli.getForkCount().hasValue()) {
      b.forks(1);
    }
    if (!cli.getWarmupIterations().hasValue()) {
      b.warmupIterations(3);
    }
    if (!cli.getMeasurementIterations().hasValue()) {
      b.measurementIterations(5);
    }
    if (!cli.getWarmupTime().hasValue()) {
      b.warmupTime(org.openjdk.jmh.runner.options.TimeValue.seconds(1));
    }
    if (!cli.getMeasurementTime().hasValue()) {
      b.measurementTime(org.openjdk.jmh.runner.options.TimeValue.seconds(1));
    }
    if (!cli.getJvmArgsAppend().hasValue()) {
      // A fixed heap keeps heap resizing out of the figures (evaluate allocates ~1.6 KB a node).
      b.jvmArgsAppend("-Xms1g", "-Xmx1g");
    }
    Options options = b.build();
    Collection<RunResult> results = new Runner(options).run();
    Map<String, double[]> byName = new LinkedHashMap<>();
    for (RunResult r : results) {
      String label = r.getParams().getBenchmark();
      label = label.substring(label.lastIndexOf('.') + 1);
      byName.put(
          label,
          new double[] {r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError()});
    }
    double[] base = byName.get("baselineWeightedSum");
    System.out.println();
    System.out.println(
        "== trust evaluation cost, " + NODES + " nodes, default policy (JMH, average time) ==");
    System.out.println(
        String.format(
            Locale.ROOT,
            "%-22s %12s %10s %16s %18s",
            "benchmark",
            "ns/node",
            "± (99.9%)",
            "ms/10,000 nodes",
            "ratio to baseline"));
    for (String name : List.of("baselineWeightedSum", "score", "evaluate", "engineReassessAll")) {
      double[] v = byName.get(name);
      if (v == null) {
        continue;
      }
      System.out.println(
          String.format(
              Locale.ROOT,
              "%-22s %12.2f %10.2f %16.3f %18s",
              name,
              v[0],
              v[1],
              v[0] * NODES / 1e6,
              base == null ? "-" : String.format(Locale.ROOT, "%.1fx", v[0] / base[0])));
    }
  }
}
