package io.mycnet.storage.operator.csi;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.api.v1.NamespaceUsage;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StorageClaimSpec;
import io.mycnet.storage.crds.v1alpha1.StorageClaimStatus;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.v1.CapacityRange;
import io.mycnet.storage.csi.v1.ControllerExpandVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerExpandVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerGetCapabilitiesRequest;
import io.mycnet.storage.csi.v1.ControllerGetCapabilitiesResponse;
import io.mycnet.storage.csi.v1.ControllerGetVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerGetVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerPublishVolumeResponse;
import io.mycnet.storage.csi.v1.ControllerServiceCapability;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeRequest;
import io.mycnet.storage.csi.v1.ControllerUnpublishVolumeResponse;
import io.mycnet.storage.csi.v1.CreateVolumeRequest;
import io.mycnet.storage.csi.v1.CreateVolumeResponse;
import io.mycnet.storage.csi.v1.DeleteVolumeRequest;
import io.mycnet.storage.csi.v1.DeleteVolumeResponse;
import io.mycnet.storage.csi.v1.GetCapacityRequest;
import io.mycnet.storage.csi.v1.GetCapacityResponse;
import io.mycnet.storage.csi.v1.ListVolumesRequest;
import io.mycnet.storage.csi.v1.ListVolumesResponse;
import io.mycnet.storage.csi.v1.Topology;
import io.mycnet.storage.csi.v1.ValidateVolumeCapabilitiesRequest;
import io.mycnet.storage.csi.v1.ValidateVolumeCapabilitiesResponse;
import io.mycnet.storage.csi.v1.Volume;
import io.mycnet.storage.csi.v1.VolumeCapability;
import io.mycnet.storage.csi.v1.VolumeCondition;
import io.mycnet.storage.operator.allocation.ClusterViewCache;
import io.mycnet.storage.operator.allocation.NodeSnapshot;
import io.mycnet.storage.operator.allocation.NodeTrustSource;
import io.mycnet.storage.operator.allocation.TrustAwareStorageManager;
import io.mycnet.storage.operator.attachment.AttachmentRefusedException;
import io.mycnet.storage.operator.attachment.AttachmentService;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.pool.PoolDefinition;
import io.mycnet.storage.operator.pool.PoolDirectory;
import io.mycnet.storage.operator.reconciler.Conditions;
import io.mycnet.storage.operator.reconciler.Quantities;
import io.mycnet.storage.operator.reconciler.servicenamespace.ServiceNamespaceMapper;
import io.mycnet.storage.operator.reconciler.storageclaim.StorageClaimMapper;
import io.mycnet.storage.operator.reconciler.storageclaim.StorageClaimReason;
import io.mycnet.storage.operator.reconciler.storageclaim.VolumeIds;
import io.mycnet.storage.operator.store.NotLeaderException;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI Controller service (spec v1.9.0; docs/csi.md, "Controller"). A CSI volume is a
 * StorageClaim: CreateVolume creates the claim (its name from {@link VolumeNames}) and waits until
 * the reconciler has allocated it; DeleteVolume deletes it and waits until the volume is released;
 * ControllerExpandVolume grows its {@code spec.size}. Publish and unpublish are the attachment
 * service's attach and detach; a publish that finds the volume held read-write by a node whose
 * liveness lease has expired fences that node first (the consumer failover). Only the leader acts:
 * a standby answers UNAVAILABLE. Two operations on one volume (or one CreateVolume name) at once:
 * the second is ABORTED.
 */
public final class CsiController extends ControllerGrpc.ControllerImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(CsiController.class);

  /** Who asked for an attachment (kept in the allocation as {@code requested_by}). */
  static final String REQUESTED_BY = "csi";

  /** Ready=False reasons after which a new claim will never become Ready without a change. */
  private static final Set<String> INVALID_REASONS =
      Set.of(
          "InvalidSpec",
          StorageClaimReason.NOT_ALLOWED.text(),
          StorageClaimReason.SERVICE_NAMESPACE_NOT_FOUND.text(),
          StorageClaimReason.SPEC_CONFLICT.text());

  private static final Duration POLL = Duration.ofMillis(200);

  /** What the controller works with, each a part of the running control plane. */
  public record Parts(
      KubernetesClient kube,
      TrustAwareStorageManager manager,
      AttachmentService attachments,
      NodeRegistry registry,
      ClusterViewCache cluster,
      PoolDirectory pools,
      NodeTrustSource trust,
      BooleanSupplier isLeader) {}

  /**
   * How long the controller waits.
   *
   * @param create for a new claim to become Ready (then DEADLINE_EXCEEDED; a retry finds the claim)
   * @param noPlacement how long NoPlacement may last before CreateVolume gives up (the claim is
   *     deleted, RESOURCE_EXHAUSTED)
   * @param delete for a deleted claim's volume to be released
   * @param expand for a grown claim's volume to have the new size
   */
  public record Timeouts(Duration create, Duration noPlacement, Duration delete, Duration expand) {
    public static Timeouts defaults() {
      return new Timeouts(
          Duration.ofSeconds(60),
          Duration.ofSeconds(10),
          Duration.ofSeconds(60),
          Duration.ofSeconds(60));
    }
  }

  private final Parts parts;
  private final Timeouts timeouts;
  private final Set<String> inFlight = ConcurrentHashMap.newKeySet();

  public CsiController(Parts parts, Timeouts timeouts) {
    this.parts = parts;
    this.timeouts = timeouts;
  }

  // ------------------------------------------------------------------ CreateVolume

  @Override
  public void createVolume(CreateVolumeRequest req, StreamObserver<CreateVolumeResponse> out) {
    answer(out, "CreateVolume", () -> create(req));
  }

  private CreateVolumeResponse create(CreateVolumeRequest req) {
    String name = req.getName();
    if (name.isBlank()) {
      throw CsiErrors.invalid("name must be set");
    }
    VolumeCapabilities.require(req.getVolumeCapabilitiesList());
    if (req.hasVolumeContentSource()) {
      throw CsiErrors.invalid(
          "volume_content_source is not supported: this driver creates empty volumes only (no"
              + " snapshots, no clones)");
    }
    VolumeParameters p = VolumeParameters.parse(req.getParametersMap());
    CapacityRange range = req.hasCapacityRange() ? req.getCapacityRange() : null;
    long size = CapacityRanges.size(range);
    String claimName = VolumeNames.claimName(name);
    requireLeader();
    try (InFlight ignored = begin("volume name " + name)) {
      ServiceNamespace sn = serviceNamespace(p);
      String ns = sn.getMetadata().getNamespace();
      StorageClaimSpec wanted = spec(p, sn, size);
      StorageClaim existing = claims(ns).withName(claimName).get();
      if (existing != null) {
        String diff = incompatibility(existing, name, wanted, range);
        if (diff != null) {
          throw CsiErrors.alreadyExists(
              "volume '"
                  + name
                  + "' exists as StorageClaim "
                  + ns
                  + "/"
                  + claimName
                  + " with "
                  + diff);
        }
      } else {
        refuseEarly(sn, p, size);
        StorageClaim c = new StorageClaim();
        c.setMetadata(
            new ObjectMetaBuilder()
                .withName(claimName)
                .withNamespace(ns)
                .addToLabels(CsiNames.LABEL_CSI, "true")
                .addToAnnotations(CsiNames.ANNOTATION_CSI_NAME, name)
                .build());
        c.setSpec(wanted);
        consumerTopology(req)
            .ifPresent(
                at ->
                    c.getMetadata().getAnnotations().put(StorageClaimMapper.CONSUMER_TOPOLOGY, at));
        try {
          claims(ns).resource(c).create();
          LOG.info("CreateVolume {}: StorageClaim {}/{} created", name, ns, claimName);
        } catch (KubernetesClientException e) {
          if (e.getCode() != 409) {
            throw e;
          }
          // Created meanwhile by another call: wait for it like a retry would.
        }
      }
      StorageClaim ready = awaitCreated(ns, claimName, name);
      return CreateVolumeResponse.newBuilder().setVolume(volumeOf(ready)).build();
    }
  }

  /**
   * Where the volume's consumer will run: the node of the first preferred topology (then the first
   * requisite one) that names a registered node; its topology path. The volume stays reachable from
   * every node (through the block frontend), so this is only a preference for the placement.
   */
  private Optional<String> consumerTopology(CreateVolumeRequest req) {
    if (!req.hasAccessibilityRequirements()) {
      return Optional.empty();
    }
    List<Topology> ts = new ArrayList<>(req.getAccessibilityRequirements().getPreferredList());
    ts.addAll(req.getAccessibilityRequirements().getRequisiteList());
    for (Topology t : ts) {
      String node = t.getSegmentsMap().get(CsiNames.TOPOLOGY_NODE);
      if (node != null) {
        Optional<NodeRecord> r = nodeRecord(node);
        if (r.isPresent() && !r.get().getTopologyPath().isBlank()) {
          return Optional.of(r.get().getTopologyPath());
        }
      }
    }
    return Optional.empty();
  }

  /** The claim spec CreateVolume writes for these parameters. */
  private static StorageClaimSpec spec(VolumeParameters p, ServiceNamespace sn, long size) {
    StorageClaimSpec s = new StorageClaimSpec();
    s.setServiceNamespace(sn.getMetadata().getName());
    s.setPool(p.pool());
    s.setSize(new Quantity(Long.toString(size)));
    s.setStorageType(p.storageType());
    s.setClassification(p.classification());
    if (p.replicas() != null || p.consistency() != null || p.strategy() != null) {
      StorageClaimSpec.Replication r = new StorageClaimSpec.Replication();
      r.setReplicas(p.replicas());
      r.setConsistency(p.consistency());
      r.setStrategy(p.strategy());
      s.setReplication(r);
    }
    return s;
  }

  /** What makes an existing claim a different volume than the one asked for, or null. */
  private static String incompatibility(
      StorageClaim existing, String name, StorageClaimSpec wanted, CapacityRange range) {
    Map<String, String> ann = existing.getMetadata().getAnnotations();
    String owner = ann == null ? null : ann.get(CsiNames.ANNOTATION_CSI_NAME);
    if (!name.equals(owner)) {
      return owner == null
          ? "no CreateVolume name: it was not created through CSI"
          : "another CreateVolume name ('" + owner + "')";
    }
    StorageClaimSpec have = existing.getSpec();
    long haveSize =
        existing.getStatus() != null && existing.getStatus().getSizeBytes() != null
            ? existing.getStatus().getSizeBytes()
            : Quantities.bytes("spec.size", have.getSize());
    long wantSize = Quantities.bytes("spec.size", wanted.getSize());
    if (range != null ? !CapacityRanges.fits(haveSize, range) : haveSize != wantSize) {
      return "size " + haveSize + " bytes, not " + wantSize;
    }
    List<String> diffs = new ArrayList<>();
    diff(diffs, "serviceNamespace", have.getServiceNamespace(), wanted.getServiceNamespace());
    diff(diffs, "pool", have.getPool(), wanted.getPool());
    diff(diffs, "storageType", have.getStorageType(), wanted.getStorageType());
    diff(diffs, "classification", have.getClassification(), wanted.getClassification());
    StorageClaimSpec.Replication hr = have.getReplication();
    StorageClaimSpec.Replication wr = wanted.getReplication();
    diff(
        diffs,
        "replicas",
        hr == null ? null : hr.getReplicas(),
        wr == null ? null : wr.getReplicas());
    diff(
        diffs,
        "consistency",
        hr == null ? null : hr.getConsistency(),
        wr == null ? null : wr.getConsistency());
    diff(
        diffs,
        "strategy",
        hr == null ? null : hr.getStrategy(),
        wr == null ? null : wr.getStrategy());
    return diffs.isEmpty() ? null : "other parameters: " + String.join(", ", diffs);
  }

  private static void diff(List<String> out, String field, Object have, Object want) {
    if (!Objects.equals(have, want)) {
      out.add(field + " " + (have == null ? "unset" : have) + " (asked: " + want + ")");
    }
  }

  /**
   * The refusals the ServiceNamespace decides (allowed classification and storage type, quota),
   * checked before anything is created; the reconciler checks them again (and decides races).
   */
  private void refuseEarly(ServiceNamespace sn, VolumeParameters p, long size) {
    String id = ServiceNamespaceMapper.storeId(sn);
    Optional<NamespaceRecord> rec = parts.manager().getNamespace(id);
    if (rec.isEmpty()) {
      return; // not reconciled yet: the claim reconciler decides
    }
    NamespaceRecord r = rec.get();
    StorageType type = StorageType.valueOf(p.storageType().name());
    Classification c =
        p.classification() == null
            ? type.defaultClassification()
            : Classification.valueOf(p.classification().name());
    if (!r.getAllowedClassificationsList().isEmpty()
        && !r.getAllowedClassificationsList().contains(ProtoMapping.toProto(c))) {
      throw CsiErrors.invalid(
          "classification "
              + c
              + " is not allowed in ServiceNamespace "
              + sn.getMetadata().getNamespace()
              + "/"
              + sn.getMetadata().getName()
              + " (allowed: "
              + String.join(", ", names(sn))
              + ")");
    }
    if (!r.getAllowedStorageTypesList().isEmpty()
        && !r.getAllowedStorageTypesList().contains(ProtoMapping.toProto(type))) {
      throw CsiErrors.invalid(
          "storage type "
              + type
              + " is not allowed in ServiceNamespace "
              + sn.getMetadata().getNamespace()
              + "/"
              + sn.getMetadata().getName());
    }
    NamespaceUsage u = parts.manager().namespaceUsage(id);
    if (r.getQuotaBytes() > 0 && u.getUsedBytes() + size > r.getQuotaBytes()) {
      throw CsiErrors.exhausted(
          "ServiceNamespace "
              + sn.getMetadata().getNamespace()
              + "/"
              + sn.getMetadata().getName()
              + " quota exceeded: "
              + u.getUsedBytes()
              + " of "
              + r.getQuotaBytes()
              + " bytes used, "
              + size
              + " more requested");
    }
    if (r.getQuotaVolumes() > 0 && u.getVolumeCount() + 1 > r.getQuotaVolumes()) {
      throw CsiErrors.exhausted(
          "ServiceNamespace "
              + sn.getMetadata().getNamespace()
              + "/"
              + sn.getMetadata().getName()
              + " quota exceeded: "
              + u.getVolumeCount()
              + " of "
              + r.getQuotaVolumes()
              + " volumes used");
    }
  }

  private static List<String> names(ServiceNamespace sn) {
    List<String> out = new ArrayList<>();
    if (sn.getSpec() != null && sn.getSpec().getAllowedClassifications() != null) {
      for (ClassificationName c : sn.getSpec().getAllowedClassifications()) {
        out.add(c.name());
      }
    }
    return out;
  }

  /**
   * Waits until the claim is Ready with a volume id. A permanent refusal deletes the claim (nothing
   * stays allocated) and answers INVALID_ARGUMENT or RESOURCE_EXHAUSTED with the condition's
   * message; so does a NoPlacement that lasts.
   */
  private StorageClaim awaitCreated(String ns, String claimName, String name) {
    long deadline = System.nanoTime() + timeouts.create().toNanos();
    long noPlacementSince = 0;
    String last = "no status yet";
    while (true) {
      StorageClaim c = claims(ns).withName(claimName).get();
      if (c == null) {
        throw CsiErrors.aborted(
            "StorageClaim "
                + ns
                + "/"
                + claimName
                + " was deleted while volume '"
                + name
                + "' was being created; retry");
      }
      Condition ready = readyOf(c).orElse(null);
      StorageClaimStatus st = c.getStatus();
      boolean current =
          st != null && Objects.equals(st.getObservedGeneration(), c.getMetadata().getGeneration());
      if (ready != null && current) {
        last = ready.getReason() + ": " + ready.getMessage();
        if (Conditions.TRUE.equals(ready.getStatus()) && st.getVolumeId() != null) {
          return c;
        }
        String reason = ready.getReason();
        if (INVALID_REASONS.contains(reason)) {
          deleteQuietly(ns, claimName);
          throw CsiErrors.invalid(ready.getMessage());
        }
        if (StorageClaimReason.QUOTA_EXCEEDED.text().equals(reason)) {
          deleteQuietly(ns, claimName);
          throw CsiErrors.exhausted(ready.getMessage());
        }
        if (StorageClaimReason.NO_PLACEMENT.text().equals(reason)) {
          if (noPlacementSince == 0) {
            noPlacementSince = System.nanoTime();
          } else if (System.nanoTime() - noPlacementSince > timeouts.noPlacement().toNanos()) {
            deleteQuietly(ns, claimName);
            throw CsiErrors.exhausted(ready.getMessage());
          }
        } else {
          noPlacementSince = 0;
        }
      }
      if (System.nanoTime() > deadline) {
        throw CsiErrors.deadline(
            "volume '"
                + name
                + "' (StorageClaim "
                + ns
                + "/"
                + claimName
                + ") is not ready yet ("
                + last
                + "); retry to keep waiting");
      }
      sleep();
    }
  }

  private void deleteQuietly(String ns, String claimName) {
    try {
      claims(ns).withName(claimName).delete();
      LOG.info("StorageClaim {}/{} deleted: CreateVolume was refused", ns, claimName);
    } catch (KubernetesClientException e) {
      LOG.warn("StorageClaim {}/{} could not be deleted: {}", ns, claimName, e.getMessage());
    }
  }

  /**
   * The ServiceNamespace a volume belongs to: the {@code serviceNamespace} parameter ({@code
   * namespace/name}; a bare name in the PVC's namespace, else the only one of that name), else the
   * ServiceNamespace of the PVC's Kubernetes namespace (the one named like it, else the only one).
   */
  private ServiceNamespace serviceNamespace(VolumeParameters p) {
    String ref = p.serviceNamespace();
    if (ref != null) {
      int slash = ref.indexOf('/');
      if (slash > 0) {
        return namedServiceNamespace(ref.substring(0, slash), ref.substring(slash + 1));
      }
      if (p.pvcNamespace() != null) {
        return namedServiceNamespace(p.pvcNamespace(), ref);
      }
      List<ServiceNamespace> all =
          parts.kube().resources(ServiceNamespace.class).inAnyNamespace().list().getItems().stream()
              .filter(s -> ref.equals(s.getMetadata().getName()))
              .toList();
      if (all.size() == 1) {
        return all.get(0);
      }
      throw CsiErrors.invalid(
          all.isEmpty()
              ? "no ServiceNamespace is named '"
                  + ref
                  + "' (StorageClass parameter '"
                  + CsiNames.PARAM_SERVICE_NAMESPACE
                  + "')"
              : "ServiceNamespace '"
                  + ref
                  + "' exists in "
                  + all.size()
                  + " Kubernetes namespaces: set StorageClass parameter '"
                  + CsiNames.PARAM_SERVICE_NAMESPACE
                  + "' to <kubernetes namespace>/"
                  + ref);
    }
    String ns = p.pvcNamespace();
    if (ns == null) {
      throw CsiErrors.invalid(
          "no ServiceNamespace given: set StorageClass parameter '"
              + CsiNames.PARAM_SERVICE_NAMESPACE
              + "' (<kubernetes namespace>/<name>), or run the external-provisioner with"
              + " --extra-create-metadata so that '"
              + CsiNames.PARAM_PVC_NAMESPACE
              + "' names the PVC's namespace");
    }
    List<ServiceNamespace> there =
        parts.kube().resources(ServiceNamespace.class).inNamespace(ns).list().getItems();
    for (ServiceNamespace s : there) {
      if (ns.equals(s.getMetadata().getName())) {
        return s;
      }
    }
    if (there.size() == 1) {
      return there.get(0);
    }
    throw CsiErrors.invalid(
        (there.isEmpty()
                ? "Kubernetes namespace " + ns + " has no ServiceNamespace"
                : "Kubernetes namespace "
                    + ns
                    + " has "
                    + there.size()
                    + " ServiceNamespaces and none is named "
                    + ns)
            + ": set StorageClass parameter '"
            + CsiNames.PARAM_SERVICE_NAMESPACE
            + "' (<kubernetes namespace>/<name>)");
  }

  private ServiceNamespace namedServiceNamespace(String ns, String name) {
    ServiceNamespace s =
        parts.kube().resources(ServiceNamespace.class).inNamespace(ns).withName(name).get();
    if (s == null || s.getMetadata().getDeletionTimestamp() != null) {
      throw CsiErrors.invalid(
          "ServiceNamespace "
              + ns
              + "/"
              + name
              + " does not exist (StorageClass parameter '"
              + CsiNames.PARAM_SERVICE_NAMESPACE
              + "')");
    }
    return s;
  }

  // ------------------------------------------------------------------ DeleteVolume

  @Override
  public void deleteVolume(DeleteVolumeRequest req, StreamObserver<DeleteVolumeResponse> out) {
    answer(out, "DeleteVolume", () -> delete(req));
  }

  private DeleteVolumeResponse delete(DeleteVolumeRequest req) {
    String id = req.getVolumeId();
    if (id.isBlank()) {
      throw CsiErrors.invalid("volume_id must be set");
    }
    requireLeader();
    var ref = VolumeIds.claimOf(id);
    if (ref.isEmpty()) {
      return DeleteVolumeResponse.getDefaultInstance(); // no claim can have it: unknown
    }
    try (InFlight ignored = begin(id)) {
      String ns = ref.get().getNamespace().orElseThrow();
      String name = ref.get().getName();
      Optional<Allocation> a = allocation(id);
      if (a.isPresent() && a.get().getAttachmentsCount() > 0) {
        throw CsiErrors.precondition(
            "volume "
                + id
                + " is still published to node"
                + (a.get().getAttachmentsCount() == 1 ? " " : "s ")
                + String.join(
                    ", ", a.get().getAttachmentsList().stream().map(Attachment::getNodeId).toList())
                + ": unpublish it first");
      }
      StorageClaim c = validClaimName(ns, name) ? claims(ns).withName(name).get() : null;
      if (c == null) {
        return DeleteVolumeResponse.getDefaultInstance();
      }
      Map<String, String> labels = c.getMetadata().getLabels();
      if (labels == null || !"true".equals(labels.get(CsiNames.LABEL_CSI))) {
        throw CsiErrors.precondition(
            "StorageClaim "
                + ns
                + "/"
                + name
                + " was not created through CSI: delete it with kubectl, not through the driver");
      }
      claims(ns).withName(name).delete();
      LOG.info("DeleteVolume {}: StorageClaim {}/{} deleted", id, ns, name);
      long deadline = System.nanoTime() + timeouts.delete().toNanos();
      while (allocation(id).isPresent() || claims(ns).withName(name).get() != null) {
        if (System.nanoTime() > deadline) {
          throw CsiErrors.deadline(
              "volume "
                  + id
                  + " is not released yet (its claim is deleted); retry to keep waiting");
        }
        sleep();
      }
      return DeleteVolumeResponse.getDefaultInstance();
    }
  }

  // ------------------------------------------------------------------ publish / unpublish

  @Override
  public void controllerPublishVolume(
      ControllerPublishVolumeRequest req, StreamObserver<ControllerPublishVolumeResponse> out) {
    answer(out, "ControllerPublishVolume", () -> publish(req));
  }

  private ControllerPublishVolumeResponse publish(ControllerPublishVolumeRequest req) {
    String id = req.getVolumeId();
    String node = req.getNodeId();
    if (id.isBlank()) {
      throw CsiErrors.invalid("volume_id must be set");
    }
    if (node.isBlank()) {
      throw CsiErrors.invalid("node_id must be set");
    }
    if (!req.hasVolumeCapability()) {
      throw CsiErrors.invalid("volume_capability must be set");
    }
    String why = VolumeCapabilities.unsupported(req.getVolumeCapability());
    if (why != null) {
      throw CsiErrors.invalid(why);
    }
    boolean readOnly = req.getReadonly() || VolumeCapabilities.readOnly(req.getVolumeCapability());
    requireLeader();
    try (InFlight ignored = begin(id)) {
      Allocation a =
          allocation(id).orElseThrow(() -> CsiErrors.notFound("volume " + id + " does not exist"));
      if (nodeRecord(node).isEmpty()) {
        throw CsiErrors.notFound("node " + node + " is not registered (no agent joined as it)");
      }
      Attachment mine = attachmentOf(a, node);
      if (mine != null && mine.getReadOnly() != readOnly) {
        throw CsiErrors.alreadyExists(
            "volume "
                + id
                + " is published to node "
                + node
                + (mine.getReadOnly() ? " read-only" : " read-write")
                + "; unpublish it before publishing it "
                + (readOnly ? "read-only" : "read-write"));
      }
      if (mine == null) {
        failOver(a, node, readOnly);
        try {
          parts.attachments().attach(id, node, readOnly, REQUESTED_BY);
        } catch (AttachmentRefusedException e) {
          throw refusal(e);
        }
        mine = allocation(id).map(x -> attachmentOf(x, node)).orElse(null);
        if (mine == null) {
          throw CsiErrors.aborted("the attachment of " + id + " to " + node + " changed; retry");
        }
      }
      return ControllerPublishVolumeResponse.newBuilder()
          .putPublishContext(CsiNames.PUBLISH_EXPORT, id)
          .putPublishContext(CsiNames.PUBLISH_READ_ONLY, Boolean.toString(mine.getReadOnly()))
          .putPublishContext(CsiNames.PUBLISH_GENERATION, Long.toString(mine.getGeneration()))
          .build();
    }
  }

  /**
   * The consumer failover: every other node holding the volume in a way that excludes this
   * attachment and whose liveness lease has expired is fenced (its attachments revoked and the
   * volume's epoch raised, so it can never write again). A live holder stays: the attach is refused
   * naming it.
   */
  private void failOver(Allocation a, String node, boolean readOnly) {
    // Fence nothing for a publish the attach would refuse anyway (the node not UP, or not trusted
    // with the volume's classification): the attach then says why.
    Optional<NodeRecord> target = nodeRecord(node);
    Classification c = ProtoMapping.fromProto(a.getClassification());
    if (target.isEmpty()
        || target.get().getState() != NodeState.NODE_STATE_UP
        || !parts.trust().known(node)
        || !parts.trust().trustOf(node).tier().allows(c)) {
      return;
    }
    for (Attachment at : a.getAttachmentsList()) {
      if (at.getNodeId().equals(node) || (at.getReadOnly() && readOnly)) {
        continue;
      }
      if (parts.registry().isLive(at.getNodeId())) {
        continue;
      }
      String reason =
          "its liveness lease expired (silent longer than the node lease TTL) and volume "
              + a.getVolumeId()
              + " is being published to node "
              + node;
      AttachmentService.Outcome o;
      try {
        o = parts.attachments().fence(at.getNodeId(), reason);
      } catch (AttachmentRefusedException e) {
        continue; // fenced meanwhile by the replication pass, or removed: the attach decides
      }
      LOG.warn(
          "ControllerPublishVolume {} to {}: node {} fenced, {}",
          a.getVolumeId(),
          node,
          at.getNodeId(),
          o.message());
    }
  }

  private static StatusRuntimeException refusal(AttachmentRefusedException e) {
    return switch (e.kind()) {
      case INVALID -> CsiErrors.invalid(e.getMessage());
      case NOT_FOUND -> CsiErrors.notFound(e.getMessage());
      case OTHER_MODE -> CsiErrors.alreadyExists(e.getMessage());
      case NOT_READY, HELD_ELSEWHERE, TRUST -> CsiErrors.precondition(e.getMessage());
      case TRUST_UNKNOWN -> CsiErrors.unavailable(e.getMessage());
    };
  }

  @Override
  public void controllerUnpublishVolume(
      ControllerUnpublishVolumeRequest req, StreamObserver<ControllerUnpublishVolumeResponse> out) {
    answer(out, "ControllerUnpublishVolume", () -> unpublish(req));
  }

  private ControllerUnpublishVolumeResponse unpublish(ControllerUnpublishVolumeRequest req) {
    String id = req.getVolumeId();
    if (id.isBlank()) {
      throw CsiErrors.invalid("volume_id must be set");
    }
    requireLeader();
    try (InFlight ignored = begin(id)) {
      Optional<Allocation> a = allocation(id);
      if (a.isEmpty()) {
        return ControllerUnpublishVolumeResponse.getDefaultInstance();
      }
      List<String> nodes =
          req.getNodeId().isBlank()
              ? a.get().getAttachmentsList().stream().map(Attachment::getNodeId).toList()
              : List.of(req.getNodeId());
      for (String node : nodes) {
        if (attachmentOf(a.get(), node) == null) {
          continue;
        }
        try {
          parts.attachments().detach(id, node, "unpublished through CSI");
        } catch (AttachmentRefusedException e) {
          if (e.kind() != AttachmentRefusedException.Kind.NOT_FOUND) {
            throw refusal(e);
          }
        }
      }
      return ControllerUnpublishVolumeResponse.getDefaultInstance();
    }
  }

  // ------------------------------------------------------------------ reads

  @Override
  public void validateVolumeCapabilities(
      ValidateVolumeCapabilitiesRequest req,
      StreamObserver<ValidateVolumeCapabilitiesResponse> out) {
    answer(
        out,
        "ValidateVolumeCapabilities",
        () -> {
          String id = req.getVolumeId();
          if (id.isBlank()) {
            throw CsiErrors.invalid("volume_id must be set");
          }
          if (req.getVolumeCapabilitiesCount() == 0) {
            throw CsiErrors.invalid("volume_capabilities must be set");
          }
          requireLeader();
          if (allocation(id).isEmpty()) {
            throw CsiErrors.notFound("volume " + id + " does not exist");
          }
          for (VolumeCapability c : req.getVolumeCapabilitiesList()) {
            String why = VolumeCapabilities.unsupported(c);
            if (why != null) {
              return ValidateVolumeCapabilitiesResponse.newBuilder().setMessage(why).build();
            }
          }
          try {
            VolumeParameters.parse(req.getParametersMap());
          } catch (StatusRuntimeException e) {
            return ValidateVolumeCapabilitiesResponse.newBuilder()
                .setMessage(e.getStatus().getDescription())
                .build();
          }
          return ValidateVolumeCapabilitiesResponse.newBuilder()
              .setConfirmed(
                  ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
                      .putAllVolumeContext(req.getVolumeContextMap())
                      .addAllVolumeCapabilities(req.getVolumeCapabilitiesList())
                      .putAllParameters(req.getParametersMap()))
              .build();
        });
  }

  @Override
  public void listVolumes(ListVolumesRequest req, StreamObserver<ListVolumesResponse> out) {
    answer(
        out,
        "ListVolumes",
        () -> {
          if (req.getMaxEntries() < 0) {
            throw CsiErrors.invalid("max_entries must not be negative, was " + req.getMaxEntries());
          }
          String after = PageTokens.parse(req.getStartingToken());
          requireLeader();
          List<Allocation> all =
              parts.manager().list().stream()
                  .sorted(Comparator.comparing(Allocation::getVolumeId))
                  .filter(a -> a.getVolumeId().compareTo(after) > 0)
                  .toList();
          int n = req.getMaxEntries() == 0 ? all.size() : Math.min(req.getMaxEntries(), all.size());
          ListVolumesResponse.Builder b = ListVolumesResponse.newBuilder();
          for (Allocation a : all.subList(0, n)) {
            b.addEntries(
                ListVolumesResponse.Entry.newBuilder()
                    .setVolume(volumeOf(a))
                    .setStatus(
                        ListVolumesResponse.VolumeStatus.newBuilder()
                            .addAllPublishedNodeIds(publishedNodes(a))
                            .setVolumeCondition(condition(a))));
          }
          if (n < all.size()) {
            b.setNextToken(PageTokens.after(all.get(n - 1).getVolumeId()));
          }
          return b.build();
        });
  }

  @Override
  public void controllerGetVolume(
      ControllerGetVolumeRequest req, StreamObserver<ControllerGetVolumeResponse> out) {
    answer(
        out,
        "ControllerGetVolume",
        () -> {
          String id = req.getVolumeId();
          if (id.isBlank()) {
            throw CsiErrors.invalid("volume_id must be set");
          }
          requireLeader();
          Allocation a =
              allocation(id)
                  .orElseThrow(() -> CsiErrors.notFound("volume " + id + " does not exist"));
          return ControllerGetVolumeResponse.newBuilder()
              .setVolume(volumeOf(a))
              .setStatus(
                  ControllerGetVolumeResponse.VolumeStatus.newBuilder()
                      .addAllPublishedNodeIds(publishedNodes(a))
                      .setVolumeCondition(condition(a)))
              .build();
        });
  }

  @Override
  public void getCapacity(GetCapacityRequest req, StreamObserver<GetCapacityResponse> out) {
    answer(out, "GetCapacity", () -> capacity(req));
  }

  private GetCapacityResponse capacity(GetCapacityRequest req) {
    VolumeParameters p = VolumeParameters.parse(req.getParametersMap());
    requireLeader();
    for (VolumeCapability c : req.getVolumeCapabilitiesList()) {
      if (VolumeCapabilities.unsupported(c) != null) {
        return GetCapacityResponse.newBuilder().setAvailableCapacity(0).build();
      }
    }
    Classification c =
        p.classification() != null
            ? Classification.valueOf(p.classification().name())
            : StorageType.valueOf(p.storageType().name()).defaultClassification();
    PoolDefinition pool = null;
    if (p.pool() != null) {
      pool = parts.pools().get(p.pool()).orElse(null);
      if (pool == null) {
        return GetCapacityResponse.newBuilder().setAvailableCapacity(0).build();
      }
    }
    Set<String> live = new HashSet<>(parts.registry().liveNodeIds());
    long free = 0;
    long largest = 0;
    for (NodeSnapshot n : parts.cluster().nodes()) {
      NodeRecord r = n.record();
      if (r.getState() != NodeState.NODE_STATE_UP
          || !live.contains(n.nodeId())
          || !n.tier().allows(c)
          || (pool != null && !pool.contains(r))
          || (req.hasAccessibleTopology() && !within(r, req.getAccessibleTopology()))) {
        continue;
      }
      double overcommit = pool != null ? parts.pools().overcommit(pool.name()) : 1.0;
      long f =
          Math.max(0, TrustAwareStorageManager.capacityLimit(r, overcommit) - n.reservedBytes());
      free += f;
      largest = Math.max(largest, f);
    }
    return GetCapacityResponse.newBuilder()
        .setAvailableCapacity(free)
        .setMaximumVolumeSize(com.google.protobuf.Int64Value.of(largest))
        .build();
  }

  /** True when the node's topology path has every segment of {@code t}. */
  static boolean within(NodeRecord r, Topology t) {
    Map<String, String> mine = segments(r.getTopologyPath());
    for (Map.Entry<String, String> e : t.getSegmentsMap().entrySet()) {
      if (!e.getValue().equals(mine.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** A topology path as CSI topology segments ({@code topology.storage.mycnet.io/<level>}). */
  static Map<String, String> segments(String topologyPath) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    try {
      for (TopologyPath.Segment s : TopologyPath.parse(topologyPath).segments()) {
        out.put(CsiNames.TOPOLOGY_PREFIX + s.level(), s.value());
      }
    } catch (IllegalArgumentException e) {
      // a node without a topology path matches no constraint
    }
    return out;
  }

  @Override
  public void controllerExpandVolume(
      ControllerExpandVolumeRequest req, StreamObserver<ControllerExpandVolumeResponse> out) {
    answer(out, "ControllerExpandVolume", () -> expand(req));
  }

  private ControllerExpandVolumeResponse expand(ControllerExpandVolumeRequest req) {
    String id = req.getVolumeId();
    if (id.isBlank()) {
      throw CsiErrors.invalid("volume_id must be set");
    }
    if (!req.hasCapacityRange()) {
      throw CsiErrors.invalid("capacity_range must be set");
    }
    if (req.hasVolumeCapability()) {
      String why = VolumeCapabilities.unsupported(req.getVolumeCapability());
      if (why != null) {
        throw CsiErrors.invalid(why);
      }
    }
    long size = CapacityRanges.size(req.getCapacityRange());
    requireLeader();
    try (InFlight ignored = begin(id)) {
      Allocation a =
          allocation(id).orElseThrow(() -> CsiErrors.notFound("volume " + id + " does not exist"));
      if (a.getSizeBytes() >= size) {
        return expanded(a.getSizeBytes());
      }
      var ref = VolumeIds.claimOf(id).orElseThrow();
      String ns = ref.getNamespace().orElseThrow();
      String name = ref.getName();
      StorageClaim c = claims(ns).withName(name).get();
      if (c == null) {
        throw CsiErrors.notFound("volume " + id + " has no StorageClaim " + ns + "/" + name);
      }
      Quantity old = c.getSpec().getSize();
      long claimed = Quantities.bytes("spec.size", old);
      if (claimed < size) {
        claims(ns)
            .withName(name)
            .edit(
                x -> {
                  x.getSpec().setSize(new Quantity(Long.toString(size)));
                  return x;
                });
        LOG.info("ControllerExpandVolume {}: StorageClaim {}/{} grows to {}", id, ns, name, size);
      }
      long deadline = System.nanoTime() + timeouts.expand().toNanos();
      while (true) {
        Optional<Allocation> now = allocation(id);
        if (now.isEmpty()) {
          throw CsiErrors.notFound("volume " + id + " was deleted while it was being expanded");
        }
        if (now.get().getSizeBytes() >= size) {
          return expanded(now.get().getSizeBytes());
        }
        StorageClaim cur = claims(ns).withName(name).get();
        Condition ready = cur == null ? null : readyOf(cur).orElse(null);
        if (ready != null
            && cur.getStatus() != null
            && Objects.equals(
                cur.getStatus().getObservedGeneration(), cur.getMetadata().getGeneration())
            && (StorageClaimReason.QUOTA_EXCEEDED.text().equals(ready.getReason())
                || StorageClaimReason.NO_PLACEMENT.text().equals(ready.getReason()))) {
          // Put the claim back to the size the volume has, so nothing keeps retrying it.
          if (claimed < size) {
            claims(ns)
                .withName(name)
                .edit(
                    x -> {
                      x.getSpec().setSize(old);
                      return x;
                    });
          }
          throw CsiErrors.exhausted(ready.getMessage());
        }
        if (System.nanoTime() > deadline) {
          throw CsiErrors.deadline(
              "volume " + id + " has not grown to " + size + " bytes yet; retry to keep waiting");
        }
        sleep();
      }
    }
  }

  private static ControllerExpandVolumeResponse expanded(long size) {
    return ControllerExpandVolumeResponse.newBuilder()
        .setCapacityBytes(size)
        .setNodeExpansionRequired(true)
        .build();
  }

  @Override
  public void controllerGetCapabilities(
      ControllerGetCapabilitiesRequest req, StreamObserver<ControllerGetCapabilitiesResponse> out) {
    ControllerGetCapabilitiesResponse.Builder b = ControllerGetCapabilitiesResponse.newBuilder();
    for (ControllerServiceCapability.RPC.Type t :
        List.of(
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
            ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME,
            ControllerServiceCapability.RPC.Type.LIST_VOLUMES,
            ControllerServiceCapability.RPC.Type.LIST_VOLUMES_PUBLISHED_NODES,
            ControllerServiceCapability.RPC.Type.GET_CAPACITY,
            ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
            ControllerServiceCapability.RPC.Type.GET_VOLUME,
            ControllerServiceCapability.RPC.Type.VOLUME_CONDITION,
            ControllerServiceCapability.RPC.Type.PUBLISH_READONLY,
            ControllerServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)) {
      b.addCapabilities(
          ControllerServiceCapability.newBuilder()
              .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(t)));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  // ------------------------------------------------------------------ shared

  private Volume volumeOf(StorageClaim c) {
    StorageClaimStatus st = c.getStatus();
    Volume.Builder v =
        Volume.newBuilder()
            .setVolumeId(st.getVolumeId())
            .setCapacityBytes(st.getSizeBytes() == null ? 0 : st.getSizeBytes())
            .putVolumeContext(
                CsiNames.CONTEXT_CLAIM,
                c.getMetadata().getNamespace() + "/" + c.getMetadata().getName());
    if (st.getClassification() != null) {
      v.putVolumeContext(CsiNames.CONTEXT_CLASSIFICATION, st.getClassification().name());
    }
    return v.build();
  }

  private static Volume volumeOf(Allocation a) {
    Volume.Builder v =
        Volume.newBuilder().setVolumeId(a.getVolumeId()).setCapacityBytes(a.getSizeBytes());
    VolumeIds.claimOf(a.getVolumeId())
        .ifPresent(
            r ->
                v.putVolumeContext(
                    CsiNames.CONTEXT_CLAIM, r.getNamespace().orElse("") + "/" + r.getName()));
    v.putVolumeContext(
        CsiNames.CONTEXT_CLASSIFICATION, ProtoMapping.fromProto(a.getClassification()).name());
    return v.build();
  }

  private static List<String> publishedNodes(Allocation a) {
    return a.getAttachmentsList().stream().map(Attachment::getNodeId).toList();
  }

  /**
   * Abnormal while the volume is degraded, rebuilding or lost, or while its last attachment ended
   * in a fence and it has not been published since.
   */
  static VolumeCondition condition(Allocation a) {
    VolumeState s = a.getState();
    if (s == VolumeState.VOLUME_STATE_DEGRADED
        || s == VolumeState.VOLUME_STATE_REBUILDING
        || s == VolumeState.VOLUME_STATE_LOST) {
      String state = s.name().replace("VOLUME_STATE_", "");
      return VolumeCondition.newBuilder()
          .setAbnormal(true)
          .setMessage(
              "volume "
                  + a.getVolumeId()
                  + " is "
                  + state
                  + (a.getRepairNote().isEmpty() ? "" : ": " + a.getRepairNote()))
          .build();
    }
    if (a.getAttachmentsCount() == 0 && a.getAttachmentNote().contains(" fenced at ")) {
      return VolumeCondition.newBuilder()
          .setAbnormal(true)
          .setMessage(
              "volume " + a.getVolumeId() + "'s attachment was fenced: " + a.getAttachmentNote())
          .build();
    }
    return VolumeCondition.newBuilder()
        .setAbnormal(false)
        .setMessage(
            "volume "
                + a.getVolumeId()
                + " is "
                + s.name().replace("VOLUME_STATE_", "")
                + " ("
                + a.getReplicasList().stream()
                    .filter(
                        r ->
                            r.getState()
                                == io.mycnet.storage.api.v1.ReplicaState.REPLICA_STATE_HEALTHY)
                    .count()
                + "/"
                + a.getReplicaCount()
                + " replicas healthy)")
        .build();
  }

  private static Attachment attachmentOf(Allocation a, String node) {
    for (Attachment at : a.getAttachmentsList()) {
      if (at.getNodeId().equals(node)) {
        return at;
      }
    }
    return null;
  }

  /** The volume's allocation; empty for an unknown id, also one no volume could have. */
  private Optional<Allocation> allocation(String id) {
    try {
      return parts.manager().get(id);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private Optional<NodeRecord> nodeRecord(String node) {
    try {
      return parts.registry().get(node);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static boolean validClaimName(String ns, String name) {
    return VolumeNames.DNS_LABEL.matcher(ns).matches()
        && name.length() <= 253
        && name.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
  }

  private static Optional<Condition> readyOf(StorageClaim c) {
    return c.getStatus() == null
        ? Optional.empty()
        : Conditions.find(c.getStatus().getConditions(), Conditions.READY);
  }

  private NonNamespaceOperation<
          StorageClaim, KubernetesResourceList<StorageClaim>, Resource<StorageClaim>>
      claims(String ns) {
    return parts.kube().resources(StorageClaim.class).inNamespace(ns);
  }

  private void requireLeader() {
    if (!parts.isLeader().getAsBoolean()) {
      throw CsiErrors.unavailable("not the leader; retry");
    }
  }

  /** Marks {@code key} busy until closed; a second operation on it meanwhile is ABORTED. */
  private InFlight begin(String key) {
    if (!inFlight.add(key)) {
      throw CsiErrors.aborted("an operation on " + key + " is in progress; retry");
    }
    return () -> inFlight.remove(key);
  }

  private interface InFlight extends AutoCloseable {
    @Override
    void close();
  }

  private static void sleep() {
    try {
      Thread.sleep(POLL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CsiErrors.aborted("interrupted; retry");
    }
  }

  /** Runs one RPC, turning every failure into the status a CSI caller acts on. */
  private static <T> void answer(StreamObserver<T> out, String rpc, Supplier<T> call) {
    T result;
    try {
      result = call.get();
    } catch (StatusRuntimeException e) {
      LOG.info("{}: {} {}", rpc, e.getStatus().getCode(), e.getStatus().getDescription());
      out.onError(e);
      return;
    } catch (NotLeaderException e) {
      out.onError(CsiErrors.unavailable("not the leader; retry"));
      return;
    } catch (StoreUnavailableException e) {
      out.onError(
          CsiErrors.unavailable("the control plane's store is unavailable: " + e.getMessage()));
      return;
    } catch (KubernetesClientException e) {
      out.onError(
          CsiErrors.unavailable("the Kubernetes API refused or did not answer: " + e.getMessage()));
      return;
    } catch (RuntimeException e) {
      LOG.error("{} failed", rpc, e);
      out.onError(Status.INTERNAL.withDescription(rpc + " failed: " + e).asRuntimeException());
      return;
    }
    out.onNext(result);
    out.onCompleted();
  }
}
