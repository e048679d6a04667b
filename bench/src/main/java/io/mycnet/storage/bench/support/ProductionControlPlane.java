package io.mycnet.storage.bench.support;

import io.etcd.jetcd.Client;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.runtime.TrustPersistence;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustEvidence;
import io.mycnet.storage.operator.trust.TrustPolicy;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The production control plane ({@code OperatorMain}) for a benchmark: a child JVM on loopback
 * (node API and health endpoints on ports the system picks), configured through its {@code
 * MYCNET_*} environment, with the Fabric8 mock API server (CRUD mode, in the benchmark's JVM) as
 * its Kubernetes API; leader election off, and no namespace of the benchmark's volumes watched by
 * the reconcilers (the benchmark allocates through the storage manager, not through claims).
 */
public final class ProductionControlPlane implements AutoCloseable {
  public static final String MAIN = "io.mycnet.storage.operator.OperatorMain";

  private final LocalApiServer api;
  private final ChildProcess process;
  private final Map<String, String> ready;

  /**
   * Starts it and waits for its ready line.
   *
   * @param settings further {@code MYCNET_*} settings (heartbeat, lease, ...)
   */
  public ProductionControlPlane(
      List<String> etcdEndpoints,
      String prefix,
      Path caDir,
      Path tokenFile,
      Map<String, String> settings,
      String heap,
      Path log) {
    api =
        new LocalApiServer(
            StoragePool.class,
            io.mycnet.storage.crds.v1alpha1.TrustPolicy.class,
            ServiceNamespace.class,
            StorageClaim.class);
    Map<String, String> env = new LinkedHashMap<>();
    env.put("MYCNET_ETCD_ENDPOINTS", String.join(",", etcdEndpoints));
    env.put("MYCNET_ETCD_PREFIX", prefix);
    env.put("MYCNET_USE_SSA", "false");
    env.put("MYCNET_LEADER_ELECTION", "false");
    env.put("MYCNET_WATCH_NAMESPACES", "mycnet-reconciled");
    env.put("MYCNET_HTTP_ADDRESS", "127.0.0.1");
    env.put("MYCNET_HTTP_PORT", "0");
    env.put("MYCNET_CA_DIR", caDir.toString());
    env.put("MYCNET_TOKEN_FILE", tokenFile.toString());
    env.put("MYCNET_NODE_API_ADDRESS", "127.0.0.1");
    env.put("MYCNET_SESSION_PORT", "0");
    env.put("MYCNET_JOIN_PORT", "0");
    env.putAll(settings);
    List<String> jvm = new ArrayList<>();
    jvm.add("-Xmx" + heap);
    String mock = System.getProperty("mycnet.mockserver.lib");
    if (mock != null) {
      jvm.add("-Dmycnet.mockserver.lib=" + mock);
    }
    jvm.add("-Dkubernetes.master=" + api.url());
    jvm.add("-Dkubernetes.namespace=default");
    jvm.add("-Dkubernetes.http2.disable=true");
    jvm.add("-Dkubernetes.auth.tryKubeConfig=false");
    jvm.add("-Dkubernetes.auth.tryServiceAccount=false");
    jvm.add("-Dno.proxy=*");
    process = ChildProcess.java(MAIN).name("control plane").jvmArgs(jvm).env(env).log(log).start();
    try {
      ready = process.awaitReady(Duration.ofSeconds(120));
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  public ChildProcess process() {
    return process;
  }

  /** A new client of its Kubernetes API (the mock server); the caller closes it. */
  public io.fabric8.kubernetes.client.KubernetesClient kube() {
    return api.newClient();
  }

  public int sessionPort() {
    return Integer.parseInt(ready.get("session"));
  }

  public int joinPort() {
    return Integer.parseInt(ready.get("join"));
  }

  /**
   * Persists a vetted history (30 hours, 120 audits passed, every heartbeat seen: CRITICAL) for
   * {@code nodes} the way a leader persists trust, for a control plane that starts afterwards to
   * restore, as local mode's nodes bring their history with them.
   */
  public static void persistVettedHistory(
      Client etcd, String prefix, List<String> nodes, Duration timeout) {
    EtcdStore store = new EtcdStore(etcd, timeout);
    EtcdKeys keys = new EtcdKeys(prefix);
    Duration tick = Duration.ofMinutes(15);
    int ticks = 120;
    Instant[] now = {Instant.now().minus(tick.multipliedBy(ticks))};
    Clock clock =
        new Clock() {
          @Override
          public ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(ZoneId zone) {
            return this;
          }

          @Override
          public Instant instant() {
            return now[0];
          }
        };
    TrustEngine engine = new TrustEngine(TrustPolicy.defaults(), clock);
    for (int i = 0; i < ticks; i++) {
      now[0] = now[0].plus(tick);
      Instant at = now[0];
      List<TrustEvidence> evidence = new ArrayList<>();
      for (String n : nodes) {
        evidence.add(new TrustEvidence.Heartbeat(n, at, true));
        evidence.add(
            new TrustEvidence.LatencySample(
                n, at, TrustEvidence.RoundTrip.HEARTBEAT, Duration.ofMillis(20)));
        evidence.add(new TrustEvidence.ReplicationAck(n, at, true));
        evidence.add(
            new TrustEvidence.IntegrityAudit(n, at, TrustEvidence.AuditKind.CHALLENGE, true));
        evidence.add(new TrustEvidence.BytesServed(n, at, 1_000_000, 1_000_000));
        evidence.add(new TrustEvidence.ReportedFactor(n, at, TrustFactor.IO_PERFORMANCE, 1.0));
        evidence.add(
            new TrustEvidence.ReportedFactor(n, at, TrustFactor.ENCRYPTION_COMPLIANCE, 1.0));
        evidence.add(new TrustEvidence.ReportedFactor(n, at, TrustFactor.ACCESS_CONTROL, 1.0));
      }
      engine.recordAll(evidence);
    }
    for (String n : nodes) {
      if (engine.tier(n) != TrustTier.CRITICAL) {
        throw new IllegalStateException(n + "'s history earned " + engine.tier(n));
      }
    }
    try (TrustPersistence p =
        new TrustPersistence(
            store, keys, engine, () -> true, TrustPersistence.Settings.defaults())) {
      p.restore();
      p.flush(true);
    }
  }

  @Override
  public void close() {
    process.close();
    api.close();
  }
}
