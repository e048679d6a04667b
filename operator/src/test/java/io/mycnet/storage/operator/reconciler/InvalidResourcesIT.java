package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.crds.v1alpha1.ClaimPhase;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What the schema would let through (the mock server validates nothing, like an API server without
 * the CRD's schema) gets {@code Ready=False} naming the field, and no allocation.
 */
class InvalidResourcesIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  static OperatorHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new OperatorHarness(ETCD.endpoints(), "/invalid");
    h.sampleCluster();
    h.start();
    h.applyDirectory(OperatorHarness.repoRoot().resolve("samples"));
  }

  @AfterAll
  static void close() {
    h.close();
  }

  static <T extends HasMetadata> T yaml(Class<T> type, String text) {
    return Serialization.unmarshal(text, type);
  }

  static Stream<Arguments> invalid() {
    String claim =
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n"
            + "  namespace: mycnet-demo\n  name: %s\nspec:\n  serviceNamespace: payments\n%s";
    String sn =
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: ServiceNamespace\nmetadata:\n"
            + "  namespace: mycnet-demo\n  name: %s\nspec:\n%s";
    String pool =
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StoragePool\nmetadata:\n  name: %s\nspec:\n%s";
    String tp =
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: %s\nspec:\n%s";
    return Stream.of(
        Arguments.of(
            yaml(
                StorageClaim.class,
                claim.formatted("bad-size", "  size: ten-gigs\n  storageType: SERVICE\n")),
            "spec.size: 'ten-gigs' is not a Kubernetes quantity"),
        Arguments.of(
            yaml(
                StorageClaim.class,
                claim.formatted("zero-size", "  size: 0Gi\n  storageType: SERVICE\n")),
            "spec.size: must be greater than 0"),
        Arguments.of(
            yaml(StorageClaim.class, claim.formatted("no-type", "  size: 1Gi\n")),
            "spec.storageType: must be set"),
        Arguments.of(
            yaml(
                StorageClaim.class,
                claim.formatted(
                    "looser-class",
                    "  size: 1Gi\n  storageType: CONSENSUS\n  classification: STANDARD\n")),
            "spec.classification: classification STANDARD is looser than storage type CONSENSUS's CRITICAL"),
        Arguments.of(
            yaml(
                StorageClaim.class,
                claim.formatted(
                    "few-replicas",
                    "  size: 1Gi\n  storageType: INFRASTRUCTURE\n  replication:\n    replicas: 2\n")),
            "spec.replication.replicas: replicaCount 2 is below storage type INFRASTRUCTURE's 3"),
        Arguments.of(
            yaml(
                StorageClaim.class,
                claim.formatted(
                    "many-replicas",
                    "  size: 1Gi\n  storageType: SERVICE\n  replication:\n    replicas: 9\n")),
            "spec.replication.replicas: must be between 1 and 7, was 9"),
        Arguments.of(
            yaml(ServiceNamespace.class, sn.formatted("bad-quota", "  quota:\n    bytes: 10Gx\n")),
            "spec.quota.bytes: '10Gx' is not a Kubernetes quantity"),
        Arguments.of(
            yaml(
                ServiceNamespace.class,
                sn.formatted(
                    "self-share",
                    "  sharing:\n    - claim: x\n      with: [self-share]\n      mode: ReadOnly\n")),
            "spec.sharing[0].with[0]: a service namespace cannot share with itself"),
        Arguments.of(
            yaml(
                ServiceNamespace.class,
                sn.formatted("no-claim", "  sharing:\n    - with: [analytics]\n")),
            "spec.sharing[0].claim: must name the StorageClaim of this namespace that is shared"),
        Arguments.of(
            yaml(
                ServiceNamespace.class,
                sn.formatted(
                    "blank-claim",
                    "  sharing:\n    - claim: payments-config\n      with: [analytics]\n"
                        + "    - claim: ''\n      with: [analytics]\n")),
            "spec.sharing[1].claim: must name the StorageClaim of this namespace that is shared"),
        Arguments.of(
            yaml(
                ServiceNamespace.class,
                sn.formatted(
                    "dup-share",
                    "  sharing:\n    - claim: x\n      with: [analytics]\n"
                        + "    - claim: x\n      with: [payments]\n")),
            "spec.sharing[1].claim: claim x is listed twice; merge the entries"),
        Arguments.of(
            yaml(
                ServiceNamespace.class,
                sn.formatted(
                    "dup-grantee",
                    "  sharing:\n    - claim: x\n      with: [analytics, mycnet-demo/analytics]\n")),
            "spec.sharing[0].with[1]: mycnet-demo/analytics names a ServiceNamespace already listed"),
        Arguments.of(
            yaml(
                ServiceNamespace.class,
                sn.formatted("dup-class", "  allowedClassifications: [PUBLIC, PUBLIC]\n")),
            "spec.allowedClassifications[1]: PUBLIC appears twice"),
        Arguments.of(
            yaml(
                StoragePool.class,
                pool.formatted("dup-levels", "  hierarchyLevels: [region, zone, zone]\n")),
            "spec.hierarchyLevels[2]: level 'zone' appears twice"),
        Arguments.of(
            yaml(
                StoragePool.class,
                pool.formatted(
                    "bad-op",
                    "  nodeSelector:\n    matchExpressions:\n      - key: a\n        operator: Near\n        values: [b]\n")),
            "spec.nodeSelector.matchExpressions[0].operator: 'Near' is not one of In, NotIn"),
        Arguments.of(
            yaml(
                StoragePool.class,
                pool.formatted("rebuilds", "  maxRebuildsPerNode: 8\n  maxRebuildsPerPool: 4\n")),
            "spec.maxRebuildsPerPool: must be at least maxRebuildsPerNode (8), was 4"),
        Arguments.of(
            yaml(
                TrustPolicy.class,
                tp.formatted(
                    "unordered", "  thresholds:\n    critical: 0.6\n    sensitive: 0.7\n")),
            "spec.thresholds: must be in decreasing order CRITICAL > SENSITIVE"),
        Arguments.of(
            yaml(TrustPolicy.class, tp.formatted("neg-weight", "  weights:\n    uptime: -1\n")),
            "spec.weights.uptime: must be >= 0, was -1.0"),
        Arguments.of(
            yaml(TrustPolicy.class, tp.formatted("bad-age", "  vetting:\n    minAge: a day\n")),
            "spec.vetting.minAge: 'a day' is not a duration"),
        Arguments.of(
            yaml(
                TrustPolicy.class,
                tp.formatted(
                    "release",
                    "  quarantineThreshold: 0.99\n  quarantineReleaseThreshold: 0.98\n")),
            "spec.quarantineReleaseThreshold: must be in (quarantineThreshold 0.99, 1], was 0.98"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("invalid")
  void invalidResourceGetsReadyFalseNamingTheFieldAndNoAllocation(
      HasMetadata resource, String message) {
    h.create(resource);
    String got = h.awaitReady(resource, "InvalidSpec");
    assertThat(got).startsWith(message);
    if (resource instanceof StorageClaim c) {
      assertThat(h.claim(c.getMetadata().getName()).getStatus().getPhase())
          .isEqualTo(ClaimPhase.Pending);
      assertThat(h.allocation(c.getMetadata().getName())).isEmpty();
    }
    if (resource instanceof ServiceNamespace s) {
      assertThat(h.cp.manager().getNamespace("mycnet-demo." + s.getMetadata().getName())).isEmpty();
    }
    if (resource instanceof StoragePool p) {
      assertThat(h.cp.pools().get(p.getMetadata().getName())).isEmpty();
    }
  }
}
