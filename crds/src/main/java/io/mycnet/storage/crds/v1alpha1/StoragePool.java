package io.mycnet.storage.crds.v1alpha1;

import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A set of nodes that hold replicas together: which nodes (label selector), how their hierarchy is
 * named, and how volumes placed in it are replicated. Cluster-scoped.
 */
@Group(StoragePool.GROUP)
@Version(StoragePool.VERSION)
@Kind("StoragePool")
@Singular("storagepool")
@Plural("storagepools")
@ShortNames("sp")
public class StoragePool extends CustomResource<StoragePoolSpec, StoragePoolStatus> {
  public static final String GROUP = "storage.mycnet.io";
  public static final String VERSION = "v1alpha1";

  @Override
  protected StoragePoolSpec initSpec() {
    return new StoragePoolSpec();
  }

  @Override
  protected StoragePoolStatus initStatus() {
    return new StoragePoolStatus();
  }
}
