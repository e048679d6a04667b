package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.servicenamespace.ServiceNamespaceMapper;
import io.mycnet.storage.operator.reconciler.storageclaim.StorageClaimMapper;
import io.mycnet.storage.operator.reconciler.storagepool.StoragePoolMapper;
import io.mycnet.storage.operator.reconciler.trustpolicy.TrustPolicyMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Golden files for what the manifests mean: every sample mapped to the domain objects the control
 * plane acts on, compared with {@code src/test/resources/golden/samples-mapped.txt} (regenerate
 * with {@code -Dgolden.update=true} and review the diff), plus the consistency of the deployable
 * manifests under {@code config/} with the CRDs and the operator.
 */
class ManifestsGoldenTest {
  private static final Path ROOT = OperatorHarness.repoRoot();
  private static final Path GOLDEN =
      ROOT.resolve("operator/src/test/resources/golden/samples-mapped.txt");

  static List<HasMetadata> samples() throws IOException {
    List<HasMetadata> out = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> s = Files.list(ROOT.resolve("samples"))) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    for (Path f : files) {
      for (String doc : Files.readString(f).split("(?m)^---\\s*$")) {
        if (doc.isBlank() || !doc.contains("kind:")) {
          continue;
        }
        GenericKubernetesResource g = Serialization.unmarshal(doc, GenericKubernetesResource.class);
        Class<? extends HasMetadata> type =
            switch (g.getKind()) {
              case "StoragePool" -> StoragePool.class;
              case "TrustPolicy" -> TrustPolicy.class;
              case "ServiceNamespace" -> ServiceNamespace.class;
              case "StorageClaim" -> StorageClaim.class;
              default -> null;
            };
        if (type != null) {
          out.add(Serialization.unmarshal(doc, type));
        }
      }
    }
    return out;
  }

  @Test
  void samplesMapToTheGoldenDomainObjects() throws IOException {
    PoolDirectory pools = new PoolDirectory();
    Map<String, ServiceNamespace> sns = new HashMap<>();
    StringBuilder sb = new StringBuilder();
    List<HasMetadata> all = samples();
    for (HasMetadata r : all) {
      if (r instanceof StoragePool p) {
        var def = StoragePoolMapper.toDefinition(p);
        pools.put(def);
        sb.append("StoragePool ")
            .append(p.getMetadata().getName())
            .append(" -> ")
            .append(def)
            .append('\n');
      } else if (r instanceof ServiceNamespace s) {
        sns.put(s.getMetadata().getName(), s);
        sb.append("ServiceNamespace ")
            .append(s.getMetadata().getName())
            .append(" -> ")
            .append(ServiceNamespaceMapper.toRecord(s).toString().replace('\n', ' ').trim())
            .append('\n');
      } else if (r instanceof TrustPolicy t) {
        var policy = TrustPolicyMapper.toPolicy(t.getSpec());
        assertThat(policy)
            .as("the sample default TrustPolicy spells out the engine's defaults")
            .isEqualTo(io.mycnet.storage.operator.trust.TrustPolicy.defaults());
        sb.append("TrustPolicy ")
            .append(t.getMetadata().getName())
            .append(" -> ")
            .append(policy)
            .append('\n');
      }
    }
    for (HasMetadata r : all) {
      if (r instanceof StorageClaim c) {
        var req =
            StorageClaimMapper.toRequest(
                c, sns.get(c.getSpec().getServiceNamespace()), pools, Optional.empty());
        sb.append("StorageClaim ")
            .append(c.getMetadata().getName())
            .append(" -> ")
            .append(req.effective())
            .append('\n');
      }
    }
    String actual = sb.toString();
    if (Boolean.getBoolean("golden.update") || !Files.exists(GOLDEN)) {
      Files.writeString(GOLDEN, actual);
    }
    assertThat(actual)
        .as(
            "samples map differently than %s records (rerun with -Dgolden.update=true and review)",
            GOLDEN)
        .isEqualTo(Files.readString(GOLDEN));
  }

  @Test
  void everyGeneratedCrdIsInTheKustomization() throws IOException {
    TreeSet<String> files = new TreeSet<>();
    try (Stream<Path> s = Files.list(ROOT.resolve("config/crd"))) {
      s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("-v1.yml")).forEach(files::add);
    }
    assertThat(files)
        .containsExactlyInAnyOrder(
            "storagepools.storage.mycnet.io-v1.yml",
            "trustpolicies.storage.mycnet.io-v1.yml",
            "servicenamespaces.storage.mycnet.io-v1.yml",
            "storageclaims.storage.mycnet.io-v1.yml");
    String kustomization = Files.readString(ROOT.resolve("config/crd/kustomization.yaml"));
    files.forEach(f -> assertThat(kustomization).contains("- " + f));
    String top = Files.readString(ROOT.resolve("config/kustomization.yaml"));
    for (String dir : List.of("crd", "rbac", "etcd", "operator", "agent", "csi")) {
      assertThat(top).contains("- " + dir);
      assertThat(ROOT.resolve("config").resolve(dir).resolve("kustomization.yaml")).exists();
    }
  }

  @Test
  void theOperatorsRoleGrantsWhatItUsesOnEveryResourceAndNothingElse() throws IOException {
    ClusterRole role;
    try (InputStream in =
        Files.newInputStream(ROOT.resolve("config/rbac/operator_cluster_role.yaml"))) {
      role = Serialization.unmarshal(in, ClusterRole.class);
    }
    for (Class<? extends HasMetadata> type :
        List.of(StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class)) {
      String plural = HasMetadata.getPlural(type);
      assertThat(verbs(role, "storage.mycnet.io", plural))
          .containsExactlyInAnyOrder("get", "list", "watch", "patch", "update");
      assertThat(verbs(role, "storage.mycnet.io", plural + "/status"))
          .containsExactlyInAnyOrder("get", "patch", "update");
      assertThat(verbs(role, "storage.mycnet.io", plural + "/finalizers"))
          .containsExactly("update");
    }
    assertThat(verbs(role, "", "events")).containsExactlyInAnyOrder("create", "patch");
    for (PolicyRule r : role.getRules()) {
      assertThat(r.getVerbs()).doesNotContain("*", "delete", "deletecollection");
      assertThat(r.getResources()).doesNotContain("*", "secrets");
    }
  }

  /** etcd serves without authentication: only the operator's pods may reach its client port. */
  @Test
  void onlyTheOperatorReachesEtcd() throws IOException {
    String kustomization = Files.readString(ROOT.resolve("config/etcd/kustomization.yaml"));
    assertThat(kustomization).contains("- networkpolicy.yaml");
    NetworkPolicy policy;
    try (InputStream in = Files.newInputStream(ROOT.resolve("config/etcd/networkpolicy.yaml"))) {
      policy = Serialization.unmarshal(in, NetworkPolicy.class);
    }
    String operatorName;
    try (InputStream in = Files.newInputStream(ROOT.resolve("config/operator/deployment.yaml"))) {
      operatorName =
          Serialization.unmarshal(in, io.fabric8.kubernetes.api.model.apps.Deployment.class)
              .getSpec()
              .getTemplate()
              .getMetadata()
              .getLabels()
              .get("app.kubernetes.io/name");
    }
    assertThat(policy.getSpec().getPolicyTypes()).containsExactly("Ingress");
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .containsEntry("app.kubernetes.io/name", "mycnet-etcd");
    var client =
        policy.getSpec().getIngress().stream()
            .filter(r -> r.getPorts().get(0).getPort().getIntVal() == 2379)
            .toList();
    assertThat(client).hasSize(1);
    assertThat(client.get(0).getFrom())
        .singleElement()
        .satisfies(
            f ->
                assertThat(f.getPodSelector().getMatchLabels())
                    .containsExactly(Map.entry("app.kubernetes.io/name", operatorName)));
  }

  @Test
  void theDeploymentProbesTheHealthEndpointsOnTheMetricsPort() throws IOException {
    String deployment = Files.readString(ROOT.resolve("config/operator/deployment.yaml"));
    assertThat(deployment)
        .contains("path: /livez", "path: /readyz", "name: MYCNET_HTTP_PORT", "containerPort: 8080")
        .contains(
            "io.mycnet.storage.operator.OperatorMain",
            "MYCNET_LEADER_ELECTION",
            "serviceAccountName: mycnet-operator");
  }

  private static List<String> verbs(ClusterRole role, String group, String resource) {
    List<String> out = new ArrayList<>();
    for (PolicyRule r : role.getRules()) {
      if (r.getApiGroups().contains(group) && r.getResources().contains(resource)) {
        out.addAll(r.getVerbs());
      }
    }
    return out;
  }
}
