package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeTrustState;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.model.TrustFactor;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.runtime.TrustStateCodec;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.NodeTrustRecord;
import io.mycnet.storage.operator.trust.TrustPolicy;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The operator restarted (a cluster's control plane, not local mode): trust survives it. A first
 * operator earns every node its tier from evidence (CRITICAL, SENSITIVE, STANDARD), binds claims of
 * every classification, and persists the trust evidence in etcd by itself. It is stopped; a second
 * operator — a new trust engine, control plane and reconcilers, on the same etcd and the same
 * Kubernetes API — starts. Before it has restored, it knows no node's trust and a replication pass
 * changes nothing; after, every node has exactly its tier, score and evidence, new evidence adds to
 * the restored evidence, and no replica changes state: no allocation is written at all.
 */
class TrustRestartIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  static final String PREFIX = "/trustrestart";

  @Test
  void aRestartedOperatorKeepsEveryTierAndMovesNothing() throws Exception {
    OperatorHarness first =
        new OperatorHarness(
            ETCD.endpoints(), PREFIX, TrustPolicy.defaults(), null, new TestClock());
    OperatorHarness second = null;
    boolean firstClosed = false;
    try {
      // 8 nodes that earn CRITICAL, 4 SENSITIVE (they report weak access control), 4 STANDARD
      // (still vetting), each group spread over two regions of two zones.
      List<String> critical = first.nodes("c", "core", 2, 2, 2, 100);
      List<String> sensitive = first.nodes("s", "core", 2, 2, 1, 100);
      List<String> standard = first.nodes("t", "core", 2, 2, 1, 100);
      List<String> all = new ArrayList<>(critical);
      all.addAll(sensitive);
      all.addAll(standard);
      Map<String, Double> vetted = new HashMap<>();
      critical.forEach(n -> vetted.put(n, 1.0));
      sensitive.forEach(n -> vetted.put(n, 0.0));
      first.earnTrust(vetted, 80);
      Map<String, Double> everyone = new HashMap<>(vetted);
      standard.forEach(n -> everyone.put(n, 1.0));
      first.earnTrust(everyone, 40);
      critical.forEach(n -> assertThat(first.engine.tier(n)).as(n).isEqualTo(TrustTier.CRITICAL));
      sensitive.forEach(n -> assertThat(first.engine.tier(n)).as(n).isEqualTo(TrustTier.SENSITIVE));
      standard.forEach(n -> assertThat(first.engine.tier(n)).as(n).isEqualTo(TrustTier.STANDARD));

      first.start();
      applySamples(first);
      String[][] claims = {
        {"crit-1", "CONSENSUS", ""},
        {"crit-2", "CONSENSUS", ""},
        {"crit-3", "SERVICE", "CRITICAL"},
        {"sens-1", "INFRASTRUCTURE", ""},
        {"sens-2", "CONFIGURATION", ""},
        {"sens-3", "INFRASTRUCTURE", ""},
        {"std-1", "SERVICE", ""},
        {"std-2", "SERVICE", ""},
        {"std-3", "SERVICE", ""},
        {"pub-1", "DISCOVERY", ""},
        {"pub-2", "DISCOVERY", ""}
      };
      for (String[] c : claims) {
        first.create(claim(c[0], c[1], c[2]));
      }
      for (String[] c : claims) {
        first.awaitPhase(c[0], ClaimPhase.Bound);
      }

      Map<String, Versioned<Allocation>> before = allocations(first);
      assertThat(before).hasSize(claims.length);
      assertThat(classifications(before.values())).as("volumes of every classification").hasSize(4);
      assertThat(before.values())
          .as("replicas on nodes of every tier")
          .anyMatch(v -> onAny(v.value(), sensitive))
          .anyMatch(v -> onAny(v.value(), standard));
      before
          .values()
          .forEach(
              v ->
                  assertThat(v.value().getReplicasList())
                      .as(v.key())
                      .allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_HEALTHY));

      // The running operator writes every node's evidence to etcd by itself (no shutdown needed).
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .untilAsserted(
              () -> {
                Map<String, NodeTrustState> stored = storedTrust(first);
                for (String n : all) {
                  assertThat(stored.get(n))
                      .as(n)
                      .isEqualTo(
                          TrustStateCodec.toProto(first.engine.snapshot(n).orElseThrow().export()));
                }
              });
      Map<String, NodeTrustRecord> records = new TreeMap<>();
      Map<String, NodeTrustSource.NodeTrust> trust = new TreeMap<>();
      for (String n : all) {
        records.put(n, first.engine.snapshot(n).orElseThrow());
        trust.put(n, first.cp.trust.trustOf(n));
        assertThat(first.cp.trust.known(n)).as(n).isTrue();
      }
      // Stop the operator (its Kubernetes client stays, like the API server's other clients).
      first.runtime.close();
      first.cp.close();
      firstClosed = true;

      // The same operator restarted: a new engine that has seen nothing yet.
      second =
          new OperatorHarness(
              ETCD.endpoints(),
              PREFIX,
              TrustPolicy.defaults(),
              first.server,
              new TestClock(first.trustClock.instant()));
      for (String n : all) {
        assertThat(second.cp.trust.known(n)).as("%s before the restore", n).isFalse();
      }
      // "Not known yet" is not a tier drop: a pass before the restore marks nothing.
      second.cp.replication.reconcile();
      assertUnchanged(before, allocations(second));

      second.start();
      assertThat(second.cp.trustPersistence.restored()).isTrue();
      for (String n : all) {
        assertThat(second.cp.trust.known(n)).as(n).isTrue();
        assertThat(second.cp.trust.trustOf(n)).as(n).isEqualTo(trust.get(n));
        assertThat(second.engine.tier(n)).as(n).isEqualTo(records.get(n).tier());
        assertThat(second.engine.snapshot(n)).as(n).contains(records.get(n));
      }
      second.cp.replication.reconcile();
      for (String[] c : claims) {
        assertThat(second.awaitPhase(c[0], ClaimPhase.Bound)).isNotNull();
      }
      // Let a few passes of the replication loop and the reconcilers run: still nothing written.
      Thread.sleep(3000);
      second.cp.replication.reconcile();
      assertUnchanged(before, allocations(second));
      for (String n : all) {
        assertThat(second.cp.trust.trustOf(n)).as(n).isEqualTo(trust.get(n));
      }

      // Evidence after the restart applies on top of the restored evidence.
      String n = critical.get(0);
      second.earnTrust(Map.of(n, 1.0), 1);
      assertThat(second.engine.snapshot(n).orElseThrow().events(TrustFactor.DATA_INTEGRITY))
          .isEqualTo(records.get(n).events(TrustFactor.DATA_INTEGRITY) + 1);
      assertThat(second.engine.tier(n)).isEqualTo(TrustTier.CRITICAL);
    } finally {
      if (second != null) {
        second.close();
      }
      if (!firstClosed) {
        first.runtime.close();
        first.cp.close();
      }
      first.client.close();
      first.etcd.close();
      first.server.close();
    }
  }

  private static void applySamples(OperatorHarness h) throws Exception {
    Path samples = OperatorHarness.repoRoot().resolve("samples");
    for (String f :
        List.of("00-namespace.yaml", "10-trustpolicy-default.yaml", "20-storagepool-core.yaml")) {
      try (InputStream in = Files.newInputStream(samples.resolve(f))) {
        h.client.load(in).createOrReplace();
      }
    }
    h.create(
        Serialization.unmarshal(
            """
            apiVersion: storage.mycnet.io/v1alpha1
            kind: ServiceNamespace
            metadata:
              name: everything
              namespace: mycnet-demo
            spec:
              quota:
                bytes: 200Gi
                volumes: 40
              allowedClassifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]
              allowedStorageTypes: [CONSENSUS, INFRASTRUCTURE, CONFIGURATION, SERVICE, DISCOVERY]
              pools: [core]
            """,
            io.mycnet.storage.crds.v1alpha1.ServiceNamespace.class));
  }

  private static StorageClaim claim(String name, String type, String classification) {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n"
            + "  namespace: mycnet-demo\n  name: "
            + name
            + "\nspec:\n  serviceNamespace: everything\n  size: 1Gi\n  storageType: "
            + type
            + "\n"
            + (classification.isEmpty() ? "" : "  classification: " + classification + "\n"),
        StorageClaim.class);
  }

  private static Map<String, Versioned<Allocation>> allocations(OperatorHarness h) {
    Map<String, Versioned<Allocation>> out = new TreeMap<>();
    for (Versioned<Allocation> v : h.cp.store.list(h.cp.keys.allocations(), Allocation.parser())) {
      out.put(v.key(), v);
    }
    return out;
  }

  private static Map<String, NodeTrustState> storedTrust(OperatorHarness h) {
    Map<String, NodeTrustState> out = new TreeMap<>();
    for (Versioned<NodeTrustState> v :
        h.cp.store.list(h.cp.keys.trustAll(), NodeTrustState.parser())) {
      out.put(v.value().getNodeId(), v.value());
    }
    return out;
  }

  private static Set<io.mycnet.storage.api.v1.Classification> classifications(
      java.util.Collection<Versioned<Allocation>> vs) {
    Set<io.mycnet.storage.api.v1.Classification> out =
        EnumSet.noneOf(io.mycnet.storage.api.v1.Classification.class);
    vs.forEach(v -> out.add(v.value().getClassification()));
    return out;
  }

  private static boolean onAny(Allocation a, List<String> nodes) {
    return a.getReplicasList().stream().map(Replica::getNodeId).anyMatch(nodes::contains);
  }

  /** Same allocations, same replicas in the same states on the same nodes, never rewritten. */
  private static void assertUnchanged(
      Map<String, Versioned<Allocation>> before, Map<String, Versioned<Allocation>> after) {
    assertThat(after.keySet()).isEqualTo(before.keySet());
    for (Map.Entry<String, Versioned<Allocation>> e : before.entrySet()) {
      Versioned<Allocation> a = after.get(e.getKey());
      assertThat(a.value().getReplicasList())
          .as(e.getKey())
          .isEqualTo(e.getValue().value().getReplicasList());
      assertThat(a.value().getState()).as(e.getKey()).isEqualTo(e.getValue().value().getState());
      assertThat(a.modRevision())
          .as(e.getKey() + " not rewritten")
          .isEqualTo(e.getValue().modRevision());
    }
  }
}
