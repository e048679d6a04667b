package io.mycnet.storage.csi;

import java.util.Set;

/**
 * The names the CSI driver shares between its controller (in the operator), its node plugin (in the
 * agent), the {@code mycnet} command and the cluster manifests: said once here.
 */
public final class CsiNames {
  /** The driver's name (CSIDriver object, StorageClass provisioner, GetPluginInfo). */
  public static final String DRIVER_NAME = "storage.mycnet.io";

  /**
   * The prefix of the topology keys: a node reports {@code topology.storage.mycnet.io/<level>} for
   * every level of its topology path above the node itself (region, zone, rack), and {@code
   * topology.storage.mycnet.io/node} for itself.
   */
  public static final String TOPOLOGY_PREFIX = "topology.storage.mycnet.io/";

  /** The topology key naming one node. */
  public static final String TOPOLOGY_NODE = TOPOLOGY_PREFIX + "node";

  // StorageClass parameters (CreateVolumeRequest.parameters) the controller understands.
  public static final String PARAM_CLASSIFICATION = "classification";
  public static final String PARAM_REPLICAS = "replicas";
  public static final String PARAM_CONSISTENCY = "consistency";
  public static final String PARAM_STRATEGY = "strategy";
  public static final String PARAM_STORAGE_TYPE = "storageType";
  public static final String PARAM_POOL = "pool";
  public static final String PARAM_SERVICE_NAMESPACE = "serviceNamespace";

  /** Parameters the external-provisioner adds with {@code --extra-create-metadata}. */
  public static final String PARAM_PVC_NAME = "csi.storage.k8s.io/pvc/name";

  public static final String PARAM_PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace";
  public static final String PARAM_PV_NAME = "csi.storage.k8s.io/pv/name";

  /** Every parameter the controller accepts; any other is INVALID_ARGUMENT naming it. */
  public static final Set<String> PARAMETERS =
      Set.of(
          PARAM_CLASSIFICATION,
          PARAM_REPLICAS,
          PARAM_CONSISTENCY,
          PARAM_STRATEGY,
          PARAM_STORAGE_TYPE,
          PARAM_POOL,
          PARAM_SERVICE_NAMESPACE,
          PARAM_PVC_NAME,
          PARAM_PVC_NAMESPACE,
          PARAM_PV_NAME);

  // Volume context (CreateVolumeResponse.volume.volume_context), handed to the node at stage.
  /** {@code <kubernetes namespace>/<claim>}: the StorageClaim behind the volume. */
  public static final String CONTEXT_CLAIM = "storage.mycnet.io/claim";

  public static final String CONTEXT_CLASSIFICATION = "storage.mycnet.io/classification";

  // Publish context (ControllerPublishVolumeResponse.publish_context), handed to the node.
  /** The NBD export name the node's frontend serves the volume under (the volume id). */
  public static final String PUBLISH_EXPORT = "storage.mycnet.io/export";

  /** {@code true} when the attachment is read-only. */
  public static final String PUBLISH_READ_ONLY = "storage.mycnet.io/read-only";

  /** The attachment's generation, so the node can tell a stale publish from the current one. */
  public static final String PUBLISH_GENERATION = "storage.mycnet.io/attachment-generation";

  // Labels and annotations on the StorageClaim a CSI volume is.
  /** Label on every StorageClaim created by CreateVolume (value {@code true}). */
  public static final String LABEL_CSI = "storage.mycnet.io/csi";

  /** Annotation holding the CreateVolume name the claim was created for (idempotency). */
  public static final String ANNOTATION_CSI_NAME = "storage.mycnet.io/csi-name";

  private CsiNames() {}
}
