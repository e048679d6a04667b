package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.StorageTypeName;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Applying samples/ to a cluster of core and edge nodes binds every claim, with etcd behind it. */
class SamplesReconcileIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  static OperatorHarness h;

  @BeforeAll
  static void applySamples() throws Exception {
    h = new OperatorHarness(ETCD.endpoints(), "/samples");
    h.sampleCluster();
    h.start();
    h.applyDirectory(OperatorHarness.repoRoot().resolve("samples"));
  }

  @AfterAll
  static void close() {
    h.close();
  }

  @Test
  void everyClaimIsBoundWithItsAllocationInEtcd() {
    List<StorageClaim> claims =
        h.client.resources(StorageClaim.class).inNamespace(OperatorHarness.NS).list().getItems();
    assertThat(claims).hasSizeGreaterThanOrEqualTo(7);
    Set<StorageTypeName> types = EnumSet.noneOf(StorageTypeName.class);
    Set<ClassificationName> classes = EnumSet.noneOf(ClassificationName.class);
    for (StorageClaim c : claims) {
      StorageClaim bound = h.awaitPhase(c.getMetadata().getName(), ClaimPhase.Bound);
      Allocation a = h.allocation(c.getMetadata().getName()).orElseThrow();
      assertThat(bound.getStatus().getVolumeId()).isEqualTo(a.getVolumeId());
      assertThat(a.getVolumeId()).isEqualTo(OperatorHarness.NS + "." + c.getMetadata().getName());
      assertThat(bound.getStatus().getReplicas()).hasSize(a.getReplicaCount());
      assertThat(bound.getStatus().getReplicasReady())
          .isEqualTo(a.getReplicaCount() + "/" + a.getReplicaCount());
      assertThat(bound.getStatus().getObservedGeneration())
          .isEqualTo(bound.getMetadata().getGeneration());
      for (var r : bound.getStatus().getReplicas()) {
        assertThat(r.getTrustScore()).isGreaterThan(0.5);
        assertThat(r.getTopologyPath()).endsWith("/node=" + r.getNode());
        assertThat(r.getState()).isEqualTo("HEALTHY");
      }
      var ready =
          Conditions.find(bound.getStatus().getConditions(), Conditions.READY).orElseThrow();
      assertThat(ready.getStatus()).isEqualTo("True");
      assertThat(ready.getLastTransitionTime()).isEqualTo("2026-03-01T12:00:00Z");
      types.add(c.getSpec().getStorageType());
      classes.add(bound.getStatus().getClassification());
    }
    assertThat(types).isEqualTo(EnumSet.allOf(StorageTypeName.class));
    assertThat(classes)
        .contains(
            ClassificationName.CRITICAL, ClassificationName.SENSITIVE, ClassificationName.STANDARD);
    assertThat(AllocationAudit.check(h.cp.store(), h.cp.keys())).isEmpty();
  }

  @Test
  void criticalDataLivesOnlyOnCriticalNodesOfItsPool() {
    Allocation consensus = h.allocation("payments-consensus").orElseThrow();
    assertThat(consensus.getPool()).isEqualTo("core");
    for (Replica r : consensus.getReplicasList()) {
      assertThat(r.getState()).isEqualTo(ReplicaState.REPLICA_STATE_HEALTHY);
      assertThat(h.engine.tier(r.getNodeId())).isEqualTo(TrustTier.CRITICAL);
      assertThat(r.getNodeId()).startsWith("c");
    }
    h.awaitPhase("analytics-events", ClaimPhase.Bound);
    Allocation edge = h.allocation("analytics-events").orElseThrow();
    assertThat(edge.getPool()).isEqualTo("edge");
    assertThat(edge.getReplicasList()).allSatisfy(r -> assertThat(r.getNodeId()).startsWith("e"));
  }

  @Test
  void poolsServiceNamespacesAndThePolicyReportWhatIsTrue() {
    h.awaitPhase("payments-ledger", ClaimPhase.Bound);
    assertThat(h.awaitReady(h.pool("core"), "Active")).startsWith("8 nodes (8 UP)");
    StoragePool core = h.pool("core");
    assertThat(core.getStatus().getNodesByTier()).containsEntry("CRITICAL", 8);
    assertThat(core.getStatus().getCapacity()).isEqualTo("800Gi");
    StoragePool edge = h.pool("edge");
    assertThat(edge.getStatus().getNodesByTier()).containsEntry("STANDARD", 6);

    h.awaitReady(h.trustPolicy("default"), "Applied");
    var tp = h.trustPolicy("default");
    assertThat(tp.getStatus().getActive()).isTrue();
    assertThat(tp.getStatus().getNodes()).isEqualTo(14);
    assertThat(tp.getStatus().getNodesPerTier())
        .containsEntry("CRITICAL", 8)
        .containsEntry("STANDARD", 6);

    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(30))
        .until(
            () -> {
              ServiceNamespace p = h.serviceNamespace("payments");
              return p.getStatus() != null
                  && p.getStatus().getUsedVolumes() != null
                  && p.getStatus().getUsedVolumes() == 5;
            });
    ServiceNamespace payments = h.serviceNamespace("payments");
    assertThat(payments.getStatus().getUsedBytes()).isEqualTo(38 * OperatorHarness.GIB);
    assertThat(payments.getStatus().getStoreId()).isEqualTo("mycnet-demo.payments");
    assertThat(h.cp.manager().getNamespace("mycnet-demo.payments").orElseThrow().getQuotaBytes())
        .isEqualTo(200 * OperatorHarness.GIB);
  }

  @Test
  void stateChangesAreRecordedAsEvents() {
    h.awaitPhase("payments-cache", ClaimPhase.Bound);
    h.runtime.events().flush(5000);
    List<Event> events = h.client.v1().events().inNamespace(OperatorHarness.NS).list().getItems();
    assertThat(events)
        .anySatisfy(
            e -> {
              assertThat(e.getInvolvedObject().getName()).isEqualTo("payments-cache");
              assertThat(e.getReason()).isEqualTo("Bound");
              assertThat(e.getType()).isEqualTo("Normal");
            });
  }
}
