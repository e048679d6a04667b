package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.local.LocalApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The manifest directory as a GitOps source, against the mock API server (CRUD mode). */
class ManifestWatcherTest {
  @TempDir Path dir;
  LocalApiServer api;
  KubernetesClient kube;
  ManifestWatcher watcher;

  static final String NAMESPACE =
      """
      apiVersion: v1
      kind: Namespace
      metadata:
        name: shop
      """;

  static String claim(String name, String size) {
    return """
        apiVersion: storage.mycnet.io/v1alpha1
        kind: StorageClaim
        metadata:
          name: %s
          namespace: shop
        spec:
          serviceNamespace: orders
          size: %s
          storageType: SERVICE
        """
        .formatted(name, size);
  }

  static final String POOL =
      """
      apiVersion: storage.mycnet.io/v1alpha1
      kind: StoragePool
      metadata:
        name: core
      spec:
        hierarchyLevels: [region, zone, rack, node]
      """;

  @BeforeEach
  void start() {
    api =
        new LocalApiServer(
            StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
    kube = api.newClient();
    watcher = new ManifestWatcher(kube, dir, dir.resolve("status.out"));
  }

  @AfterEach
  void stop() {
    watcher.close();
    kube.close();
    api.close();
  }

  StorageClaim claimNamed(String name) {
    return kube.resources(StorageClaim.class).inNamespace("shop").withName(name).get();
  }

  @Test
  void appliesEveryFileThenFollowsChangesAndDeletions() throws Exception {
    Files.writeString(dir.resolve("00-ns.yaml"), NAMESPACE);
    Files.writeString(dir.resolve("10-pool.yml"), POOL);
    Files.writeString(
        dir.resolve("20-claims.yaml"), claim("a", "1Gi") + "---\n" + claim("b", "2Gi"));
    Files.writeString(dir.resolve("notes.txt"), "not a manifest");
    Map<Path, ManifestWatcher.FileState> s = watcher.sync();
    assertThat(s).hasSize(3).allSatisfy((f, st) -> assertThat(st.error()).isNull());
    assertThat(kube.resources(Namespace.class).withName("shop").get()).isNotNull();
    assertThat(kube.resources(StoragePool.class).withName("core").get()).isNotNull();
    assertThat(claimNamed("a").getSpec().getSize().toString()).isEqualTo("1Gi");
    assertThat(claimNamed("b")).isNotNull();

    // A pass without changes changes nothing: same resource version.
    String version = claimNamed("a").getMetadata().getResourceVersion();
    watcher.sync();
    assertThat(claimNamed("a").getMetadata().getResourceVersion()).isEqualTo(version);

    // Change a and drop b from the file: a is updated, b deleted.
    Files.writeString(dir.resolve("20-claims.yaml"), claim("a", "3Gi"));
    watcher.sync();
    assertThat(claimNamed("a").getSpec().getSize().toString()).isEqualTo("3Gi");
    assertThat(claimNamed("b")).isNull();

    // Delete the file: its resources go; the others stay.
    Files.delete(dir.resolve("20-claims.yaml"));
    watcher.sync();
    assertThat(claimNamed("a")).isNull();
    assertThat(kube.resources(StoragePool.class).withName("core").get()).isNotNull();
    assertThat(ManifestWatcher.readStatus(dir.resolve("status.out")))
        .containsOnlyKeys("00-ns.yaml", "10-pool.yml");
  }

  @Test
  void anInvalidFileIsReportedAndItsPreviousStateKept() throws Exception {
    Files.writeString(dir.resolve("00-ns.yaml"), NAMESPACE);
    Files.writeString(
        dir.resolve("20-claims.yaml"), claim("a", "1Gi") + "---\n" + claim("b", "2Gi"));
    watcher.sync();

    // Broken YAML: nothing of the new version applies, a and b stay as they were.
    Files.writeString(dir.resolve("20-claims.yaml"), claim("a", "5Gi") + "  : : [unclosed\n");
    Map<Path, ManifestWatcher.FileState> s = watcher.sync();
    assertThat(s.get(dir.resolve("20-claims.yaml")).error()).contains("not valid YAML");
    assertThat(claimNamed("a").getSpec().getSize().toString()).isEqualTo("1Gi");
    assertThat(claimNamed("b")).isNotNull();

    // A field of the wrong type: named, and the whole file refused (a stays at 1Gi).
    Files.writeString(
        dir.resolve("20-claims.yaml"),
        claim("a", "5Gi")
            + "---\n"
            + claim("b", "2Gi").replace("storageType: SERVICE", "replication: {replicas: three}"));
    s = watcher.sync();
    assertThat(s.get(dir.resolve("20-claims.yaml")).error())
        .contains("document 2")
        .contains("spec.replication.replicas")
        .contains("three");
    assertThat(claimNamed("a").getSpec().getSize().toString()).isEqualTo("1Gi");

    // A kind local mode does not serve, and a document without a name.
    Files.writeString(
        dir.resolve("30-deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
    Files.writeString(
        dir.resolve("40-noname.yaml"),
        "apiVersion: storage.mycnet.io/v1alpha1\nkind: StoragePool\nspec: {}\n");
    s = watcher.sync();
    assertThat(s.get(dir.resolve("30-deploy.yaml")).error())
        .contains("apps/v1/Deployment is not served");
    assertThat(s.get(dir.resolve("40-noname.yaml")).error()).contains("metadata.name is required");
    assertThat(ManifestWatcher.readStatus(dir.resolve("status.out")).get("30-deploy.yaml")[0])
        .isEqualTo("error");

    // Fixed: applied.
    Files.writeString(dir.resolve("20-claims.yaml"), claim("a", "5Gi"));
    s = watcher.sync();
    assertThat(s.get(dir.resolve("20-claims.yaml")).error()).isNull();
    assertThat(claimNamed("a").getSpec().getSize().toString()).isEqualTo("5Gi");
    assertThat(claimNamed("b")).isNull();
  }

  /**
   * Local mode across a stop: the stand-in API comes back empty, the applied record (a real file)
   * says what the previous run applied. A file removed while stopped has its objects deleted; a
   * document dropped from a file too; a file broken while stopped keeps what it applied before.
   */
  @Test
  void whatWasRemovedWhileStoppedIsDeletedAtTheNextStart() throws Exception {
    Path manifests = Files.createDirectory(dir.resolve("manifests"));
    Path record = dir.resolve("manifests.applied");
    Files.writeString(manifests.resolve("00-ns.yaml"), NAMESPACE);
    Files.writeString(manifests.resolve("10-pool.yaml"), POOL);
    Files.writeString(
        manifests.resolve("20-claims.yaml"), claim("a", "1Gi") + "---\n" + claim("b", "2Gi"));
    Files.writeString(manifests.resolve("30-c.yaml"), claim("c", "1Gi"));
    Files.writeString(manifests.resolve("40-d.yaml"), claim("d", "1Gi"));
    try (ManifestWatcher first = new ManifestWatcher(kube, manifests, null, record)) {
      first.sync();
    }
    assertThat(record).exists();
    assertThat(claimNamed("c")).isNotNull();

    // Stopped: c's file removed, b dropped from its file, d's file broken.
    Files.delete(manifests.resolve("30-c.yaml"));
    Files.writeString(manifests.resolve("20-claims.yaml"), claim("a", "1Gi"));
    Files.writeString(manifests.resolve("40-d.yaml"), claim("d", "2Gi") + "  : : [unclosed\n");

    // The same API (objects still there): the removals are seen and applied.
    try (ManifestWatcher again = new ManifestWatcher(kube, manifests, null, record)) {
      Map<Path, ManifestWatcher.FileState> s = again.sync();
      assertThat(s).doesNotContainKey(manifests.resolve("30-c.yaml"));
      assertThat(claimNamed("c")).isNull();
      assertThat(claimNamed("b")).isNull();
      assertThat(claimNamed("a")).isNotNull();
      assertThat(claimNamed("d").getSpec().getSize().toString()).isEqualTo("1Gi");
      assertThat(s.get(manifests.resolve("40-d.yaml")).error()).contains("not valid YAML");
    }

    // A fresh, empty API (the stand-in API after a restart): what exists is applied, d's last
    // good version is put back although its file is still broken, and c and b stay gone.
    kube.close();
    api.close();
    api =
        new LocalApiServer(
            StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
    kube = api.newClient();
    watcher = new ManifestWatcher(kube, dir, null);
    try (ManifestWatcher restarted = new ManifestWatcher(kube, manifests, null, record)) {
      restarted.sync();
      assertThat(kube.resources(Namespace.class).withName("shop").get()).isNotNull();
      assertThat(kube.resources(StoragePool.class).withName("core").get()).isNotNull();
      assertThat(claimNamed("a")).isNotNull();
      assertThat(claimNamed("d").getSpec().getSize().toString()).isEqualTo("1Gi");
      assertThat(claimNamed("b")).isNull();
      assertThat(claimNamed("c")).isNull();

      // Removed while stopped, with nothing of it left in the API: nothing to delete, no error,
      // and the record forgets it.
      Files.delete(manifests.resolve("20-claims.yaml"));
    }
    kube.resources(StorageClaim.class).inNamespace("shop").withName("a").delete();
    try (ManifestWatcher last = new ManifestWatcher(kube, manifests, null, record)) {
      assertThat(last.sync())
          .containsOnlyKeys(
              manifests.resolve("00-ns.yaml"),
              manifests.resolve("10-pool.yaml"),
              manifests.resolve("40-d.yaml"));
      assertThat(claimNamed("a")).isNull();
    }
    assertThat(Files.readString(record)).doesNotContain("20-claims.yaml");
    assertThat(record.resolveSibling("manifests.applied.tmp")).doesNotExist();
  }

  @Test
  void anUnreadableRecordIsReportedAndTheDirectoryStillApplied() throws Exception {
    Path manifests = Files.createDirectory(dir.resolve("manifests"));
    Path record = dir.resolve("manifests.applied");
    Files.writeString(record, "{ not json");
    Files.writeString(manifests.resolve("00-ns.yaml"), NAMESPACE);
    try (ManifestWatcher w = new ManifestWatcher(kube, manifests, null, record)) {
      assertThat(w.sync()).hasSize(1);
    }
    assertThat(kube.resources(Namespace.class).withName("shop").get()).isNotNull();
    assertThat(Files.readString(record)).contains("00-ns.yaml");
  }

  @Test
  void everySampleManifestParses() throws Exception {
    Path samples = Path.of("..", "samples");
    try (var files = Files.list(samples)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).toList()) {
        assertThat(watcher.parse(Files.readAllBytes(f))).as(f.toString()).isNotEmpty();
      }
    }
  }
}
