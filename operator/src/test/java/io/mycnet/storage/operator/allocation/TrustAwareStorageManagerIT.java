package io.mycnet.storage.operator.allocation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.wire.ProtoMapping;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;

class TrustAwareStorageManagerIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final long GIB = ControlPlaneFixture.GIB;

  private ControlPlaneFixture cp;
  private String prefix;

  @BeforeEach
  void setUp(TestInfo info) {
    prefix = "/m-" + info.getTestMethod().orElseThrow().getName();
    cp = new ControlPlaneFixture(ETCD.endpoints(), prefix);
    // 2 regions x 2 zones x 2 racks x 2 nodes, 100 GiB each
    cp.registerNodes(2, 2, 2, 2, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("team-a", 0, 0);
  }

  @AfterEach
  void tearDown() {
    cp.close();
  }

  private static StorageRequest req(String id, long gib, StorageType type) {
    return StorageRequest.of(id, "team-a", "default", gib * GIB, type);
  }

  @Test
  void allocateWritesRecordReservationsQuotaAndCommandsTogether() {
    Allocation a = cp.manager.allocate(req("vol-1", 10, StorageType.CONSENSUS));
    assertThat(a.getReplicasCount()).isEqualTo(3);
    // Not bound before the agents confirm their replicas (ReplicaCreationIT).
    assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
    assertThat(a.getReplicasList())
        .allMatch(
            r -> r.getState() == io.mycnet.storage.api.v1.ReplicaState.REPLICA_STATE_CREATING);
    assertThat(a.getClassification())
        .isEqualTo(ProtoMapping.toProto(Classification.CRITICAL)); // the type's default
    assertThat(a.getConsistency()).isEqualTo(ProtoMapping.toProto(ConsistencyLevel.STRONG));
    Set<String> regions = new HashSet<>();
    for (Replica r : a.getReplicasList()) {
      regions.add(r.getTopologyPath().split("/")[0]);
      List<NodeCommand> q = cp.queue.pending(r.getNodeId());
      assertThat(q).hasSize(1);
      assertThat(q.get(0).getCreateReplica().getVolumeId()).isEqualTo("vol-1");
    }
    assertThat(regions).hasSize(2); // both regions used
    assertThat(cp.manager.namespaceUsage("team-a").getUsedBytes()).isEqualTo(10 * GIB);
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void sameRequestTwiceGivesSameAllocationAndReservesOnce() {
    Allocation first = cp.manager.allocate(req("vol-2", 5, StorageType.SERVICE));
    Allocation second = cp.manager.allocate(req("vol-2", 5, StorageType.SERVICE));
    assertThat(second).isEqualTo(first);
    assertThat(cp.manager.namespaceUsage("team-a").getUsedBytes()).isEqualTo(5 * GIB);
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
    assertThatThrownBy(() -> cp.manager.allocate(req("vol-2", 6, StorageType.SERVICE)))
        .isInstanceOfSatisfying(
            AllocationException.class,
            e -> assertThat(e.reason()).isEqualTo(AllocationException.Reason.CONFLICT))
        .hasMessageContaining("sizeBytes");
  }

  @Test
  void storageTypeDefaultsMayBeTightenedNeverLoosened() {
    Allocation tightened =
        cp.manager.allocate(
            req("vol-3", 1, StorageType.SERVICE)
                .withClassification(Classification.SENSITIVE)
                .withReplicas(3)
                .withConsistency(ConsistencyLevel.STRONG));
    assertThat(tightened.getReplicaCount()).isEqualTo(3);
    assertThatThrownBy(
            () ->
                cp.manager.allocate(
                    req("vol-4", 1, StorageType.CONSENSUS)
                        .withClassification(Classification.STANDARD)))
        .hasMessageContaining("classification STANDARD is looser than storage type CONSENSUS");
    assertThatThrownBy(
            () -> cp.manager.allocate(req("vol-4", 1, StorageType.CONSENSUS).withReplicas(2)))
        .hasMessageContaining("replicaCount 2 is below storage type CONSENSUS's 3");
    assertThatThrownBy(
            () ->
                cp.manager.allocate(
                    req("vol-4", 1, StorageType.CONSENSUS)
                        .withConsistency(ConsistencyLevel.EVENTUAL)))
        .hasMessageContaining("consistency EVENTUAL is looser");
    assertThatThrownBy(() -> cp.manager.allocate(req("vol-4", 0, StorageType.SERVICE)))
        .hasMessageContaining("sizeBytes must be > 0");
    assertThatThrownBy(
            () -> cp.manager.allocate(req("vol-4", 1, StorageType.SERVICE).withReplicas(8)))
        .hasMessageContaining("replicaCount must be between 1 and 7");
    assertThatThrownBy(() -> cp.manager.allocate(req("bad/id", 1, StorageType.SERVICE)))
        .hasMessageContaining("volumeId 'bad/id' has '/'");
    assertThat(cp.manager.get("vol-4")).isEmpty();
  }

  @Test
  void namespacePolicyAndQuotaAreEnforcedWithReasons() {
    cp.manager.putNamespace(
        NamespaceRecord.newBuilder()
            .setNamespace("edge")
            .setQuotaBytes(10 * GIB)
            .setQuotaVolumes(2)
            .addAllowedClassifications(ProtoMapping.toProto(Classification.PUBLIC))
            .addAllowedClassifications(ProtoMapping.toProto(Classification.STANDARD))
            .build());
    StorageRequest base = StorageRequest.of("e1", "edge", "default", 6 * GIB, StorageType.SERVICE);
    cp.manager.allocate(base);
    assertThatThrownBy(
            () ->
                cp.manager.allocate(
                    StorageRequest.of("e2", "edge", "default", 5 * GIB, StorageType.SERVICE)))
        .isInstanceOfSatisfying(
            AllocationException.class,
            e -> assertThat(e.reason()).isEqualTo(AllocationException.Reason.QUOTA_EXCEEDED))
        .hasMessageContaining("6442450944 of 10737418240 bytes used");
    assertThatThrownBy(
            () ->
                cp.manager.allocate(
                    StorageRequest.of("e3", "edge", "default", GIB, StorageType.INFRASTRUCTURE)))
        .hasMessageContaining("classification SENSITIVE is not allowed in service namespace edge")
        .hasMessageContaining("allowed: PUBLIC, STANDARD");
    assertThatThrownBy(
            () ->
                cp.manager.allocate(
                    StorageRequest.of("e4", "nowhere", "default", GIB, StorageType.SERVICE)))
        .hasMessageContaining("service namespace nowhere is not known");
    assertThat(cp.manager.get("e2")).isEmpty();
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void unplaceableRequestExplainsWhy() {
    assertThatThrownBy(() -> cp.manager.allocate(req("huge", 500, StorageType.SERVICE)))
        .isInstanceOfSatisfying(
            AllocationException.class,
            e -> assertThat(e.reason()).isEqualTo(AllocationException.Reason.NO_PLACEMENT))
        .hasMessageContaining("cannot be placed");
    for (String n : List.copyOf(cp.trust.keySet())) {
      cp.trust.put(n, new NodeTrustSource.NodeTrust(TrustTier.STANDARD, 0.6));
    }
    assertThatThrownBy(() -> cp.manager.allocate(req("crit", 1, StorageType.CONSENSUS)))
        .hasMessageContaining("cannot be placed");
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void geographicDistributionRequiresDistinctRegions() {
    StorageRequest two =
        new StorageRequest(
            "geo-2", "team-a", "default", GIB, StorageType.SERVICE, null, 2, null, true, null);
    Allocation a = cp.manager.allocate(two);
    assertThat(a.getReplicasList())
        .extracting(r -> r.getTopologyPath().split("/")[0])
        .doesNotHaveDuplicates();
    // Three replicas cannot be in distinct regions of a two-region cluster: refused, not bent.
    StorageRequest three =
        new StorageRequest(
            "geo-3", "team-a", "default", GIB, StorageType.SERVICE, null, 3, null, true, null);
    assertThatThrownBy(() -> cp.manager.allocate(three))
        .isInstanceOfSatisfying(
            AllocationException.class,
            e -> assertThat(e.reason()).isEqualTo(AllocationException.Reason.NO_PLACEMENT))
        .hasMessageContaining("region");
    assertThat(cp.manager.get("geo-3")).isEmpty();
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void releaseReturnsEverythingAndIsIdempotent() {
    Allocation a = cp.manager.allocate(req("rel", 7, StorageType.SERVICE));
    assertThat(cp.manager.release("rel")).contains(a);
    assertThat(cp.manager.release("rel")).isEmpty();
    assertThat(cp.manager.get("rel")).isEmpty();
    assertThat(cp.manager.namespaceUsage("team-a").getUsedBytes()).isZero();
    for (Replica r : a.getReplicasList()) {
      assertThat(cp.queue.pending(r.getNodeId()))
          .extracting(c -> c.hasDeleteReplica() ? "delete" : "create")
          .containsExactly("create", "delete");
    }
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void resizeGrowsOnlyAndAccounts() {
    cp.manager.allocate(req("grow", 2, StorageType.SERVICE));
    Allocation grown = cp.manager.resize("grow", 4 * GIB);
    assertThat(grown.getSizeBytes()).isEqualTo(4 * GIB);
    assertThat(cp.manager.resize("grow", 4 * GIB)).isEqualTo(grown);
    assertThatThrownBy(() -> cp.manager.resize("grow", GIB))
        .hasMessageContaining("volumes can grow, not shrink");
    assertThatThrownBy(() -> cp.manager.resize("nope", GIB))
        .isInstanceOfSatisfying(
            AllocationException.class,
            e -> assertThat(e.reason()).isEqualTo(AllocationException.Reason.NOT_FOUND));
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }

  @Test
  void twoConcurrentManagersNeverDoubleAllocateOrMiscount() throws Exception {
    try (ControlPlaneFixture other = new ControlPlaneFixture(ETCD.endpoints(), prefix)) {
      other.trust.putAll(cp.trust);
      ExecutorService pool = Executors.newFixedThreadPool(16);
      try {
        List<Future<Allocation>> results = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
          String id = "c" + (i / 2); // every volume asked for twice, once by each manager
          TrustAwareStorageManager m = i % 2 == 0 ? cp.manager : other.manager;
          results.add(pool.submit(() -> m.allocate(req(id, 1, StorageType.SERVICE))));
        }
        for (int i = 0; i < 60; i += 2) {
          // The two answers for one volume id are the same allocation.
          assertThat(results.get(i).get()).isEqualTo(results.get(i + 1).get());
        }
      } finally {
        pool.shutdownNow();
      }
    }
    assertThat(cp.manager.list()).hasSize(30);
    assertThat(cp.manager.namespaceUsage("team-a").getVolumeCount()).isEqualTo(30);
    assertThat(AllocationAudit.check(cp.store, cp.keys)).isEmpty();
  }
}
