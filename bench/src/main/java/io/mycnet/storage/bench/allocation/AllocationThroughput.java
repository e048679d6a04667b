package io.mycnet.storage.bench.allocation;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.local.EtcdCluster;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.PlannerPlacement;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Allocations per second through {@link TrustAwareStorageManager} against raw etcd transactions per
 * second from jetcd at the same concurrency (1, 8, 32), both against one real etcd process started
 * for this run. A raw transaction is one guarded single-key put (the cheapest write a decision
 * could be); an allocation reads what it decides from, places 3 replicas and commits one
 * transaction with the record, 3 reservations, the quota counter and 3 commands.
 *
 * <p>Arguments: [seconds per measurement, default 5].
 */
public final class AllocationThroughput {
  private static final long GIB = 1L << 30;

  private AllocationThroughput() {}

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      Client client = etcd.newClient();
      EtcdStore store = new EtcdStore(client, Duration.ofSeconds(10));
      EtcdKeys keys = new EtcdKeys("/bench");
      NodeRegistry registry =
          new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(30));
      for (int z = 0; z < 4; z++) {
        for (int r = 0; r < 4; r++) {
          for (int n = 0; n < 4; n++) {
            String id = "n" + z + r + n;
            registry.register(
                NodeRecord.newBuilder()
                    .setNodeId(id)
                    .setTopologyPath("region=eu/zone=z" + z + "/rack=r" + z + r + "/node=" + id)
                    .setCapacityBytes(1L << 50)
                    .build());
          }
        }
      }
      ClusterViewCache cluster =
          new ClusterViewCache(
              store, keys, id -> new NodeTrustSource.NodeTrust(TrustTier.CRITICAL, 0.95));
      TrustAwareStorageManager manager =
          new TrustAwareStorageManager(
              store,
              keys,
              new CommandQueue(store, keys),
              cluster,
              new PlannerPlacement(r -> java.util.Set.of("default")),
              p -> 1.0,
              Clock.systemUTC());
      manager.putNamespace(NamespaceRecord.newBuilder().setNamespace("bench").build());

      System.out.printf(
          "%-12s %14s %14s %8s%n", "concurrency", "raw txn/s", "allocations/s", "ratio");
      int[] levels = {1, 8, 32};
      for (int c : levels) {
        double raw =
            measure(
                c,
                seconds,
                (t, i) -> rawTxn(client.getKVClient(), "/raw/" + c + "/" + t + "/" + i));
        double alloc =
            measure(
                c,
                seconds,
                (t, i) ->
                    manager.allocate(
                        StorageRequest.of(
                            "v" + c + "-" + t + "-" + i,
                            "bench",
                            "default",
                            GIB,
                            StorageType.INFRASTRUCTURE)));
        System.out.printf("%-12d %14.0f %14.0f %8.2f%n", c, raw, alloc, alloc / raw);
      }
      cluster.close();
      client.close();
    }
  }

  interface Operation {
    void run(int thread, long i) throws Exception;
  }

  private static void rawTxn(KV kv, String key) throws Exception {
    ByteSequence k = ByteSequence.from(key, StandardCharsets.UTF_8);
    kv.txn()
        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.version(0)))
        .Then(Op.put(k, ByteSequence.from("x", StandardCharsets.UTF_8), PutOption.DEFAULT))
        .commit()
        .get(10, TimeUnit.SECONDS);
  }

  /** Operations per second with {@code threads} threads over {@code seconds}, after a warm-up. */
  private static double measure(int threads, int seconds, Operation op) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      // warm-up: one second
      run(pool, threads, 1, op, "w");
      AtomicLong count = run(pool, threads, seconds, op, "m");
      return count.get() / (double) seconds;
    } finally {
      pool.shutdownNow();
    }
  }

  private static AtomicLong run(
      ExecutorService pool, int threads, int seconds, Operation op, String phase) throws Exception {
    AtomicLong count = new AtomicLong();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<Future<?>> fs = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      fs.add(
          pool.submit(
              () -> {
                long i = 0;
                while (System.nanoTime() < end) {
                  op.run(thread, phase.hashCode() * 1_000_000L + i++);
                  count.incrementAndGet();
                }
                return null;
              }));
    }
    for (Future<?> f : fs) {
      f.get();
    }
    return count;
  }
}
