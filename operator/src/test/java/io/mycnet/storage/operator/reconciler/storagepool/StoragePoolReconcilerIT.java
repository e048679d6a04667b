package io.mycnet.storage.operator.reconciler.storagepool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StoragePoolSpec;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.TestClock;
import io.mycnet.storage.operator.runtime.ControlPlane;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.operator.trust.TrustPolicy;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link StoragePoolReconciler} called directly (its reconcile and cleanup need no JOSDK context)
 * over a real control plane in etcd, with its events recorded in the Fabric8 mock server (CRUD
 * mode).
 */
class StoragePoolReconcilerIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private LocalApiServer server;
  private KubernetesClient client;
  private Client etcd;
  private ControlPlane cp;
  private KubeEvents events;
  private StoragePoolReconciler reconciler;

  @BeforeEach
  void start() {
    server = new LocalApiServer(StoragePool.class);
    client = server.newClient();
    etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build();
    OperatorSettings settings =
        OperatorSettings.forMockServer(ETCD.endpoints(), "/" + UUID.randomUUID());
    TestClock clock = new TestClock();
    cp =
        ControlPlane.builder(etcd, settings)
            .clock(Clock.systemUTC())
            .trustEngine(new TrustEngine(TrustPolicy.defaults(), clock))
            .isLeader(() -> true)
            .build();
    events = new KubeEvents(client, clock);
    reconciler =
        new StoragePoolReconciler(
            cp.pools(),
            cp.cluster(),
            cp.manager(),
            cp.replicationTrigger(),
            events,
            new Conditions(clock));
  }

  @AfterEach
  void stop() {
    events.close();
    cp.close();
    etcd.close();
    client.close();
    server.close();
  }

  private static StoragePool pool(String name, List<String> levels) {
    StoragePool p = new StoragePool();
    p.setMetadata(new ObjectMetaBuilder().withName(name).withGeneration(1L).build());
    StoragePoolSpec spec = new StoragePoolSpec();
    spec.setHierarchyLevels(levels);
    p.setSpec(spec);
    return p;
  }

  private static Condition ready(StoragePool p) {
    return Conditions.find(p.getStatus().getConditions(), Conditions.READY).orElseThrow();
  }

  private List<Event> eventsAbout(String name, String reason) {
    return client
        .v1()
        .events()
        .inNamespace(KubeEvents.CLUSTER_EVENTS_NAMESPACE)
        .list()
        .getItems()
        .stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .filter(e -> reason.equals(e.getReason()))
        .toList();
  }

  @Test
  void aValidPoolIsRegisteredAndCountsItsNodes() {
    cp.registry()
        .register(
            NodeRecord.newBuilder()
                .setNodeId("n1")
                .setTopologyPath("region=eu/zone=a/rack=r1/node=n1")
                .setCapacityBytes(1L << 30)
                .setOwner("acme")
                .build());
    StoragePool p = pool("core", null);

    UpdateControl<StoragePool> c = reconciler.reconcile(p, null);

    assertThat(c.isPatchStatus()).isTrue();
    assertThat(cp.pools().get("core")).isPresent();
    assertThat(p.getStatus().getNodes()).isEqualTo(1);
    assertThat(ready(p).getStatus()).isEqualTo("True");
    assertThat(ready(p).getReason()).isEqualTo("Active");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> eventsAbout("core", "PoolRegistered").size() == 1);
    // Nothing changed: no update, no second event.
    assertThat(reconciler.reconcile(p, null).isNoUpdate()).isTrue();

    StoragePool changed = pool("core", List.of("region", "node"));
    changed.setStatus(p.getStatus());
    reconciler.reconcile(changed, null);
    assertThat(cp.pools().get("core").orElseThrow().hierarchyLevels())
        .containsExactly("region", "node");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> eventsAbout("core", "PoolChanged").size() == 1);
    assertThat(eventsAbout("core", "PoolRegistered")).hasSize(1);
  }

  @Test
  void anInvalidPoolIsNotUsedAndWarnsOncePerProblem() {
    StoragePool p = pool("bad", List.of("zone", "zone"));

    reconciler.reconcile(p, null);
    assertThat(cp.pools().get("bad")).isEmpty();
    assertThat(ready(p).getStatus()).isEqualTo("False");
    assertThat(ready(p).getReason()).isEqualTo("InvalidSpec");
    assertThat(ready(p).getMessage())
        .isEqualTo(
            "spec.hierarchyLevels[1]: level 'zone' appears twice; the pool is not used until this"
                + " is fixed");
    // Reconciled again with the status it now has: the same problem is not warned again.
    assertThat(reconciler.reconcile(p, null).isNoUpdate()).isTrue();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> eventsAbout("bad", "InvalidSpec").size() == 1);

    StoragePool other = pool("bad", List.of("Zone"));
    other.setStatus(p.getStatus());
    reconciler.reconcile(other, null);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> eventsAbout("bad", "InvalidSpec").size() == 2);
  }

  @Test
  void aFailedReconcileIsReadyFalseAndKeepsTheStatus() {
    StoragePool p = pool("core", null);
    reconciler.reconcile(p, null);
    Integer nodes = p.getStatus().getNodes();

    ErrorStatusUpdateControl<StoragePool> c =
        reconciler.updateErrorStatus(
            p, null, new StoreUnavailableException("etcd is unreachable", null));

    assertThat(c.getResource()).containsSame(p);
    assertThat(ready(p).getStatus()).isEqualTo("False");
    assertThat(ready(p).getReason()).isEqualTo("ReconcileError");
    assertThat(ready(p).getMessage()).isEqualTo("etcd is unreachable");
    assertThat(p.getStatus().getNodes()).isEqualTo(nodes);
    assertThat(
            Conditions.find(
                p.getStatus().getConditions(), StoragePoolStatusFactory.TOPOLOGY_CONFORMS))
        .isPresent();
  }

  @Test
  void aPoolWithoutVolumesIsDeletedAndLeavesTheDirectory() {
    StoragePool p = pool("core", null);
    reconciler.reconcile(p, null);

    DeleteControl c = reconciler.cleanup(p, null);

    assertThat(c.isRemoveFinalizer()).isTrue();
    assertThat(cp.pools().get("core")).isEmpty();
  }
}
