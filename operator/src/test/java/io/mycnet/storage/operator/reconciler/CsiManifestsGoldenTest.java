package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.mycnet.storage.common.settings.Setting;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.ConsistencyLevel;
import io.mycnet.storage.operator.model.ReplicationStrategy;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.reconciler.servicenamespace.ServiceNamespaceMapper;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster deployment of the CSI driver, checked without an API server: {@code config/} (and
 * {@code config/} with the snapshot component, and {@code samples/kubernetes/}) rendered with
 * kustomize's semantics ({@link KustomizeRendering}) and compared object by object with the golden
 * files under {@code src/test/resources/golden/} (regenerate with {@code -Dgolden.update=true} and
 * review the diff); then what must hold between the manifests and the code: the driver's name, the
 * StorageClass parameters, the sidecars' sockets, the settings, the sidecars' RBAC. Where kubectl
 * is installed, the rendering is also compared with {@code kubectl kustomize}.
 */
class CsiManifestsGoldenTest {
  private static final Path ROOT = OperatorHarness.repoRoot();
  private static final Path CONFIG = ROOT.resolve("config");
  private static final Path SNAPSHOTS = CONFIG.resolve("csi/snapshots");
  private static final Path SAMPLES = ROOT.resolve("samples/kubernetes");
  private static final Path GOLDEN = ROOT.resolve("operator/src/test/resources/golden");

  private static final String SIG_STORAGE = "registry.k8s.io/sig-storage/";

  /** Each sidecar's image and the major version of the CSI 1.9 era it is pinned to. */
  private static final Map<String, Integer> SIDECAR_MAJOR =
      Map.of(
          "csi-provisioner", 5,
          "csi-attacher", 4,
          "csi-resizer", 1,
          "csi-snapshotter", 8,
          "livenessprobe", 2,
          "csi-node-driver-registrar", 2);

  /**
   * What each controller sidecar does with the Kubernetes API (group, resource, verbs), cluster
   * wide; each also holds a Lease in its own namespace for its leader election.
   */
  private static final Map<String, List<Grant>> SIDECAR_RBAC =
      Map.of(
          "csi-provisioner",
          List.of(
              new Grant("", "persistentvolumes", "get", "list", "watch", "create", "delete"),
              new Grant("", "persistentvolumeclaims", "get", "list", "watch", "update"),
              new Grant("storage.k8s.io", "storageclasses", "get", "list", "watch"),
              new Grant("", "events", "list", "watch", "create", "update", "patch"),
              new Grant("storage.k8s.io", "csinodes", "get", "list", "watch"),
              new Grant("", "nodes", "get", "list", "watch"),
              new Grant("storage.k8s.io", "volumeattachments", "get", "list", "watch")),
          "csi-attacher",
          List.of(
              new Grant("", "persistentvolumes", "get", "list", "watch", "patch"),
              new Grant("storage.k8s.io", "csinodes", "get", "list", "watch"),
              new Grant("storage.k8s.io", "volumeattachments", "get", "list", "watch", "patch"),
              new Grant("storage.k8s.io", "volumeattachments/status", "patch")),
          "csi-resizer",
          List.of(
              new Grant("", "persistentvolumes", "get", "list", "watch", "patch"),
              new Grant("", "persistentvolumeclaims", "get", "list", "watch"),
              new Grant("", "persistentvolumeclaims/status", "patch"),
              new Grant("", "pods", "get", "list", "watch"),
              new Grant("", "events", "list", "watch", "create", "update", "patch")),
          "csi-snapshotter",
          List.of(
              new Grant("", "events", "list", "watch", "create", "update", "patch"),
              new Grant("snapshot.storage.k8s.io", "volumesnapshotclasses", "get", "list", "watch"),
              new Grant(
                  "snapshot.storage.k8s.io",
                  "volumesnapshotcontents",
                  "get",
                  "list",
                  "watch",
                  "update",
                  "patch"),
              new Grant(
                  "snapshot.storage.k8s.io", "volumesnapshotcontents/status", "update", "patch"),
              new Grant(
                  "snapshot.storage.k8s.io",
                  "volumesnapshots",
                  "get",
                  "list",
                  "watch",
                  "update",
                  "patch")),
          "livenessprobe",
          List.of(),
          "csi-node-driver-registrar",
          List.of());

  private static final Grant LEADER_LEASE =
      new Grant(
          "coordination.k8s.io", "leases", "get", "watch", "list", "delete", "update", "create");

  private static final Set<String> CONTROLLER_SIDECARS =
      Set.of("csi-provisioner", "csi-attacher", "csi-resizer", "livenessprobe");

  record Grant(String group, String resource, Set<String> verbs) {
    Grant(String group, String resource, String... verbs) {
      this(group, resource, Set.of(verbs));
    }
  }

  // ---------------------------------------------------------------- golden files

  @Test
  void configRendersToItsGoldenFile() throws Exception {
    assertGolden("config.yaml", KustomizeRendering.render(CONFIG));
  }

  @Test
  void configWithTheSnapshotComponentRendersToItsGoldenFile() throws Exception {
    assertGolden("config-snapshots.yaml", KustomizeRendering.render(CONFIG, SNAPSHOTS));
  }

  @Test
  void kubernetesSamplesRenderToTheirGoldenFile() throws Exception {
    assertGolden("samples-kubernetes.yaml", KustomizeRendering.render(SAMPLES));
  }

  /** The rendering is kustomize's own: where kubectl is installed, the two must be equal. */
  @Test
  void theRenderingEqualsKubectlKustomize() throws Exception {
    Path kubectl = onPath("kubectl");
    Assumptions.assumeTrue(kubectl != null, "kubectl is not installed: no comparison with it");
    assertThat(numbers(KustomizeRendering.render(CONFIG))).isEqualTo(kubectl(kubectl, CONFIG));
    assertThat(numbers(KustomizeRendering.render(SAMPLES))).isEqualTo(kubectl(kubectl, SAMPLES));
    // A kustomization adding the component to config/, where kustomize needs one: under target/.
    Path overlay = ROOT.resolve("operator/target/kustomize-snapshots");
    Files.createDirectories(overlay);
    Files.writeString(
        overlay.resolve("kustomization.yaml"),
        "resources:\n  - ../../../config\ncomponents:\n  - ../../../config/csi/snapshots\n");
    assertThat(numbers(KustomizeRendering.render(CONFIG, SNAPSHOTS)))
        .isEqualTo(kubectl(kubectl, overlay));
  }

  @Test
  void whatTheRendererDoesNotKnowFailsNamingIt(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("kustomization.yaml"), "namespace: elsewhere\nresources: []\n");
    assertThatThrownBy(() -> KustomizeRendering.render(dir))
        .hasMessageContaining("'namespace' is not rendered here");
    Files.writeString(
        dir.resolve("kustomization.yaml"),
        "resources: [ns.yaml]\npatches:\n  - target: {kind: Namespace}\n"
            + "    patch: '[{op: move, path: /a, from: /b}]'\n");
    Files.writeString(
        dir.resolve("ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    assertThatThrownBy(() -> KustomizeRendering.render(dir))
        .hasMessageContaining("op 'move' is not rendered here");
  }

  // ---------------------------------------------------------------- the driver

  @Test
  void theCsiDriverIsStorageMycnetIoWithAttachmentsAndPodInfo() {
    Map<String, Object> driver = only(KustomizeRendering.render(CONFIG), "CSIDriver");
    assertThat(KustomizeRendering.name(driver)).isEqualTo(CsiNames.DRIVER_NAME);
    assertThat(map(driver, "spec"))
        .containsEntry("attachRequired", true)
        .containsEntry("podInfoOnMount", true)
        .containsEntry("fsGroupPolicy", "File")
        .containsEntry("volumeLifecycleModes", List.of("Persistent"))
        .containsEntry("requiresRepublish", false)
        .containsEntry("storageCapacity", false);
  }

  @Test
  void oneStorageClassPerClassificationWithTheControllersParameters() throws IOException {
    Set<String> pools = samplePools();
    List<Map<String, Object>> classes = all(KustomizeRendering.render(SAMPLES), "StorageClass");
    Map<Classification, Integer> replicas =
        Map.of(
            Classification.CRITICAL, 3,
            Classification.SENSITIVE, 3,
            Classification.STANDARD, 2,
            Classification.PUBLIC, 1);
    assertThat(classes.stream().map(KustomizeRendering::name))
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(Classification.values())
                .map(c -> "mycnet-" + c.name().toLowerCase(Locale.ROOT))
                .toList());
    for (Map<String, Object> sc : classes) {
      String name = KustomizeRendering.name(sc);
      assertThat(sc.get("provisioner")).as(name).isEqualTo(CsiNames.DRIVER_NAME);
      assertThat(sc)
          .as(name)
          .containsEntry("volumeBindingMode", "WaitForFirstConsumer")
          .containsEntry("allowVolumeExpansion", true)
          .containsEntry("reclaimPolicy", "Delete");
      Map<String, Object> params = map(sc, "parameters");
      for (String key : params.keySet()) {
        assertThat(CsiNames.PARAMETERS.contains(key) || key.startsWith("csi.storage.k8s.io/"))
            .as(
                "%s: parameter %s is not one the controller accepts (CsiNames.PARAMETERS)",
                name, key)
            .isTrue();
      }
      assertThat(params)
          .as(name)
          .doesNotContainKeys(
              CsiNames.PARAM_PVC_NAME, CsiNames.PARAM_PVC_NAMESPACE, CsiNames.PARAM_PV_NAME);
      assertThat(params.get("csi.storage.k8s.io/fstype")).as(name).isIn("ext4", "xfs");
      Classification c = Classification.valueOf((String) params.get(CsiNames.PARAM_CLASSIFICATION));
      assertThat(name).isEqualTo("mycnet-" + c.name().toLowerCase(Locale.ROOT));
      String r = (String) params.get(CsiNames.PARAM_REPLICAS);
      assertThat(r).as("%s: replicas is a string", name).matches("[1-7]");
      assertThat(Integer.parseInt(r)).as(name).isEqualTo(replicas.get(c));
      ConsistencyLevel.valueOf((String) params.get(CsiNames.PARAM_CONSISTENCY));
      assertThat(StorageType.valueOf((String) params.get(CsiNames.PARAM_STORAGE_TYPE)))
          .isEqualTo(StorageType.SERVICE);
      if (params.containsKey(CsiNames.PARAM_STRATEGY)) {
        ReplicationStrategy.valueOf((String) params.get(CsiNames.PARAM_STRATEGY));
      }
      assertThat(pools)
          .as("%s: pool is a sample StoragePool", name)
          .contains((String) params.get(CsiNames.PARAM_POOL));
      for (Object v : params.values()) {
        assertThat(v)
            .as("%s: StorageClass parameters are strings", name)
            .isInstanceOf(String.class);
      }
    }
  }

  /** The sample PVC can be provisioned: its class exists and its service namespace admits it. */
  @Test
  void theSamplePvcsServiceNamespaceAdmitsItsClassAndThePodMountsIt() {
    List<Map<String, Object>> objects = KustomizeRendering.render(SAMPLES);
    Map<String, Object> pvc = only(objects, "PersistentVolumeClaim");
    String ns = KustomizeRendering.namespace(pvc);
    Map<String, Object> sc =
        all(objects, "StorageClass").stream()
            .filter(
                s -> KustomizeRendering.name(s).equals(map(pvc, "spec").get("storageClassName")))
            .findFirst()
            .orElseThrow();
    Map<String, Object> params = map(sc, "parameters");
    assertThat(all(objects, "Namespace").stream().map(KustomizeRendering::name)).contains(ns);
    Map<String, Object> sn = only(objects, "ServiceNamespace");
    assertThat(KustomizeRendering.namespace(sn)).isEqualTo(ns);
    assertThat(KustomizeRendering.name(sn))
        .as("the controller derives the service namespace named like the PVC's namespace")
        .isEqualTo(ns);
    assertThat(list(map(sn, "spec"), "allowedClassifications"))
        .contains(params.get(CsiNames.PARAM_CLASSIFICATION));
    assertThat(list(map(sn, "spec"), "allowedStorageTypes"))
        .contains(params.get(CsiNames.PARAM_STORAGE_TYPE));
    assertThat(list(map(sn, "spec"), "pools")).contains(params.get(CsiNames.PARAM_POOL));
    // The operator reads it as it reads the samples/ ones.
    var record =
        ServiceNamespaceMapper.toRecord(
            Serialization.unmarshal(
                KustomizeRendering.toYaml(List.of(sn)), ServiceNamespace.class));
    assertThat(record.getNamespace()).contains(ns);
    Map<String, Object> pod = only(objects, "Pod");
    assertThat(KustomizeRendering.namespace(pod)).isEqualTo(ns);
    assertThat(list(map(pod, "spec"), "volumes"))
        .anySatisfy(
            v ->
                assertThat(map(asMap(v), "persistentVolumeClaim"))
                    .containsEntry("claimName", KustomizeRendering.name(pvc)));
  }

  // ---------------------------------------------------------------- sidecars and sockets

  @Test
  void theControllerSidecarsShareTheOperatorsSocket() {
    Map<String, Object> pod = podSpec(only(KustomizeRendering.render(CONFIG), "Deployment"));
    assertThat(sidecars(pod)).containsExactlyInAnyOrderElementsOf(CONTROLLER_SIDECARS);
    assertSidecarsShareTheSocket(pod, "operator", OperatorSettings.CSI_CONTROLLER_SOCKET);
    Map<String, Object> withSnapshots =
        podSpec(only(KustomizeRendering.render(CONFIG, SNAPSHOTS), "Deployment"));
    Set<String> all = new HashSet<>(CONTROLLER_SIDECARS);
    all.add("csi-snapshotter");
    assertThat(sidecars(withSnapshots)).containsExactlyInAnyOrderElementsOf(all);
    assertSidecarsShareTheSocket(withSnapshots, "operator", OperatorSettings.CSI_CONTROLLER_SOCKET);
    assertThat(args(container(pod, "csi-provisioner")))
        .contains(
            "--feature-gates=Topology=true",
            "--extra-create-metadata",
            "--leader-election",
            "--default-fstype=ext4");
    for (String s : List.of("csi-attacher", "csi-resizer")) {
      assertThat(args(container(pod, s))).contains("--leader-election");
    }
    assertThat(args(container(withSnapshots, "csi-snapshotter"))).contains("--leader-election");
  }

  @Test
  void theNodePluginIsRegisteredWithKubeletAndMountsThroughTheHost() {
    Map<String, Object> pod = podSpec(only(KustomizeRendering.render(CONFIG), "DaemonSet"));
    assertThat(sidecars(pod))
        .containsExactlyInAnyOrder("csi-node-driver-registrar", "livenessprobe");
    // The agent's MYCNET_CSI_SOCKET (node-agent's AgentConfig.CSI_SOCKET; checked against the
    // declaration by node-agent's DeployedAgentSettingsTest).
    Socket socket = assertSidecarsShareTheSocket(pod, "agent", "MYCNET_CSI_SOCKET");
    String hostDir = "/var/lib/kubelet/plugins/" + CsiNames.DRIVER_NAME + "/";
    Map<String, Object> volume = volume(pod, socket.volume());
    assertThat(map(volume, "hostPath")).containsEntry("path", hostDir);
    assertThat(args(container(pod, "csi-node-driver-registrar")))
        .contains("--kubelet-registration-path=" + hostDir + socket.relative());
    Map<String, Object> registration =
        mountOf(container(pod, "csi-node-driver-registrar"), "/registration");
    assertThat(map(volume(pod, (String) registration.get("name")), "hostPath"))
        .containsEntry("path", "/var/lib/kubelet/plugins_registry/");
    Map<String, Object> agent = container(pod, "agent");
    assertThat(map(agent, "securityContext")).containsEntry("privileged", true);
    Map<String, Object> kubelet = mountOf(agent, "/var/lib/kubelet");
    assertThat(kubelet).containsEntry("mountPropagation", "Bidirectional");
    assertThat(map(volume(pod, (String) kubelet.get("name")), "hostPath"))
        .containsEntry("path", "/var/lib/kubelet");
    for (String dev : List.of("/dev", "/sys")) {
      assertThat(map(volume(pod, (String) mountOf(agent, dev).get("name")), "hostPath"))
          .containsEntry("path", dev);
    }
    assertThat(pod).doesNotContainKey("hostPID");
  }

  @Test
  void everyContainerIsPinnedAndBounded() {
    List<Map<String, Object>> all = new ArrayList<>(KustomizeRendering.render(CONFIG, SNAPSHOTS));
    all.addAll(KustomizeRendering.render(SAMPLES));
    for (Map<String, Object> o : all) {
      Map<String, Object> pod = podSpecOrNull(o);
      if (pod == null) {
        continue;
      }
      for (Object c : list(pod, "containers")) {
        Map<String, Object> container = asMap(c);
        String image = (String) container.get("image");
        String what = KustomizeRendering.name(o) + "/" + container.get("name");
        assertThat(image).as(what).doesNotEndWith(":latest").contains(":");
        if (image.startsWith(SIG_STORAGE)) {
          String repo = image.substring(SIG_STORAGE.length(), image.indexOf(':'));
          assertThat(SIDECAR_MAJOR).as(what).containsKey(repo);
          assertThat(image.substring(image.indexOf(':') + 1))
              .as("%s: pinned to a v%d.x release", what, SIDECAR_MAJOR.get(repo))
              .matches("v" + SIDECAR_MAJOR.get(repo) + "\\.\\d+\\.\\d+");
        }
        Map<String, Object> resources = map(container, "resources");
        assertThat(map(resources, "requests")).as(what).containsKeys("cpu", "memory");
        assertThat(map(resources, "limits")).as(what).containsKey("memory");
      }
    }
  }

  // ---------------------------------------------------------------- settings and RBAC

  /** Every MYCNET_* variable of the operator pod is a declared operator setting. */
  @Test
  void everyOperatorVariableIsADeclaredSetting() {
    Set<String> declared =
        OperatorSettings.PROCESS.settings().stream()
            .map(Setting::envName)
            .collect(Collectors.toSet());
    Map<String, Object> pod =
        podSpec(only(KustomizeRendering.render(CONFIG, SNAPSHOTS), "Deployment"));
    int seen = 0;
    for (Object c : list(pod, "containers")) {
      for (Object e : list(asMap(c), "env")) {
        String name = (String) asMap(e).get("name");
        if (name.startsWith("MYCNET_")) {
          assertThat(declared).as("%s is not a declared operator setting", name).contains(name);
          seen++;
        }
      }
    }
    assertThat(seen).isGreaterThan(10);
  }

  @Test
  void everySidecarHasTheStandardRbacOnItsServiceAccount() {
    for (List<Map<String, Object>> objects :
        List.of(KustomizeRendering.render(CONFIG), KustomizeRendering.render(CONFIG, SNAPSHOTS))) {
      Map<String, Object> deployment = only(objects, "Deployment");
      Map<String, Object> pod = podSpec(deployment);
      String sa = (String) pod.get("serviceAccountName");
      String ns = KustomizeRendering.namespace(deployment);
      List<Grant> cluster = grants(objects, "ClusterRoleBinding", "ClusterRole", sa, ns, null);
      List<Grant> local = grants(objects, "RoleBinding", "Role", sa, ns, ns);
      for (String sidecar : sidecars(pod)) {
        for (Grant g : SIDECAR_RBAC.get(sidecar)) {
          assertThat(granted(cluster, g))
              .as("%s needs %s on %s/%s", sidecar, g.verbs(), g.group(), g.resource())
              .isTrue();
        }
        if (args(container(pod, sidecar)).contains("--leader-election")) {
          assertThat(granted(local, LEADER_LEASE))
              .as("%s elects a leader with a Lease in %s", sidecar, ns)
              .isTrue();
        }
      }
    }
    // The node plugin's registrar needs no API access: the agent's account has no binding at all.
    List<Map<String, Object>> objects = KustomizeRendering.render(CONFIG);
    Map<String, Object> agentPod = podSpec(only(objects, "DaemonSet"));
    String agentSa = (String) agentPod.get("serviceAccountName");
    assertThat(agentPod).containsEntry("automountServiceAccountToken", false);
    for (Map<String, Object> b : objects) {
      if (b.get("kind").toString().endsWith("Binding")) {
        assertThat(list(b, "subjects"))
            .noneSatisfy(s -> assertThat(asMap(s)).containsEntry("name", agentSa));
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  record Socket(String volume, String relative) {}

  /**
   * The container {@code server} serves its CSI socket at the path its variable names; every
   * sidecar's {@code --csi-address} is the same file, on the same volume.
   */
  private static Socket assertSidecarsShareTheSocket(
      Map<String, Object> pod, String server, Object setting) {
    String variable = setting instanceof Setting<?> s ? s.envName() : String.valueOf(setting);
    Map<String, Object> serving = container(pod, server);
    String path =
        list(serving, "env").stream()
            .map(CsiManifestsGoldenTest::asMap)
            .filter(e -> variable.equals(e.get("name")))
            .map(e -> (String) e.get("value"))
            .findFirst()
            .orElseThrow(() -> new AssertionError(server + " does not set " + variable));
    Socket served = socketOn(serving, path);
    for (String sidecar : sidecars(pod)) {
      Map<String, Object> c = container(pod, sidecar);
      String address =
          args(c).stream()
              .filter(a -> a.startsWith("--csi-address="))
              .map(a -> a.substring("--csi-address=".length()))
              .findFirst()
              .orElseThrow(() -> new AssertionError(sidecar + " has no --csi-address"));
      assertThat(socketOn(c, address))
          .as("%s's --csi-address %s is %s's socket %s", sidecar, address, server, path)
          .isEqualTo(served);
    }
    Map<String, Object> volume = volume(pod, served.volume());
    assertThat(volume.containsKey("emptyDir") || volume.containsKey("hostPath"))
        .as("the socket's volume %s is a directory the containers share", served.volume())
        .isTrue();
    return served;
  }

  /** The volume a path of a container lies on, and the path relative to the mount. */
  private static Socket socketOn(Map<String, Object> container, String path) {
    Map<String, Object> best = null;
    for (Object m : list(container, "volumeMounts")) {
      String mountPath = (String) asMap(m).get("mountPath");
      String dir = mountPath.endsWith("/") ? mountPath : mountPath + "/";
      if (path.startsWith(dir)
          && (best == null || mountPath.length() > ((String) best.get("mountPath")).length())) {
        best = asMap(m);
      }
    }
    assertThat(best).as("%s: %s is on no mounted volume", container.get("name"), path).isNotNull();
    String mountPath = (String) best.get("mountPath");
    String dir = mountPath.endsWith("/") ? mountPath : mountPath + "/";
    return new Socket((String) best.get("name"), path.substring(dir.length()));
  }

  /** The sidecars of a pod by image repository (csi-provisioner, livenessprobe, ...). */
  private static List<String> sidecars(Map<String, Object> pod) {
    List<String> out = new ArrayList<>();
    for (Object c : list(pod, "containers")) {
      String image = (String) asMap(c).get("image");
      if (image.startsWith(SIG_STORAGE)) {
        out.add(image.substring(SIG_STORAGE.length(), image.indexOf(':')));
      }
    }
    return out;
  }

  /** The container named {@code name}, or the sidecar whose image repository is {@code name}. */
  private static Map<String, Object> container(Map<String, Object> pod, String name) {
    for (Object c : list(pod, "containers")) {
      Map<String, Object> m = asMap(c);
      String image = (String) m.get("image");
      if (name.equals(m.get("name")) || image.startsWith(SIG_STORAGE + name + ":")) {
        return m;
      }
    }
    throw new AssertionError("no container " + name);
  }

  private static Map<String, Object> volume(Map<String, Object> pod, String name) {
    return list(pod, "volumes").stream()
        .map(CsiManifestsGoldenTest::asMap)
        .filter(v -> name.equals(v.get("name")))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  private static Map<String, Object> mountOf(Map<String, Object> container, String mountPath) {
    return list(container, "volumeMounts").stream()
        .map(CsiManifestsGoldenTest::asMap)
        .filter(m -> mountPath.equals(m.get("mountPath")))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError(container.get("name") + " does not mount " + mountPath));
  }

  @SuppressWarnings("unchecked")
  private static List<String> args(Map<String, Object> container) {
    Object a = container.get("args");
    return a == null ? List.of() : (List<String>) a;
  }

  /** The rules bound to a service account by bindings of {@code bindingKind}. */
  private static List<Grant> grants(
      List<Map<String, Object>> objects,
      String bindingKind,
      String roleKind,
      String sa,
      String saNamespace,
      String namespace) {
    List<Grant> out = new ArrayList<>();
    for (Map<String, Object> b : all(objects, bindingKind)) {
      if (namespace != null && !namespace.equals(KustomizeRendering.namespace(b))) {
        continue;
      }
      boolean bound =
          list(b, "subjects").stream()
              .map(CsiManifestsGoldenTest::asMap)
              .anyMatch(
                  s ->
                      "ServiceAccount".equals(s.get("kind"))
                          && sa.equals(s.get("name"))
                          && saNamespace.equals(s.get("namespace")));
      Map<String, Object> ref = map(b, "roleRef");
      if (!bound || !roleKind.equals(ref.get("kind"))) {
        continue;
      }
      for (Map<String, Object> role : all(objects, roleKind)) {
        if (!KustomizeRendering.name(role).equals(ref.get("name"))
            || (namespace != null && !namespace.equals(KustomizeRendering.namespace(role)))) {
          continue;
        }
        for (Object r : list(role, "rules")) {
          Map<String, Object> rule = asMap(r);
          for (Object g : list(rule, "apiGroups")) {
            for (Object res : list(rule, "resources")) {
              out.add(
                  new Grant(
                      (String) g,
                      (String) res,
                      Set.copyOf(list(rule, "verbs").stream().map(String::valueOf).toList())));
            }
          }
        }
      }
    }
    return out;
  }

  private static boolean granted(List<Grant> grants, Grant wanted) {
    Set<String> have = new HashSet<>();
    for (Grant g : grants) {
      if (g.group().equals(wanted.group()) && g.resource().equals(wanted.resource())) {
        have.addAll(g.verbs());
      }
    }
    return have.containsAll(wanted.verbs());
  }

  private static Set<String> samplePools() throws IOException {
    Set<String> pools = new HashSet<>();
    for (var r : ManifestsGoldenTest.samples()) {
      if (r instanceof io.mycnet.storage.crds.v1alpha1.StoragePool p) {
        pools.add(p.getMetadata().getName());
      }
    }
    return pools;
  }

  private static Map<String, Object> podSpecOrNull(Map<String, Object> o) {
    return switch ((String) o.get("kind")) {
      case "Pod" -> map(o, "spec");
      case "Deployment", "DaemonSet", "StatefulSet" -> map(map(map(o, "spec"), "template"), "spec");
      default -> null;
    };
  }

  private static Map<String, Object> podSpec(Map<String, Object> o) {
    return podSpecOrNull(o);
  }

  private static List<Map<String, Object>> all(List<Map<String, Object>> objects, String kind) {
    return objects.stream().filter(o -> kind.equals(o.get("kind"))).toList();
  }

  private static Map<String, Object> only(List<Map<String, Object>> objects, String kind) {
    List<Map<String, Object>> found = all(objects, kind);
    assertThat(found).as("exactly one %s", kind).hasSize(1);
    return found.get(0);
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> asMap(Object o) {
    return (Map<String, Object>) o;
  }

  static Map<String, Object> map(Map<String, Object> o, String key) {
    Object v = o.get(key);
    assertThat(v)
        .as("%s has %s", o.get("name") != null ? o.get("name") : o.get("kind"), key)
        .isInstanceOf(Map.class);
    return asMap(v);
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Map<String, Object> o, String key) {
    Object v = o.get(key);
    return v == null ? List.of() : (List<Object>) v;
  }

  /**
   * Compares with the golden file. CRDs appear as their identity only (group, kind, versions): they
   * are generated from the classes and checked against them by the crds build.
   */
  private static void assertGolden(String file, List<Map<String, Object>> objects)
      throws IOException {
    List<Map<String, Object>> shown = new ArrayList<>();
    for (Map<String, Object> o : objects) {
      shown.add("CustomResourceDefinition".equals(o.get("kind")) ? crdIdentity(o) : o);
    }
    String actual = KustomizeRendering.toYaml(shown);
    Path golden = GOLDEN.resolve(file);
    if (Boolean.getBoolean("golden.update") || !Files.exists(golden)) {
      Files.writeString(golden, actual);
    }
    assertThat(actual)
        .as(
            "rendering differs from %s (rerun with -Dgolden.update=true and review the diff)",
            golden)
        .isEqualTo(Files.readString(golden));
  }

  private static Map<String, Object> crdIdentity(Map<String, Object> crd) {
    Map<String, Object> spec = map(crd, "spec");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("apiVersion", crd.get("apiVersion"));
    out.put("kind", crd.get("kind"));
    out.put("metadata", Map.of("name", KustomizeRendering.name(crd)));
    Map<String, Object> s = new TreeMap<>();
    s.put("group", spec.get("group"));
    s.put("kind", map(spec, "names").get("kind"));
    s.put("scope", spec.get("scope"));
    s.put("versions", list(spec, "versions").stream().map(v -> asMap(v).get("name")).toList());
    out.put("spec", s);
    return out;
  }

  private static List<Map<String, Object>> kubectl(Path kubectl, Path dir) throws Exception {
    Path out = Files.createTempFile(ROOT.resolve("operator/target"), "kustomize-", ".yaml");
    try {
      Process p =
          new ProcessBuilder(kubectl.toString(), "kustomize", dir.toString())
              .redirectOutput(out.toFile())
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      try {
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("kubectl kustomize finished").isTrue();
      } finally {
        p.destroyForcibly();
      }
      assertThat(p.exitValue()).as("kubectl kustomize %s", dir).isZero();
      return numbers(KustomizeRendering.documents(Files.readString(out, StandardCharsets.UTF_8)));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /**
   * Numbers as kubectl prints them: kustomize reads YAML into JSON numbers and writes an integral
   * value without its fraction (a CRD's {@code maximum: 7.0} comes out as {@code 7}).
   */
  @SuppressWarnings("unchecked")
  private static <T> T numbers(T value) {
    if (value instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, v) -> out.put((String) k, numbers(v)));
      return (T) out;
    }
    if (value instanceof List<?> l) {
      return (T) l.stream().map(CsiManifestsGoldenTest::numbers).collect(Collectors.toList());
    }
    if (value instanceof Number n && !(value instanceof Integer)) {
      double d = n.doubleValue();
      if (d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) {
        return (T) Integer.valueOf((int) d);
      }
    }
    return value;
  }

  private static Path onPath(String tool) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(Pattern.quote(java.io.File.pathSeparator))) {
      Path p = Path.of(dir, tool);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }
}
