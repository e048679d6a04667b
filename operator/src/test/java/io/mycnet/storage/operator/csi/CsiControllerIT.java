package io.mycnet.storage.operator.csi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.CapacityRange;
import io.mycnet.storage.csi.v1.ControllerExpandVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerExpandVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerGetCapabilitiesRequest;
import io.mycnet.storage.csi.v1.ControllerGetVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerGetVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerServiceCapability;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.CreateVolumeRequest;
import io.mycnet.storage.csi.v1.DeleteVolumeRequest;
import io.mycnet.storage.csi.v1.GetCapacityRequest;
import io.mycnet.storage.csi.v1.GetPluginCapabilitiesRequest;
import io.mycnet.storage.csi.v1.GetPluginInfoRequest;
import io.mycnet.storage.csi.v1.GetPluginInfoResponse;
import io.mycnet.storage.csi.v1.IdentityGrpc;
import io.mycnet.storage.csi.v1.ListVolumesRequest;
import io.mycnet.storage.csi.v1.ListVolumesResponse;
import io.mycnet.storage.csi.v1.PluginCapability;
import io.mycnet.storage.csi.v1.ProbeRequest;
import io.mycnet.storage.csi.v1.Topology;
import io.mycnet.storage.csi.v1.TopologyRequirement;
import io.mycnet.storage.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.mycnet.storage.csi.v1.Volume;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCapability.AccessMode.Mode;
import io.mycnet.storage.operator.allocation.AllocationAudit;
import io.mycnet.storage.operator.allocation.NodeSnapshot;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.reconciler.OperatorHarness;
import io.mycnet.storage.operator.reconciler.storageclaim.StorageClaimMapper;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CSI controller over its real Unix socket, in front of the operator as it runs in a cluster
 * (the reconcilers and the control plane on a real etcd, the Fabric8 mock server in CRUD mode, the
 * sample pools, trust policy and service namespaces, nodes that earned their trust): create
 * (idempotent, incompatible, refusals with their codes and nothing left behind), list with paging,
 * capacity, get, expand, publish (trust gate, one writer, the fence-and-publish of a silent node),
 * unpublish, delete, and a standby that answers UNAVAILABLE.
 */
class CsiControllerIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  private static final long GIB = OperatorHarness.GIB;
  private static final String NS = OperatorHarness.NS;

  @TempDir static Path dir;

  static OperatorHarness h;
  static ScheduledExecutorService agents;
  static UnixSocketGrpc.Served served;
  static UnixSocketGrpc.Served standby;
  static ManagedChannel channel;
  static ManagedChannel standbyChannel;
  static ControllerGrpc.ControllerBlockingStub ctl;

  @BeforeAll
  static void start() throws Exception {
    h = new OperatorHarness(ETCD.endpoints(), "/csi");
    h.sampleCluster();
    h.start();
    // The samples' namespace, trust policy, pools and service namespaces, not their claims.
    try (Stream<Path> s = Files.list(OperatorHarness.repoRoot().resolve("samples"))) {
      for (Path f :
          s.filter(p -> p.getFileName().toString().matches("[0-3]\\d-.*\\.yaml"))
              .sorted()
              .toList()) {
        try (InputStream in = Files.newInputStream(f)) {
          h.client.load(in).createOrReplace();
        }
      }
    }
    h.create(
        Serialization.unmarshal(
            "apiVersion: storage.mycnet.io/v1alpha1\nkind: ServiceNamespace\nmetadata:\n"
                + "  namespace: "
                + NS
                + "\n  name: tiny\nspec:\n  quota:\n    bytes: 2Gi\n  pools: [core]\n",
            ServiceNamespace.class));
    // The agents' part of creating a replica (this fixture runs no agents): confirm what is asked.
    agents = Executors.newSingleThreadScheduledExecutor();
    agents.scheduleWithFixedDelay(
        () -> {
          try {
            h.agentsConfirmCreates();
          } catch (RuntimeException e) {
            // the next round retries
          }
        },
        100,
        100,
        TimeUnit.MILLISECONDS);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                h.cp.manager().getNamespace(NS + ".payments").isPresent()
                    && h.cp.manager().getNamespace(NS + ".tiny").isPresent()
                    && h.cp.manager().getNamespace(NS + ".analytics").isPresent());
    CsiController.Timeouts t =
        new CsiController.Timeouts(
            Duration.ofSeconds(30),
            Duration.ofSeconds(3),
            Duration.ofSeconds(30),
            Duration.ofSeconds(30));
    served =
        UnixSocketGrpc.serve(
            dir.resolve("controller.sock"),
            List.<BindableService>of(
                CsiIdentity.controller(() -> null), new CsiController(parts(() -> true), t)));
    standby =
        UnixSocketGrpc.serve(
            dir.resolve("standby.sock"),
            List.<BindableService>of(
                CsiIdentity.controller(() -> "no control plane leader is elected yet"),
                new CsiController(parts(() -> false), t)));
    channel = UnixSocketGrpc.channel(served.socket());
    standbyChannel = UnixSocketGrpc.channel(standby.socket());
    ctl = ControllerGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.MINUTES);
  }

  private static CsiController.Parts parts(java.util.function.BooleanSupplier leader) {
    return new CsiController.Parts(
        h.client,
        h.cp.manager(),
        h.cp.attachments(),
        h.cp.registry(),
        h.cp.cluster(),
        h.cp.pools(),
        h.cp.trust(),
        leader);
  }

  @AfterAll
  static void close() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (standbyChannel != null) {
      standbyChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (served != null) {
      served.close();
    }
    if (standby != null) {
      standby.close();
    }
    if (agents != null) {
      agents.shutdownNow();
    }
    if (h != null) {
      h.close();
    }
  }

  @AfterEach
  void consistent() {
    assertThat(AllocationAudit.check(h.cp.store(), h.cp.keys())).isEmpty();
  }

  // ---------------------------------------------------------------- helpers

  static VolumeCapability mount(Mode mode, String fs) {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fs))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
        .build();
  }

  static VolumeCapability block(Mode mode) {
    return VolumeCapability.newBuilder()
        .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
        .build();
  }

  static final VolumeCapability RWO = mount(Mode.SINGLE_NODE_WRITER, "ext4");

  static CreateVolumeRequest.Builder create(String name, long required, Map<String, String> p) {
    CreateVolumeRequest.Builder b =
        CreateVolumeRequest.newBuilder()
            .setName(name)
            .addVolumeCapabilities(RWO)
            .putAllParameters(p);
    if (required > 0) {
      b.setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(required));
    }
    return b;
  }

  static Map<String, String> payments(String classification) {
    return Map.of(
        CsiNames.PARAM_SERVICE_NAMESPACE,
        NS + "/payments",
        CsiNames.PARAM_CLASSIFICATION,
        classification);
  }

  static Status.Code code(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
    return Status.Code.OK;
  }

  static StatusRuntimeException refusal(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("the call succeeded");
  }

  static List<String> claimNames() {
    return h.client.resources(StorageClaim.class).inNamespace(NS).list().getItems().stream()
        .map(c -> c.getMetadata().getName())
        .sorted()
        .toList();
  }

  static List<String> volumeIds() {
    return h.cp.manager().list().stream().map(Allocation::getVolumeId).sorted().toList();
  }

  static Allocation allocation(String id) {
    return h.cp.manager().get(id).orElseThrow();
  }

  static ControllerPublishVolumeRequest publish(String id, String node, VolumeCapability c) {
    return ControllerPublishVolumeRequest.newBuilder()
        .setVolumeId(id)
        .setNodeId(node)
        .setVolumeCapability(c)
        .build();
  }

  /** Nodes of pool {@code prefix} ("c" core, "e" edge) that hold no replica of the volume. */
  static List<String> consumers(String volumeId, String prefix) {
    Allocation a = allocation(volumeId);
    return h.cp.registry().list().stream()
        .map(n -> n.getNodeId())
        .filter(n -> n.startsWith(prefix))
        .filter(n -> a.getReplicasList().stream().noneMatch(r -> r.getNodeId().equals(n)))
        .sorted()
        .toList();
  }

  // ---------------------------------------------------------------- identity and capabilities

  @Test
  void identityNamesTheDriverAndItsCapabilitiesAndProbesTheRealHealth() {
    IdentityGrpc.IdentityBlockingStub id = IdentityGrpc.newBlockingStub(channel);
    GetPluginInfoResponse info = id.getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
    assertThat(info.getName()).isEqualTo(CsiNames.DRIVER_NAME);
    assertThat(info.getVendorVersion()).isEqualTo(CsiIdentity.projectVersion()).isNotBlank();
    assertThat(
            id.getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList())
        .extracting(
            c ->
                c.hasService()
                    ? c.getService().getType().name()
                    : "EXPANSION_" + c.getVolumeExpansion().getType())
        .containsExactlyInAnyOrder(
            PluginCapability.Service.Type.CONTROLLER_SERVICE.name(),
            PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS.name(),
            "EXPANSION_ONLINE");
    assertThat(id.probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
    assertThat(
            IdentityGrpc.newBlockingStub(standbyChannel)
                .probe(ProbeRequest.getDefaultInstance())
                .getReady()
                .getValue())
        .isFalse();
    assertThat(
            ctl.controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance())
                .getCapabilitiesList())
        .extracting(c -> c.getRpc().getType())
        .contains(
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
            ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME,
            ControllerServiceCapability.RPC.Type.LIST_VOLUMES_PUBLISHED_NODES,
            ControllerServiceCapability.RPC.Type.GET_CAPACITY,
            ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
            ControllerServiceCapability.RPC.Type.VOLUME_CONDITION)
        .doesNotContain(ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT);
  }

  @Test
  void aStandbyAnswersUnavailableAndChangesNothing() {
    ControllerGrpc.ControllerBlockingStub s = ControllerGrpc.newBlockingStub(standbyChannel);
    List<String> before = claimNames();
    StatusRuntimeException e =
        refusal(() -> s.createVolume(create("pvc-standby", GIB, payments("SENSITIVE")).build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getStatus().getDescription()).contains("not the leader");
    assertThat(code(() -> s.listVolumes(ListVolumesRequest.getDefaultInstance())))
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(claimNames()).isEqualTo(before);
  }

  // ---------------------------------------------------------------- create

  @Test
  void createIsIdempotentByNameAndAnIncompatibleRepeatIsAlreadyExists() {
    Volume v =
        ctl.createVolume(create("pvc-idem", GIB + 1, payments("SENSITIVE")).build()).getVolume();
    assertThat(v.getVolumeId()).isEqualTo(NS + ".pvc-idem");
    assertThat(v.getCapacityBytes()).isEqualTo(GIB + 4096); // whole 4 KiB blocks
    assertThat(v.getVolumeContextMap())
        .containsEntry(CsiNames.CONTEXT_CLAIM, NS + "/pvc-idem")
        .containsEntry(CsiNames.CONTEXT_CLASSIFICATION, "SENSITIVE");
    assertThat(v.getAccessibleTopologyList()).isEmpty();
    StorageClaim c = h.claim("pvc-idem");
    assertThat(c.getMetadata().getLabels()).containsEntry(CsiNames.LABEL_CSI, "true");
    assertThat(c.getMetadata().getAnnotations())
        .containsEntry(CsiNames.ANNOTATION_CSI_NAME, "pvc-idem");

    Volume again =
        ctl.createVolume(create("pvc-idem", GIB + 1, payments("SENSITIVE")).build()).getVolume();
    assertThat(again).isEqualTo(v);
    StatusRuntimeException bigger =
        refusal(() -> ctl.createVolume(create("pvc-idem", 2 * GIB, payments("SENSITIVE")).build()));
    assertThat(bigger.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(bigger.getStatus().getDescription()).contains("size");
    StatusRuntimeException other =
        refusal(() -> ctl.createVolume(create("pvc-idem", GIB + 1, payments("CRITICAL")).build()));
    assertThat(other.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(other.getStatus().getDescription()).contains("classification SENSITIVE");

    // A name that is no DNS label becomes csi-<hash>; the name is kept in the annotation.
    Volume odd =
        ctl.createVolume(create("Volume Of Shop/Orders", 0, payments("SENSITIVE")).build())
            .getVolume();
    String claim = VolumeNames.claimName("Volume Of Shop/Orders");
    assertThat(claim).matches("csi-[0-9a-f]{24}");
    assertThat(odd.getVolumeId()).isEqualTo(NS + "." + claim);
    assertThat(odd.getCapacityBytes()).isEqualTo(GIB); // no range: 1 GiB
    assertThat(h.claim(claim).getMetadata().getAnnotations())
        .containsEntry(CsiNames.ANNOTATION_CSI_NAME, "Volume Of Shop/Orders");

    // Derived service namespace: the PVC's namespace has two, none named like it: say which to set.
    StatusRuntimeException derived =
        refusal(
            () ->
                ctl.createVolume(
                    create("pvc-derived", GIB, Map.of(CsiNames.PARAM_PVC_NAMESPACE, NS)).build()));
    assertThat(derived.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(derived.getStatus().getDescription()).contains(CsiNames.PARAM_SERVICE_NAMESPACE);

    for (String id : List.of(v.getVolumeId(), odd.getVolumeId())) {
      ctl.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
      assertThat(h.cp.manager().get(id)).isEmpty();
    }
  }

  @Test
  void thePreferredTopologysNodeHoldsAReplicaOfAPerformanceOptimizedVolume() {
    for (String consumer : List.of("c101", "c011")) {
      String name = "pvc-near-" + consumer;
      CreateVolumeRequest req =
          create(
                  name,
                  GIB,
                  Map.of(
                      CsiNames.PARAM_SERVICE_NAMESPACE, NS + "/payments",
                      CsiNames.PARAM_STRATEGY, "PERFORMANCE_OPTIMIZED",
                      CsiNames.PARAM_REPLICAS, "2"))
              .setAccessibilityRequirements(
                  TopologyRequirement.newBuilder()
                      .addPreferred(
                          Topology.newBuilder()
                              .putSegments(
                                  CsiNames.TOPOLOGY_PREFIX + "region", "cr" + consumer.charAt(1))
                              .putSegments(CsiNames.TOPOLOGY_NODE, consumer)))
              .build();
      String id = ctl.createVolume(req).getVolume().getVolumeId();
      assertThat(h.claim(name).getMetadata().getAnnotations())
          .containsEntry(
              StorageClaimMapper.CONSUMER_TOPOLOGY,
              h.cp.registry().get(consumer).orElseThrow().getTopologyPath());
      assertThat(allocation(id).getReplicasList())
          .extracting(r -> r.getNodeId())
          .contains(consumer);
      assertThat(allocation(id).getPlacementNote())
          .contains("local replica on the consumer's node " + consumer);
      ctl.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
    }
  }

  @Test
  void badRequestsGetTheirCodeAMessageToActOnAndCreateNothing() {
    List<String> claims = claimNames();
    List<String> volumes = volumeIds();
    record Case(CreateVolumeRequest request, Status.Code code, String says) {}
    List<Case> cases =
        List.of(
            new Case(
                create("pvc-bad1", GIB, Map.of("clasification", "CRITICAL")).build(),
                Status.Code.INVALID_ARGUMENT,
                "unknown StorageClass parameter 'clasification'"),
            new Case(
                create("pvc-bad2", GIB, Map.of(CsiNames.PARAM_REPLICAS, "9")).build(),
                Status.Code.INVALID_ARGUMENT,
                "'replicas' must be a whole number from 1 to 7"),
            new Case(
                create("pvc-bad3", GIB, payments("SECRET")).build(),
                Status.Code.INVALID_ARGUMENT,
                "must be one of CRITICAL, SENSITIVE, STANDARD, PUBLIC"),
            new Case(
                create("pvc-bad4", GIB, payments("SENSITIVE"))
                    .clearVolumeCapabilities()
                    .addVolumeCapabilities(mount(Mode.MULTI_NODE_MULTI_WRITER, ""))
                    .build(),
                Status.Code.INVALID_ARGUMENT,
                "MULTI_NODE_MULTI_WRITER"),
            new Case(
                create("pvc-bad5", GIB, payments("SENSITIVE"))
                    .clearVolumeCapabilities()
                    .addVolumeCapabilities(mount(Mode.SINGLE_NODE_WRITER, "btrfs"))
                    .build(),
                Status.Code.INVALID_ARGUMENT,
                "fs_type 'btrfs'"),
            new Case(
                create("pvc-bad6", 0, payments("SENSITIVE")).clearVolumeCapabilities().build(),
                Status.Code.INVALID_ARGUMENT,
                "volume_capabilities must be set"),
            new Case(
                create("pvc-bad7", 0, payments("SENSITIVE"))
                    .setCapacityRange(
                        CapacityRange.newBuilder().setRequiredBytes(2 * GIB).setLimitBytes(GIB))
                    .build(),
                Status.Code.OUT_OF_RANGE,
                "below required_bytes"),
            new Case(
                create("", GIB, payments("SENSITIVE")).build(),
                Status.Code.INVALID_ARGUMENT,
                "name must be set"),
            new Case(
                create("pvc-bad8", GIB, Map.of()).build(),
                Status.Code.INVALID_ARGUMENT,
                "--extra-create-metadata"),
            new Case(
                create(
                        "pvc-bad9",
                        GIB,
                        Map.of(
                            CsiNames.PARAM_SERVICE_NAMESPACE, "analytics",
                            CsiNames.PARAM_PVC_NAMESPACE, NS,
                            CsiNames.PARAM_CLASSIFICATION, "CRITICAL"))
                    .build(),
                Status.Code.INVALID_ARGUMENT,
                "classification CRITICAL is not allowed in ServiceNamespace mycnet-demo/analytics"),
            new Case(
                create("pvc-bad10", 300 * GIB, payments("SENSITIVE")).build(),
                Status.Code.RESOURCE_EXHAUSTED,
                "quota exceeded"),
            new Case(
                create("pvc-bad11", GIB, Map.of(CsiNames.PARAM_SERVICE_NAMESPACE, NS + "/nowhere"))
                    .build(),
                Status.Code.INVALID_ARGUMENT,
                "ServiceNamespace mycnet-demo/nowhere does not exist"));
    for (Case c : cases) {
      StatusRuntimeException e = refusal(() -> ctl.createVolume(c.request()));
      assertThat(e.getStatus().getCode()).as(c.says()).isEqualTo(c.code());
      assertThat(e.getStatus().getDescription()).contains(c.says());
    }
    assertThat(claimNames()).isEqualTo(claims);
    assertThat(volumeIds()).isEqualTo(volumes);
  }

  @Test
  void refusalsOnlyTheReconcilerFindsDeleteTheClaimAndAnotherCallMeanwhileIsAborted()
      throws Exception {
    List<String> claims = claimNames();
    List<String> volumes = volumeIds();
    // PUBLIC is looser than CONSENSUS's CRITICAL: the claim's spec is invalid.
    StatusRuntimeException invalid =
        refusal(
            () ->
                ctl.createVolume(
                    create(
                            "pvc-loose",
                            GIB,
                            Map.of(
                                CsiNames.PARAM_SERVICE_NAMESPACE, NS + "/payments",
                                CsiNames.PARAM_STORAGE_TYPE, "CONSENSUS",
                                CsiNames.PARAM_CLASSIFICATION, "SENSITIVE"))
                        .build()));
    assertThat(invalid.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(invalid.getStatus().getDescription()).contains("looser");
    await().atMost(Duration.ofSeconds(30)).until(() -> claimNames().equals(claims));

    // Seven replicas in a pool of six edge nodes: no placement; meanwhile the same name is busy.
    CreateVolumeRequest seven =
        create(
                "pvc-seven",
                GIB,
                Map.of(
                    CsiNames.PARAM_SERVICE_NAMESPACE, NS + "/analytics",
                    CsiNames.PARAM_POOL, "edge",
                    CsiNames.PARAM_REPLICAS, "7"))
            .build();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<Status.Code> first = pool.submit(() -> code(() -> ctl.createVolume(seven)));
      await().atMost(Duration.ofSeconds(30)).until(() -> h.claim("pvc-seven") != null);
      StatusRuntimeException busy = refusal(() -> ctl.createVolume(seven));
      assertThat(busy.getStatus().getCode()).isEqualTo(Status.Code.ABORTED);
      assertThat(busy.getStatus().getDescription())
          .isEqualTo("an operation on volume name pvc-seven is in progress; retry");
      assertThat(first.get(2, TimeUnit.MINUTES)).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    } finally {
      pool.shutdownNow();
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> claimNames().equals(claims));
    assertThat(volumeIds()).isEqualTo(volumes);
  }

  // ---------------------------------------------------------------- reads and expand

  @Test
  void listPagesCapacityCountsEligibleNodesGetAndExpand() {
    List<String> ids = new ArrayList<>();
    for (String n : List.of("pvc-list-a", "pvc-list-b", "pvc-list-c")) {
      ids.add(
          ctl.createVolume(create(n, GIB, payments("STANDARD")).build()).getVolume().getVolumeId());
    }
    List<String> seen = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      ListVolumesResponse page =
          ctl.listVolumes(
              ListVolumesRequest.newBuilder().setMaxEntries(2).setStartingToken(token).build());
      assertThat(page.getEntriesCount()).isLessThanOrEqualTo(2);
      page.getEntriesList().forEach(e -> seen.add(e.getVolume().getVolumeId()));
      page.getEntriesList()
          .forEach(e -> assertThat(e.getStatus().getVolumeCondition().getAbnormal()).isFalse());
      token = page.getNextToken();
      pages++;
    } while (!token.isEmpty() && pages < 20);
    assertThat(seen).containsAll(ids).doesNotHaveDuplicates().isSorted().isEqualTo(volumeIds());
    assertThat(pages).isGreaterThanOrEqualTo(2);
    StatusRuntimeException bad =
        refusal(
            () -> ctl.listVolumes(ListVolumesRequest.newBuilder().setStartingToken("zzz").build()));
    assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.ABORTED);

    // Capacity: free bytes of the UP nodes whose tier admits the classification.
    long critical = capacity(Map.of(CsiNames.PARAM_CLASSIFICATION, "CRITICAL"));
    long expected = 0;
    List<String> live = h.cp.registry().liveNodeIds();
    for (NodeSnapshot n : h.cp.cluster().nodes()) {
      if (n.tier().allows(Classification.CRITICAL)
          && live.contains(n.nodeId())
          && n.record().getState() == io.mycnet.storage.api.v1.NodeState.NODE_STATE_UP) {
        expected += TrustAwareStorageManager.capacityLimit(n.record(), 1.0) - n.reservedBytes();
      }
    }
    assertThat(critical).isEqualTo(expected).isPositive();
    assertThat(capacity(Map.of())).isGreaterThan(critical); // STANDARD: edge nodes count too
    assertThat(
            capacity(
                Map.of(CsiNames.PARAM_CLASSIFICATION, "CRITICAL", CsiNames.PARAM_POOL, "edge")))
        .isZero();
    String someCore =
        h.cp.registry().liveNodeIds().stream()
            .filter(n -> n.startsWith("c"))
            .sorted()
            .findFirst()
            .orElseThrow();
    long oneNode =
        ctl.getCapacity(
                GetCapacityRequest.newBuilder()
                    .setAccessibleTopology(
                        Topology.newBuilder().putSegments(CsiNames.TOPOLOGY_NODE, someCore))
                    .build())
            .getAvailableCapacity();
    assertThat(oneNode).isPositive().isLessThan(critical);

    // Get, validate, expand (never shrink).
    String id = ids.get(0);
    ControllerGetVolumeResponse got =
        ctl.controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build());
    assertThat(got.getVolume().getCapacityBytes()).isEqualTo(GIB);
    assertThat(got.getStatus().getVolumeCondition().getAbnormal()).isFalse();
    assertThat(got.getStatus().getPublishedNodeIdsList()).isEmpty();
    assertThat(
            code(
                () ->
                    ctl.controllerGetVolume(
                        ControllerGetVolumeRequest.newBuilder().setVolumeId(NS + ".nope").build())))
        .isEqualTo(Status.Code.NOT_FOUND);
    assertThat(
            ctl.validateVolumeCapabilities(
                    ValidateVolumeCapabilitiesRequest.newBuilder()
                        .setVolumeId(id)
                        .addVolumeCapabilities(block(Mode.SINGLE_NODE_WRITER))
                        .build())
                .hasConfirmed())
        .isTrue();
    assertThat(
            ctl.validateVolumeCapabilities(
                    ValidateVolumeCapabilitiesRequest.newBuilder()
                        .setVolumeId(id)
                        .addVolumeCapabilities(block(Mode.MULTI_NODE_MULTI_WRITER))
                        .build())
                .getMessage())
        .contains("MULTI_NODE_MULTI_WRITER");
    assertThat(
            code(
                () ->
                    ctl.validateVolumeCapabilities(
                        ValidateVolumeCapabilitiesRequest.newBuilder()
                            .setVolumeId(NS + ".nope")
                            .addVolumeCapabilities(RWO)
                            .build())))
        .isEqualTo(Status.Code.NOT_FOUND);
    ControllerExpandVolumeResponse grown =
        ctl.controllerExpandVolume(
            ControllerExpandVolumeRequest.newBuilder()
                .setVolumeId(id)
                .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2 * GIB))
                .build());
    assertThat(grown.getCapacityBytes()).isEqualTo(2 * GIB);
    assertThat(grown.getNodeExpansionRequired()).isTrue();
    assertThat(allocation(id).getSizeBytes()).isEqualTo(2 * GIB);
    assertThat(
            ctl.controllerExpandVolume(
                    ControllerExpandVolumeRequest.newBuilder()
                        .setVolumeId(id)
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(GIB))
                        .build())
                .getCapacityBytes())
        .isEqualTo(2 * GIB);
    for (String v : ids) {
      ctl.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(v).build());
    }
    assertThat(volumeIds()).doesNotContainAnyElementsOf(ids);
    // Deleting what is gone, or what never was, is done.
    assertThat(
            code(
                () ->
                    ctl.deleteVolume(
                        DeleteVolumeRequest.newBuilder().setVolumeId(ids.get(0)).build())))
        .isEqualTo(Status.Code.OK);
    assertThat(
            code(
                () ->
                    ctl.deleteVolume(
                        DeleteVolumeRequest.newBuilder().setVolumeId("no-such-volume").build())))
        .isEqualTo(Status.Code.OK);
  }

  static long capacity(Map<String, String> parameters) {
    return ctl.getCapacity(GetCapacityRequest.newBuilder().putAllParameters(parameters).build())
        .getAvailableCapacity();
  }

  // ---------------------------------------------------------------- publish

  @Test
  void publishGatesOnTrustKeepsOneWriterAndFailsOverFromASilentNode() {
    String id =
        ctl.createVolume(create("pvc-pub", GIB, payments("CRITICAL")).build())
            .getVolume()
            .getVolumeId();
    List<String> core = consumers(id, "c");
    String a = core.get(0);
    String b = core.get(1);
    String edge = consumers(id, "e").get(0);

    // The trust gate: an edge node (STANDARD) may not hold CRITICAL data; the refusal explains.
    StatusRuntimeException gate =
        refusal(() -> ctl.controllerPublishVolume(publish(id, edge, RWO)));
    assertThat(gate.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(gate.getStatus().getDescription())
        .contains("node " + edge + " may not attach volume " + id)
        .contains("does not admit CRITICAL")
        .contains("tier");

    ControllerPublishVolumeResponse first = ctl.controllerPublishVolume(publish(id, a, RWO));
    assertThat(first.getPublishContextMap())
        .containsEntry(CsiNames.PUBLISH_EXPORT, id)
        .containsEntry(CsiNames.PUBLISH_READ_ONLY, "false")
        .containsEntry(CsiNames.PUBLISH_GENERATION, "1");
    assertThat(ctl.controllerPublishVolume(publish(id, a, RWO))).isEqualTo(first);
    assertThat(
            code(
                () ->
                    ctl.controllerPublishVolume(
                        publish(id, a, mount(Mode.SINGLE_NODE_READER_ONLY, "")))))
        .isEqualTo(Status.Code.ALREADY_EXISTS);
    StatusRuntimeException writer = refusal(() -> ctl.controllerPublishVolume(publish(id, b, RWO)));
    assertThat(writer.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(writer.getStatus().getDescription()).contains("attached read-write to node " + a);
    StatusRuntimeException published =
        refusal(() -> ctl.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build()));
    assertThat(published.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(published.getStatus().getDescription()).contains(a);
    assertThat(code(() -> ctl.controllerPublishVolume(publish(NS + ".nope", a, RWO))))
        .isEqualTo(Status.Code.NOT_FOUND);
    assertThat(code(() -> ctl.controllerPublishVolume(publish(id, "no-such-node", RWO))))
        .isEqualTo(Status.Code.NOT_FOUND);
    assertThat(
            code(
                () ->
                    ctl.controllerPublishVolume(
                        ControllerPublishVolumeRequest.newBuilder()
                            .setVolumeId(id)
                            .setNodeId(b)
                            .build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);

    // Node a goes silent (its agent is gone: the liveness lease ends); publishing to b fences a.
    long epoch = allocation(id).getEpoch();
    h.cp.registry().revokeLiveness(a, h.cp.registry().livenessLease(a));
    await().atMost(Duration.ofSeconds(30)).until(() -> !h.cp.registry().isLive(a));
    // A publish the trust gate would refuse fences nothing (the holder is named instead).
    StatusRuntimeException untrusted =
        refusal(() -> ctl.controllerPublishVolume(publish(id, edge, RWO)));
    assertThat(untrusted.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(untrusted.getStatus().getDescription()).contains("attached read-write to node " + a);
    assertThat(allocation(id).getAttachmentsList())
        .singleElement()
        .satisfies(x -> assertThat(x.getNodeId()).isEqualTo(a));
    assertThat(allocation(id).getEpoch()).isEqualTo(epoch);
    ControllerPublishVolumeResponse moved = ctl.controllerPublishVolume(publish(id, b, RWO));
    assertThat(moved.getPublishContextMap())
        .containsEntry(CsiNames.PUBLISH_EXPORT, id)
        .containsEntry(CsiNames.PUBLISH_READ_ONLY, "false");
    Allocation after = allocation(id);
    assertThat(after.getAttachmentsList())
        .singleElement()
        .satisfies(x -> assertThat(x.getNodeId()).isEqualTo(b));
    assertThat(after.getEpoch()).isGreaterThan(epoch);
    assertThat(after.getAttachmentNote()).contains("node " + a + " fenced");
    assertThat(h.cp.queue().pending(a))
        .anySatisfy(
            c -> {
              assertThat(c.hasDetachVolume()).isTrue();
              assertThat(c.getDetachVolume().getFenced()).isTrue();
            });
    assertThat(
            ctl.controllerGetVolume(ControllerGetVolumeRequest.newBuilder().setVolumeId(id).build())
                .getStatus()
                .getPublishedNodeIdsList())
        .containsExactly(b);

    // Unpublish: done, and done again; then the volume can go.
    ControllerUnpublishVolumeRequest un =
        ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(id).setNodeId(b).build();
    ctl.controllerUnpublishVolume(un);
    ctl.controllerUnpublishVolume(un);
    assertThat(allocation(id).getAttachmentsList()).isEmpty();
    assertThat(h.cp.queue().pending(b)).anyMatch(NodeCommand::hasDetachVolume);
    assertThat(
            code(
                () ->
                    ctl.controllerUnpublishVolume(
                        ControllerUnpublishVolumeRequest.newBuilder()
                            .setVolumeId(NS + ".nope")
                            .setNodeId(b)
                            .build())))
        .isEqualTo(Status.Code.OK);
    h.cp.registry().heartbeat(a);
    ctl.deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
    assertThat(h.cp.manager().get(id)).isEmpty();
    assertThat(h.claim("pvc-pub")).isNull();
  }
}
