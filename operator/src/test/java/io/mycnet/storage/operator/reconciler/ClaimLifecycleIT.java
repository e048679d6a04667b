package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Namespace policy, quota and placement refusals leave claims Pending with the reason; deletes
 * release what they must and keep what they must.
 */
class ClaimLifecycleIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final long GIB = OperatorHarness.GIB;

  static OperatorHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new OperatorHarness(ETCD.endpoints(), "/lifecycle");
    h.sampleCluster();
    h.start();
    h.applyDirectory(OperatorHarness.repoRoot().resolve("samples"));
    h.awaitPhase("payments-consensus", ClaimPhase.Bound);
  }

  @AfterAll
  static void close() {
    h.close();
  }

  @AfterEach
  void consistent() {
    assertThat(AllocationAudit.check(h.cp.store(), h.cp.keys())).isEmpty();
  }

  static ServiceNamespace serviceNamespace(String name, String spec) {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: ServiceNamespace\nmetadata:\n"
            + "  namespace: mycnet-demo\n  name: "
            + name
            + "\nspec:\n"
            + spec,
        ServiceNamespace.class);
  }

  static StorageClaim claim(String name, String sn, String spec) {
    return Serialization.unmarshal(
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n"
            + "  namespace: mycnet-demo\n  name: "
            + name
            + "\nspec:\n  serviceNamespace: "
            + sn
            + "\n"
            + spec,
        StorageClaim.class);
  }

  @Test
  void aClassificationTheNamespaceDoesNotAllowStaysPending() {
    h.create(
        serviceNamespace(
            "public-only", "  allowedClassifications: [STANDARD, PUBLIC]\n  pools: [core]\n"));
    StorageClaim c =
        h.create(claim("too-secret", "public-only", "  size: 1Gi\n  storageType: CONSENSUS\n"));
    String message = h.awaitReady(c, "NotAllowed");
    assertThat(message)
        .isEqualTo(
            "classification CRITICAL is not allowed in service namespace mycnet-demo.public-only"
                + " (allowed: STANDARD, PUBLIC)");
    assertThat(h.claim("too-secret").getStatus().getPhase()).isEqualTo(ClaimPhase.Pending);
    assertThat(h.allocation("too-secret")).isEmpty();
  }

  @Test
  void aClaimOverQuotaStaysPendingUntilQuotaIsFreedByADelete() {
    h.create(serviceNamespace("small", "  quota:\n    bytes: 10Gi\n  pools: [core]\n"));
    h.create(claim("first", "small", "  size: 8Gi\n  storageType: SERVICE\n"));
    h.awaitPhase("first", ClaimPhase.Bound);
    StorageClaim second =
        h.create(claim("second", "small", "  size: 8Gi\n  storageType: SERVICE\n"));
    assertThat(h.awaitReady(second, "QuotaExceeded")).contains("quota");
    assertThat(h.claim("second").getStatus().getPhase()).isEqualTo(ClaimPhase.Pending);
    assertThat(h.allocation("second")).isEmpty();

    // Deleting the first claim releases its allocation (finalizer), which frees the quota.
    h.client.resource(h.claim("first")).delete();
    await().atMost(Duration.ofSeconds(20)).until(() -> h.allocation("first").isEmpty());
    await().atMost(Duration.ofSeconds(20)).until(() -> h.claim("first") == null);
    h.awaitPhase("second", ClaimPhase.Bound);
    assertThat(h.cp.manager().namespaceUsage("mycnet-demo.small").getUsedBytes())
        .isEqualTo(8 * GIB);
  }

  @Test
  void aClaimNoNodeOfItsPoolMayHoldStaysPendingWithThePlacementExplanation() {
    h.create(serviceNamespace("edge-only", "  pools: [edge]\n"));
    StorageClaim c =
        h.create(claim("edge-secret", "edge-only", "  size: 1Gi\n  storageType: INFRASTRUCTURE\n"));
    assertThat(h.awaitReady(c, "NoPlacement"))
        .contains("storage pool edge does not accept SENSITIVE data");
    assertThat(h.allocation("edge-secret")).isEmpty();
  }

  @Test
  void growingTheSizeResizesTheVolume() {
    h.create(serviceNamespace("growing", "  pools: [core]\n"));
    h.create(claim("grows", "growing", "  size: 1Gi\n  storageType: SERVICE\n"));
    h.awaitPhase("grows", ClaimPhase.Bound);
    StorageClaim c = h.claim("grows");
    c.getSpec().setSize(new Quantity("3Gi"));
    h.client.resource(c).update();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> h.allocation("grows").map(Allocation::getSizeBytes).orElse(0L) == 3 * GIB);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> h.claim("grows").getStatus().getSizeBytes() == 3 * GIB);

    StorageClaim shrink = h.claim("grows");
    shrink.getSpec().setSize(new Quantity("2Gi"));
    h.client.resource(shrink).update();
    assertThat(h.awaitReady(shrink, "InvalidSpec"))
        .startsWith("spec.size: volumes grow, never shrink");
    assertThat(h.claim("grows").getStatus().getPhase()).isEqualTo(ClaimPhase.Bound);
    assertThat(h.allocation("grows").orElseThrow().getSizeBytes()).isEqualTo(3 * GIB);
  }

  @Test
  void deletingAServiceNamespaceWithDeleteReleasesAllItsVolumes() {
    h.create(serviceNamespace("doomed", "  pools: [core]\n  deletionPolicy: Delete\n"));
    for (String n : List.of("d1", "d2", "d3")) {
      h.create(claim(n, "doomed", "  size: 1Gi\n  storageType: SERVICE\n"));
    }
    for (String n : List.of("d1", "d2", "d3")) {
      h.awaitPhase(n, ClaimPhase.Bound);
    }
    h.client.resource(h.serviceNamespace("doomed")).delete();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                h.cp.manager().list().stream()
                    .noneMatch(a -> a.getNamespace().equals("mycnet-demo.doomed")));
    await().atMost(Duration.ofSeconds(20)).until(() -> h.serviceNamespace("doomed") == null);
    assertThat(h.cp.manager().getNamespace("mycnet-demo.doomed")).isEmpty();
    // The claims say what happened to their volumes, and cannot re-allocate.
    for (String n : List.of("d1", "d2", "d3")) {
      h.awaitPhase(n, ClaimPhase.Released);
      assertThat(h.allocation(n)).isEmpty();
    }
  }

  @Test
  void deletingAServiceNamespaceWithRetainKeepsItsVolumes() {
    h.create(serviceNamespace("kept", "  pools: [core]\n  deletionPolicy: Retain\n"));
    for (String n : List.of("k1", "k2")) {
      h.create(claim(n, "kept", "  size: 1Gi\n  storageType: SERVICE\n"));
    }
    for (String n : List.of("k1", "k2")) {
      h.awaitPhase(n, ClaimPhase.Bound);
    }
    h.client.resource(h.serviceNamespace("kept")).delete();
    await().atMost(Duration.ofSeconds(20)).until(() -> h.serviceNamespace("kept") == null);
    assertThat(h.allocation("k1")).isPresent();
    assertThat(h.allocation("k2")).isPresent();
    assertThat(h.awaitReady(h.claim("k1"), "ServiceNamespaceNotFound")).contains("kept");
    assertThat(h.claim("k1").getStatus().getPhase()).isEqualTo(ClaimPhase.Bound);
  }
}
