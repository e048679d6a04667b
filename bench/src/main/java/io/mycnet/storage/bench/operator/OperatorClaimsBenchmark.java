package io.mycnet.storage.bench.operator;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StorageClaimSpec;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StorageTypeName;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.local.EtcdCluster;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.allocation.StorageRequest;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.runtime.ControlPlane;
import io.mycnet.storage.operator.runtime.OperatorRuntime;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Time from creating N StorageClaims (default 1,000) to all of them Bound, and reconciles per
 * second, through the real operator (JOSDK over the Fabric8 mock API server, SSA off) on a real
 * etcd; printed next to the raw rate of the same N allocations made by calling {@code
 * TrustAwareStorageManager.allocate} directly with as many threads as the operator has reconcile
 * threads, in the same run and on the same etcd. The ratio is what the Kubernetes round trips
 * (informer events, status patches, events) cost on top of the allocation itself.
 *
 * <p>Arguments: [claims, default 1000] [reconcile threads, default 10].
 */
public final class OperatorClaimsBenchmark {
  private static final long GIB = 1L << 30;

  private OperatorClaimsBenchmark() {}

  public static void main(String[] args) throws Exception {
    int claims = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    try (EtcdCluster etcdCluster = EtcdCluster.start(1)) {
      List<String> endpoints = etcdCluster.endpoints();
      Client etcd = etcdCluster.newClient();

      // Baseline: direct allocations on the same etcd, same wiring, same thread count.
      OperatorSettings direct = OperatorSettings.forMockServer(endpoints, "/bench-direct");
      ControlPlane dcp = controlPlane(etcd, direct);
      dcp.pools.put(pool());
      dcp.manager.putNamespace(NamespaceRecord.newBuilder().setNamespace("bench.bench").build());
      registerNodes(dcp);
      double directRate = directAllocations(dcp, claims, threads);
      dcp.close();

      // The operator.
      OperatorSettings settings =
          OperatorSettings.forMockServer(endpoints, "/bench-operator")
              .withReconcileThreads(threads);
      ControlPlane cp = controlPlane(etcd, settings);
      registerNodes(cp);
      LocalApiServer server =
          new LocalApiServer(
              StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
      KubernetesClient client = server.newClient();
      OperatorRuntime runtime =
          new OperatorRuntime(
              client, cp, settings, Clock.fixed(Instant.EPOCH, ZoneOffset.UTC), null);
      runtime.start();
      client
          .resource(
              new NamespaceBuilder().withNewMetadata().withName("bench").endMetadata().build())
          .create();
      StoragePool sp = new StoragePool();
      sp.getMetadata().setName("bench");
      client.resource(sp).create();
      ServiceNamespace sn = new ServiceNamespace();
      sn.getMetadata().setName("bench");
      sn.getMetadata().setNamespace("bench");
      sn.getSpec().setPools(List.of("bench"));
      client.resource(sn).create();
      while (cp.pools.get("bench").isEmpty() || cp.manager.getNamespace("bench.bench").isEmpty()) {
        Thread.sleep(20);
      }
      double reconcilesBefore = reconciles(runtime);
      long start = System.nanoTime();
      for (int i = 0; i < claims; i++) {
        StorageClaim c = new StorageClaim();
        c.getMetadata().setName("c" + i);
        c.getMetadata().setNamespace("bench");
        StorageClaimSpec spec = c.getSpec();
        spec.setServiceNamespace("bench");
        spec.setSize(new Quantity("1Gi"));
        spec.setStorageType(StorageTypeName.SERVICE);
        client.resource(c).create();
      }
      double created = (System.nanoTime() - start) / 1e9;
      int bound = 0;
      long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
      while (System.nanoTime() < deadline) {
        // No agents run here: every queued create is answered ok, as a node's agent does once the
        // replica exists, so that claims reach Bound (docs/data-path.md).
        confirmCreates(cp);
        bound =
            (int)
                client.resources(StorageClaim.class).inNamespace("bench").list().getItems().stream()
                    .filter(
                        c -> c.getStatus() != null && c.getStatus().getPhase() == ClaimPhase.Bound)
                    .count();
        if (bound == claims) {
          break;
        }
        Thread.sleep(100);
      }
      double elapsed = (System.nanoTime() - start) / 1e9;
      double reconcilesDone = reconciles(runtime) - reconcilesBefore;
      runtime.close();
      cp.close();
      client.close();
      server.close();
      etcd.close();

      double operatorRate = bound / elapsed;
      System.out.printf(
          "claims                         %d (%d reconcile threads)%n", claims, threads);
      System.out.printf("created in                     %.2f s%n", created);
      System.out.printf(
          "all Bound after                %.2f s (%d/%d bound)%n", elapsed, bound, claims);
      System.out.printf(
          "reconciles                     %.0f (%.1f per claim)%n",
          reconcilesDone, reconcilesDone / Math.max(1, bound));
      System.out.printf("reconciles/s                   %.0f%n", reconcilesDone / elapsed);
      System.out.printf("claims bound/s (operator)      %.0f%n", operatorRate);
      System.out.printf("allocations/s (direct)         %.0f%n", directRate);
      System.out.printf("ratio operator/direct          %.2f%n", operatorRate / directRate);
    }
    System.exit(0);
  }

  private static void confirmCreates(ControlPlane cp) {
    for (io.mycnet.storage.api.v1.NodeRecord n : cp.registry.list()) {
      for (io.mycnet.storage.api.v1.NodeCommand c : cp.queue.pending(n.getNodeId())) {
        if (c.hasCreateReplica()) {
          cp.creation.onResult(
              n.getNodeId(),
              io.mycnet.storage.api.v1.CommandResult.newBuilder()
                  .setCommandId(c.getCommandId())
                  .setOk(true)
                  .build());
          cp.queue.ack(n.getNodeId(), c.getCommandId());
        }
      }
    }
  }

  private static ControlPlane controlPlane(Client etcd, OperatorSettings s) {
    TrustEngine engine =
        new TrustEngine(io.mycnet.storage.operator.trust.TrustPolicy.defaults(), Clock.systemUTC());
    return new ControlPlane(etcd, s, Clock.systemUTC(), engine, () -> true);
  }

  private static PoolDefinition pool() {
    return new PoolDefinition(
        "bench",
        null,
        List.of("region", "zone", "rack", "node"),
        io.mycnet.storage.operator.model.ReplicationStrategy.HIERARCHY_AWARE,
        Set.of(io.mycnet.storage.operator.model.Classification.values()),
        1.0,
        2,
        8);
  }

  /** 16 nodes of 1 TiB in 2 regions x 2 zones, vetted to CRITICAL through the trust engine. */
  private static void registerNodes(ControlPlane cp) {
    List<String> ids = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      for (int z = 0; z < 2; z++) {
        for (int n = 0; n < 4; n++) {
          String id = "n" + r + z + n;
          cp.registry.register(
              NodeRecord.newBuilder()
                  .setNodeId(id)
                  .setTopologyPath(
                      "region=r" + r + "/zone=z" + r + z + "/rack=k" + r + z + n + "/node=" + id)
                  .setCapacityBytes(1024 * GIB)
                  .setAddress("127.0.0.1:0")
                  .build());
          cp.registry.heartbeat(id);
          ids.add(id);
        }
      }
    }
    // 120 healthy 15-minute ticks in the engine's past: vetted (30 h, 120 audits) and CRITICAL.
    Instant t = Instant.now().minus(Duration.ofHours(31));
    for (int i = 0; i < 120; i++) {
      t = t.plus(Duration.ofMinutes(15));
      List<TrustEvidence> tick = new ArrayList<>();
      for (String id : ids) {
        tick.add(new TrustEvidence.Heartbeat(id, t, true));
        tick.add(
            new TrustEvidence.LatencySample(
                id, t, TrustEvidence.RoundTrip.HEARTBEAT, Duration.ofMillis(20)));
        tick.add(new TrustEvidence.ReplicationAck(id, t, true));
        tick.add(new TrustEvidence.IntegrityAudit(id, t, TrustEvidence.AuditKind.CHALLENGE, true));
        tick.add(new TrustEvidence.BytesServed(id, t, 1_000_000, 1_000_000));
        tick.add(new TrustEvidence.ReportedFactor(id, t, TrustFactor.IO_PERFORMANCE, 1.0));
        tick.add(new TrustEvidence.ReportedFactor(id, t, TrustFactor.ENCRYPTION_COMPLIANCE, 1.0));
        tick.add(new TrustEvidence.ReportedFactor(id, t, TrustFactor.ACCESS_CONTROL, 1.0));
      }
      cp.trustEngine.recordAll(tick);
    }
    cp.trustEngine.reassessAll();
    cp.cluster.invalidate();
  }

  private static double directAllocations(ControlPlane cp, int n, int threads) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    AtomicInteger next = new AtomicInteger();
    long start = System.nanoTime();
    List<Future<?>> fs = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      fs.add(
          pool.submit(
              () -> {
                for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
                  cp.manager.allocate(
                      StorageRequest.of(
                          "bench.d" + i, "bench.bench", "bench", GIB, StorageType.SERVICE));
                }
                return null;
              }));
    }
    for (Future<?> f : fs) {
      f.get();
    }
    double secs = (System.nanoTime() - start) / 1e9;
    pool.shutdownNow();
    return n / secs;
  }

  private static double reconciles(OperatorRuntime runtime) {
    double sum = 0;
    for (Meter m : runtime.metrics().getMeters()) {
      if (m instanceof Counter c
          && m.getId().getName().equals("operator.sdk.reconciliations.started")) {
        sum += c.count();
      }
    }
    return sum;
  }
}
