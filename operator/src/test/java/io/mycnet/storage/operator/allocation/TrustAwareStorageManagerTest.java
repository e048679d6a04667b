package io.mycnet.storage.operator.allocation;

import static io.mycnet.storage.operator.allocation.ManagerFixture.GIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.operator.allocation.AllocationException.Reason;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TrustTier;
import io.mycnet.storage.operator.replication.ReplicationManager;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Duration;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Allocate, resize and release on the in-memory store: each decision writes the allocation, the
 * reservations, the quota books and the agents' commands together; each refusal has its reason and
 * writes nothing.
 */
class TrustAwareStorageManagerTest {
  private ManagerFixture cp;
  private List<String> nodes;

  @BeforeEach
  void setUp(TestInfo info) {
    cp =
        new ManagerFixture(
            InMemoryStore::new,
            "/" + info.getTestMethod().orElseThrow().getName(),
            new ReplicationManager.Settings(Duration.ZERO, 2, 8));
    // 3 zones x 2 nodes of 100 GiB
    nodes = cp.nodes(1, 3, 2, 100, TrustTier.CRITICAL, 0.95);
    cp.namespace("team", 0, 0);
  }

  @AfterEach
  void tearDown() {
    cp.close();
  }

  private static StorageRequest req(String id, long gib, StorageType type) {
    return StorageRequest.of(id, "team", "default", gib * GIB, type);
  }

  private static void refused(ThrowingCallable call, Reason reason, String message) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            AllocationException.class, e -> assertThat(e.reason()).isEqualTo(reason))
        .hasMessageContaining(message);
  }

  @Test
  void anAllocationReservesOnEveryChosenNodeAndQueuesOneCreateToEach() {
    cp.clock.advance(Duration.ofMinutes(3));
    Allocation a = cp.manager.allocate(req("v", 10, StorageType.CONSENSUS));

    assertThat(a.getReplicasList()).hasSize(3);
    assertThat(a.getReplicasList())
        .extracting(r -> r.getTopologyPath().split("/")[1])
        .doesNotHaveDuplicates(); // three zones
    assertThat(a.getState()).isEqualTo(VolumeState.VOLUME_STATE_CREATING);
    assertThat(a.getReplicasList())
        .extracting(Replica::getState)
        .containsOnly(ReplicaState.REPLICA_STATE_CREATING);
    assertThat(a.getPrimaryNodeId()).isEqualTo(a.getReplicas(0).getNodeId());
    assertThat(a.getCreatedAtUnixMs()).isEqualTo(cp.clock.millis());
    assertThat(a.getClassification()).isEqualTo(ProtoMapping.toProto(Classification.CRITICAL));
    for (String n : nodes) {
      boolean holds = a.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(n));
      assertThat(cp.reserved(n)).isEqualTo(holds ? 10 * GIB : 0);
      List<NodeCommand> q = cp.queue.pending(n);
      if (holds) {
        assertThat(q)
            .singleElement()
            .satisfies(
                c -> {
                  assertThat(c.getCreateReplica().getVolumeId()).isEqualTo("v");
                  assertThat(c.getCreateReplica().getSizeBytes()).isEqualTo(10 * GIB);
                  assertThat(c.getCreateReplica().getPrimaryNodeId())
                      .isEqualTo(a.getPrimaryNodeId());
                  assertThat(c.getCreateReplica().getReplicaNodeIdsList()).hasSize(3);
                  assertThat(c.getCreateReplica().getCapacityLimitBytes()).isEqualTo(100 * GIB);
                });
      } else {
        assertThat(q).isEmpty();
      }
    }
    assertThat(cp.manager.namespaceUsage("team").getUsedBytes()).isEqualTo(10 * GIB);
    assertThat(cp.manager.namespaceUsage("team").getVolumeCount()).isEqualTo(1);
    assertThat(cp.manager.list()).containsExactly(a);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void theSameRequestAgainIsTheSameAllocationAndADifferentOneAConflict() {
    Allocation first = cp.manager.allocate(req("v", 5, StorageType.SERVICE));
    assertThat(cp.manager.allocate(req("v", 5, StorageType.SERVICE))).isEqualTo(first);
    assertThat(cp.manager.namespaceUsage("team").getUsedBytes()).isEqualTo(5 * GIB);
    assertThat(cp.queue.pending(first.getPrimaryNodeId())).hasSize(1);

    refused(
        () -> cp.manager.allocate(req("v", 5, StorageType.SERVICE).withReplicas(3)),
        Reason.CONFLICT,
        "replicaCount 2 vs 3");
    refused(
        () -> cp.manager.allocate(req("v", 6, StorageType.CONSENSUS)),
        Reason.CONFLICT,
        "sizeBytes");
    assertThat(cp.manager.get("v")).contains(first);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void invalidRequestsAreRefusedNamingTheFieldAndWriteNothing() {
    refused(
        () -> cp.manager.allocate(req("v", 0, StorageType.SERVICE)),
        Reason.INVALID_REQUEST,
        "sizeBytes must be > 0");
    refused(
        () ->
            cp.manager.allocate(
                req("v", 1, StorageType.CONSENSUS).withClassification(Classification.PUBLIC)),
        Reason.INVALID_REQUEST,
        "looser than storage type CONSENSUS");
    refused(
        () -> cp.manager.allocate(req("a/b", 1, StorageType.SERVICE)),
        Reason.INVALID_REQUEST,
        "'a/b'");
    assertThat(cp.manager.list()).isEmpty();
    for (String n : nodes) {
      assertThat(cp.queue.pending(n)).isEmpty();
    }
  }

  @Test
  void theNamespacePolicyRefusesWithItsReason() {
    cp.manager.putNamespace(
        NamespaceRecord.newBuilder()
            .setNamespace("strict")
            .addAllowedClassifications(ProtoMapping.toProto(Classification.STANDARD))
            .addAllowedStorageTypes(ProtoMapping.toProto(StorageType.SERVICE))
            .addPools("default")
            .build());
    refused(
        () ->
            cp.manager.allocate(
                StorageRequest.of("x", "nowhere", "default", GIB, StorageType.SERVICE)),
        Reason.NOT_ALLOWED,
        "service namespace nowhere is not known");
    refused(
        () ->
            cp.manager.allocate(
                StorageRequest.of("x", "strict", "default", GIB, StorageType.SERVICE)
                    .withClassification(Classification.CRITICAL)),
        Reason.NOT_ALLOWED,
        "classification CRITICAL is not allowed in service namespace strict (allowed: STANDARD)");
    refused(
        () ->
            cp.manager.allocate(
                StorageRequest.of("x", "strict", "default", GIB, StorageType.DISCOVERY)
                    .withClassification(Classification.STANDARD)),
        Reason.NOT_ALLOWED,
        // The allowed list names the type (today as its proto name, STORAGE_TYPE_SERVICE).
        "storage type DISCOVERY is not allowed in service namespace strict (allowed: ");
    refused(
        () ->
            cp.manager.allocate(StorageRequest.of("x", "strict", "fast", GIB, StorageType.SERVICE)),
        Reason.NOT_ALLOWED,
        "pool fast is not allowed in service namespace strict (allowed: default)");
    assertThat(
            cp.manager.allocate(
                StorageRequest.of("x", "strict", "default", GIB, StorageType.SERVICE)))
        .isNotNull();

    // A deleted namespace takes no new volume; its existing ones stay.
    cp.manager.deleteNamespace("strict");
    assertThat(cp.manager.getNamespace("strict")).isEmpty();
    refused(
        () ->
            cp.manager.allocate(
                StorageRequest.of("y", "strict", "default", GIB, StorageType.SERVICE)),
        Reason.NOT_ALLOWED,
        "not known");
    assertThat(cp.manager.get("x")).isPresent();
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void theQuotaCountsBytesAndVolumesAndARefusalLeavesTheBooksAsTheyWere() {
    cp.namespace("q", 10 * GIB, 2);
    cp.manager.allocate(StorageRequest.of("a", "q", "default", 6 * GIB, StorageType.SERVICE));
    refused(
        () ->
            cp.manager.allocate(
                StorageRequest.of("b", "q", "default", 5 * GIB, StorageType.SERVICE)),
        Reason.QUOTA_EXCEEDED,
        "6442450944 of 10737418240 bytes used");
    cp.manager.allocate(StorageRequest.of("b", "q", "default", 4 * GIB, StorageType.SERVICE));
    assertThat(cp.manager.namespaceUsage("q").getUsedBytes()).isEqualTo(10 * GIB);
    cp.namespace("q", 100 * GIB, 2);
    refused(
        () -> cp.manager.allocate(StorageRequest.of("c", "q", "default", GIB, StorageType.SERVICE)),
        Reason.QUOTA_EXCEEDED,
        "2 of 2 volumes used");
    // Growing counts against the bytes, not the volumes.
    refused(() -> cp.manager.resize("a", 200 * GIB), Reason.QUOTA_EXCEEDED, "bytes used");
    assertThat(cp.manager.resize("a", 7 * GIB).getSizeBytes()).isEqualTo(7 * GIB);
    assertThat(cp.manager.namespaceUsage("q").getUsedBytes()).isEqualTo(11 * GIB);

    // Released volumes give their quota back.
    cp.manager.release("a");
    assertThat(cp.manager.namespaceUsage("q").getUsedBytes()).isEqualTo(4 * GIB);
    assertThat(cp.manager.namespaceUsage("q").getVolumeCount()).isEqualTo(1);
    cp.manager.allocate(StorageRequest.of("c", "q", "default", GIB, StorageType.SERVICE));
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void reservationsMayNotExceedCapacityTimesThePoolsOvercommit() {
    refused(
        () -> cp.manager.allocate(req("big", 150, StorageType.SERVICE)),
        Reason.NO_PLACEMENT,
        "volume big cannot be placed");
    assertThat(cp.manager.get("big")).isEmpty();

    // Overcommit 2.0: a node of 100 GiB may hold 200 GiB of reservations, and its agent is told.
    cp.overcommit.put("default", 2.0);
    Allocation big = cp.manager.allocate(req("big", 150, StorageType.SERVICE));
    for (Replica r : big.getReplicasList()) {
      assertThat(cp.reserved(r.getNodeId())).isEqualTo(150 * GIB);
      assertThat(cp.lastCreate(r.getNodeId(), "big").getCreateReplica().getCapacityLimitBytes())
          .isEqualTo(200 * GIB);
    }
    // Growing counts against the same limit.
    refused(() -> cp.manager.resize("big", 201 * GIB), Reason.NO_PLACEMENT, "bytes left");
    assertThat(cp.manager.resize("big", 200 * GIB).getSizeBytes()).isEqualTo(200 * GIB);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void nodesWhoseTierDoesNotAdmitTheClassificationAreNotChosen() {
    for (String n : nodes) {
      cp.trust.set(n, TrustTier.STANDARD, 0.6);
    }
    refused(
        () -> cp.manager.allocate(req("crit", 1, StorageType.CONSENSUS)),
        Reason.NO_PLACEMENT,
        "cannot be placed");
    cp.trust.set(nodes.get(0), TrustTier.CRITICAL, 0.95);
    cp.trust.set(nodes.get(2), TrustTier.CRITICAL, 0.95);
    cp.trust.set(nodes.get(4), TrustTier.CRITICAL, 0.95);
    Allocation a = cp.manager.allocate(req("crit", 1, StorageType.CONSENSUS));
    assertThat(a.getReplicasList())
        .extracting(Replica::getNodeId)
        .containsExactlyInAnyOrder(nodes.get(0), nodes.get(2), nodes.get(4));
  }

  @Test
  void releaseReturnsReservationsAndQuotaQueuesDeletesAndIsIdempotent() {
    Allocation a = cp.manager.allocate(req("rel", 7, StorageType.SERVICE));
    assertThat(cp.manager.release("rel")).contains(a);
    assertThat(cp.manager.get("rel")).isEmpty();
    for (String n : nodes) {
      assertThat(cp.reserved(n)).isZero();
    }
    assertThat(cp.manager.namespaceUsage("team").getUsedBytes()).isZero();
    assertThat(cp.manager.namespaceUsage("team").getVolumeCount()).isZero();
    for (Replica r : a.getReplicasList()) {
      assertThat(cp.queue.pending(r.getNodeId()))
          .extracting(
              c -> c.hasDeleteReplica() ? "delete " + c.getDeleteReplica().getReason() : "create")
          .containsExactly("create", "delete volume released");
    }
    assertThat(cp.manager.release("rel")).isEmpty();
    for (Replica r : a.getReplicasList()) {
      assertThat(cp.queue.pending(r.getNodeId())).hasSize(2);
    }
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void releaseIfLeavesAVolumeThatNoLongerMatchesAlone() {
    Allocation a = cp.manager.allocate(req("inc", 1, StorageType.SERVICE));
    assertThat(cp.manager.releaseIf("inc", x -> !x.getIncarnation().equals(a.getIncarnation())))
        .isEmpty();
    assertThat(cp.manager.get("inc")).contains(a);
    assertThat(cp.manager.releaseIf("inc", x -> x.getIncarnation().equals(a.getIncarnation())))
        .contains(a);
    assertThat(cp.audit()).isEmpty();
  }

  @Test
  void resizeGrowsOnEveryReplicasNodeAndRefusesToShrinkOrOverfill() {
    Allocation a = cp.manager.allocate(req("g", 2, StorageType.SERVICE));
    cp.clock.advance(Duration.ofSeconds(30));
    Allocation grown = cp.manager.resize("g", 5 * GIB);
    assertThat(grown.getSizeBytes()).isEqualTo(5 * GIB);
    assertThat(grown.getUpdatedAtUnixMs()).isEqualTo(cp.clock.millis());
    for (Replica r : a.getReplicasList()) {
      assertThat(cp.reserved(r.getNodeId())).isEqualTo(5 * GIB);
    }
    assertThat(cp.manager.namespaceUsage("team").getUsedBytes()).isEqualTo(5 * GIB);
    assertThat(cp.manager.resize("g", 5 * GIB)).isEqualTo(grown);

    refused(
        () -> cp.manager.resize("g", GIB), Reason.INVALID_REQUEST, "volumes can grow, not shrink");
    refused(() -> cp.manager.resize("none", GIB), Reason.NOT_FOUND, "volume none does not exist");
    refused(
        () -> cp.manager.resize("g", 101 * GIB),
        Reason.NO_PLACEMENT,
        "cannot grow by " + 96 * GIB + " bytes: node");
    assertThat(cp.manager.get("g")).contains(grown);
    for (Replica r : a.getReplicasList()) {
      assertThat(cp.reserved(r.getNodeId())).isEqualTo(5 * GIB);
    }
    assertThat(cp.audit()).isEmpty();
  }
}
