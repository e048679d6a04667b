package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import io.mycnet.storage.operator.reconciler.storageclaim.OrphanAllocationCollector;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Volumes whose claim is gone are released by the garbage collector, after its delay, through the
 * same release as a claim's deletion; claims that exist are never touched. Two operators follow
 * each other on one mock API server and one real etcd, as across a restart: claims deleted while no
 * operator ran (their finalizer removed), and a finalizer removed by hand while the second one
 * runs. The collector's delay is measured on a test clock, so "not before the delay" is exact.
 */
class OrphanVolumeCollectorIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final String NS = OperatorHarness.NS;

  static ServiceNamespace serviceNamespace() {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: ServiceNamespace\nmetadata:\n"
            + "  namespace: "
            + NS
            + "\n  name: gc\nspec:\n  pools: [core]\n  quota:\n    bytes: 100Gi\n",
        ServiceNamespace.class);
  }

  static StorageClaim claim(String name) {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n  namespace: "
            + NS
            + "\n  name: "
            + name
            + "\nspec:\n  serviceNamespace: gc\n  size: 1Gi\n  storageType: SERVICE\n",
        StorageClaim.class);
  }

  static void dropFinalizers(KubernetesClient client, String name) {
    client
        .resources(StorageClaim.class)
        .inNamespace(NS)
        .withName(name)
        .edit(
            c -> {
              c.getMetadata().setFinalizers(new ArrayList<>());
              return c;
            });
  }

  /** Runs passes until {@code until} holds; returns every volume released meanwhile. */
  static List<String> collectUntil(
      OrphanAllocationCollector gc, java.util.function.BooleanSupplier until) {
    List<String> released = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              released.addAll(gc.collect().released());
              return until.getAsBoolean();
            });
    return released;
  }

  /** Finalizer removed by hand, then deleted: the finalizer never runs. */
  static void deleteBypassingTheFinalizer(KubernetesClient client, String name) {
    dropFinalizers(client, name);
    client.resources(StorageClaim.class).inNamespace(NS).withName(name).delete();
    awaitGone(client, name);
  }

  /** Deleted (the finalizer holds it), then its finalizer removed by hand: it goes unreleased. */
  static void deleteThenRemoveTheFinalizer(KubernetesClient client, String name) {
    client.resources(StorageClaim.class).inNamespace(NS).withName(name).delete();
    if (client.resources(StorageClaim.class).inNamespace(NS).withName(name).get() != null) {
      dropFinalizers(client, name);
    }
    awaitGone(client, name);
  }

  static void awaitGone(KubernetesClient client, String name) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                client.resources(StorageClaim.class).inNamespace(NS).withName(name).get() == null);
  }

  @Test
  void volumesWithoutAClaimAreReleasedAfterTheDelayAndOnlyThey() throws Exception {
    List<String> all = List.of("keep", "dropped", "returns", "unhooked", "unfinalized");
    try (LocalApiServer api =
        new LocalApiServer(
            StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class)) {
      Map<String, Allocation> bound = new java.util.HashMap<>();
      try (OperatorHarness first =
          new OperatorHarness(
              api,
              ETCD.endpoints(),
              "/orphans",
              io.mycnet.storage.operator.trust.TrustPolicy.defaults(),
              Clock.systemUTC())) {
        first.sampleCluster();
        first.start();
        first.applyDirectory(OperatorHarness.repoRoot().resolve("samples"));
        first.create(serviceNamespace());
        for (String n : all) {
          first.create(claim(n));
        }
        for (String n : all) {
          first.awaitPhase(n, ClaimPhase.Bound);
          bound.put(n, first.allocation(n).orElseThrow());
        }
      }
      // No operator runs: three claims disappear without their finalizer running.
      try (KubernetesClient user = api.newClient()) {
        deleteBypassingTheFinalizer(user, "dropped");
        deleteBypassingTheFinalizer(user, "returns");
        deleteThenRemoveTheFinalizer(user, "unhooked");
      }

      TestClock gcClock = new TestClock();
      try (OperatorHarness h =
          new OperatorHarness(
              api,
              ETCD.endpoints(),
              "/orphans",
              io.mycnet.storage.operator.trust.TrustPolicy.defaults(),
              gcClock)) {
        h.sampleCluster();
        h.start();
        OrphanAllocationCollector gc = h.runtime.orphans();
        Duration delay = gc.delay();
        List<String> released = new ArrayList<>();

        // After the first full sync the three volumes are suspected, not released.
        released.addAll(
            collectUntil(
                gc,
                () ->
                    gc.suspects()
                        .keySet()
                        .containsAll(List.of(NS + ".dropped", NS + ".returns", NS + ".unhooked"))));
        assertThat(gc.suspects()).hasSize(3);
        int volumesBefore = h.cp.manager().list().size();

        // A finalizer removed by hand from a claim that stays: it is never touched.
        dropFinalizers(h.client, "unfinalized");

        // One claim comes back before the delay: its suspicion ends, its volume is its own again.
        h.create(claim("returns"));
        h.awaitPhase("returns", ClaimPhase.Bound);
        released.addAll(collectUntil(gc, () -> !gc.suspects().containsKey(NS + ".returns")));

        // Not before the delay, not even a moment before it.
        for (int i = 0; i < 3; i++) {
          released.addAll(gc.collect().released());
        }
        gcClock.advance(delay.minusMillis(1));
        for (int i = 0; i < 3; i++) {
          released.addAll(gc.collect().released());
        }
        assertThat(released).isEmpty();
        assertThat(gc.releasedTotal()).isZero();
        for (String n : all) {
          assertThat(h.allocation(n)).as(n).isPresent();
        }

        // ... and at the delay: the two orphans are released, nothing else.
        gcClock.advance(Duration.ofMillis(1));
        released.addAll(gc.collect().released());
        assertThat(released).containsExactlyInAnyOrder(NS + ".dropped", NS + ".unhooked");
        assertThat(gc.releasedTotal()).isEqualTo(2);
        assertThat(h.allocation("dropped")).isEmpty();
        assertThat(h.allocation("unhooked")).isEmpty();
        assertThat(h.cp.manager().list()).hasSize(volumesBefore - 2);
        for (String n : List.of("keep", "returns", "unfinalized")) {
          assertThat(h.allocation(n).orElseThrow().getIncarnation())
              .as(n)
              .isEqualTo(bound.get(n).getIncarnation());
          assertThat(h.claim(n).getStatus().getPhase()).as(n).isEqualTo(ClaimPhase.Bound);
        }

        // Accounting exact: node reservations and the namespace's usage match the allocations.
        assertThat(AllocationAudit.check(h.cp.store(), h.cp.keys())).isEmpty();
        assertThat(h.cp.manager().namespaceUsage(NS + ".gc").getUsedBytes())
            .isEqualTo(3 * OperatorHarness.GIB);
        assertThat(h.cp.manager().namespaceUsage(NS + ".gc").getVolumeCount()).isEqualTo(3);

        // Every replica of a released volume has its DeleteReplica queued.
        for (String n : List.of("dropped", "unhooked")) {
          for (Replica r : bound.get(n).getReplicasList()) {
            assertThat(h.cp.queue().pending(r.getNodeId()))
                .as(n + " on " + r.getNodeId())
                .anySatisfy(
                    (NodeCommand c) ->
                        assertThat(c.getDeleteReplica().getVolumeId()).isEqualTo(NS + "." + n));
          }
        }

        // An event on each released claim says so; nothing for the others.
        await()
            .atMost(Duration.ofSeconds(20))
            .untilAsserted(
                () ->
                    assertThat(
                            h.client.v1().events().inNamespace(NS).list().getItems().stream()
                                .filter(e -> "OrphanReleased".equals(e.getReason()))
                                .map(e -> e.getInvolvedObject().getName())
                                .toList())
                        .containsExactlyInAnyOrder("dropped", "unhooked"));
        Event one =
            h.client.v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> "OrphanReleased".equals(e.getReason()))
                .findFirst()
                .orElseThrow();
        assertThat(one.getType()).isEqualTo("Warning");
        assertThat(one.getInvolvedObject().getKind()).isEqualTo("StorageClaim");
        assertThat(one.getMessage()).contains("released: its claim has been absent since");

        // Much later, nothing more is released.
        gcClock.advance(delay.multipliedBy(3));
        for (int i = 0; i < 3; i++) {
          assertThat(gc.collect().released()).isEmpty();
        }
        assertThat(h.cp.manager().list()).hasSize(volumesBefore - 2);

        // Claims that cannot be listed (an API server that does not answer), or an informer not
        // synced yet: the pass does nothing at all, however long, although no claim is seen.
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
          port = s.getLocalPort();
        }
        try (KubernetesClient unreachable =
                new io.fabric8.kubernetes.client.KubernetesClientBuilder()
                    .withConfig(
                        new io.fabric8.kubernetes.client.ConfigBuilder()
                            .withMasterUrl("http://127.0.0.1:" + port)
                            .withRequestTimeout(2000)
                            .withRequestRetryBackoffLimit(0)
                            .build())
                    .build();
            KubeEvents events = new KubeEvents(unreachable, gcClock)) {
          TestClock clock = new TestClock();
          java.util.concurrent.atomic.AtomicBoolean synced =
              new java.util.concurrent.atomic.AtomicBoolean(true);
          OrphanAllocationCollector blind =
              new OrphanAllocationCollector(
                  unreachable,
                  h.cp.manager(),
                  events,
                  java.util.Set.of(),
                  synced::get,
                  clock,
                  delay);
          for (int i = 0; i < 3; i++) {
            OrphanAllocationCollector.Pass pass = blind.collect();
            assertThat(pass.skipped()).startsWith("cannot list the StorageClaims");
            assertThat(pass.suspected()).isEmpty();
            clock.advance(delay.multipliedBy(2));
          }
          synced.set(false);
          assertThat(blind.collect().skipped()).contains("not synced");
          assertThat(blind.suspects()).isEmpty();
          assertThat(blind.releasedTotal()).isZero();
        }
        assertThat(h.cp.manager().list()).hasSize(volumesBefore - 2);
      }
    }
  }
}
