package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * Against a real API server: the generated CRDs are accepted (structural schemas) and their OpenAPI
 * validation rejects what the mock server lets through. Needs a real kube-apiserver, which cannot
 * be installed or downloaded here (kube-api-test fetches its binaries on first use): point {@code
 * MYCNET_IT_KUBECONFIG} at a disposable cluster to run it; otherwise it is skipped and says so.
 */
@EnabledIfEnvironmentVariable(
    named = "MYCNET_IT_KUBECONFIG",
    matches = ".+",
    disabledReason =
        "needs a real API server (none can be installed here): set MYCNET_IT_KUBECONFIG to a"
            + " disposable cluster's kubeconfig to run it")
class RealApiServerIT {

  @Test
  void generatedCrdsAreAcceptedAndValidateClaims() throws Exception {
    Config config =
        Config.fromKubeconfig(Files.readString(Path.of(System.getenv("MYCNET_IT_KUBECONFIG"))));
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      try (Stream<Path> files = Files.list(OperatorHarness.repoRoot().resolve("config/crd"))) {
        for (Path f : files.filter(p -> p.toString().endsWith("-v1.yml")).toList()) {
          try (InputStream in = Files.newInputStream(f)) {
            CustomResourceDefinition crd =
                client.apiextensions().v1().customResourceDefinitions().load(in).item();
            client.resource(crd).serverSideApply();
            client
                .resource(crd)
                .waitUntilCondition(
                    c ->
                        c.getStatus() != null
                            && c.getStatus().getConditions().stream()
                                .anyMatch(
                                    x ->
                                        x.getType().equals("Established")
                                            && x.getStatus().equals("True")),
                    60,
                    TimeUnit.SECONDS);
          }
        }
      }
      StorageClaim tooMany =
          Serialization.unmarshal(
              "apiVersion: storage.mycnet.io/v1alpha1\nkind: StorageClaim\nmetadata:\n  name: x\n"
                  + "  namespace: default\nspec:\n  serviceNamespace: s\n  size: 1Gi\n"
                  + "  storageType: SERVICE\n  replication:\n    replicas: 9\n",
              StorageClaim.class);
      assertThatThrownBy(() -> client.resource(tooMany).create())
          .isInstanceOf(KubernetesClientException.class)
          .hasMessageContaining("spec.replication.replicas");
      assertThat(client.resources(StorageClaim.class).inNamespace("default").list().getItems())
          .isEmpty();
    }
  }
}
