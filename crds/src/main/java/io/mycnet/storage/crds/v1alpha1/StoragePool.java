package io.mycnet.storage.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
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
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Nodes",
    jsonPath = ".status.nodes",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Capacity",
    jsonPath = ".status.capacity",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Used",
    jsonPath = ".status.used",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Strategy",
    jsonPath = ".spec.defaultStrategy",
    type = AdditionalPrinterColumn.Type.STRING,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class StoragePool extends CustomResource<StoragePoolSpec, StoragePoolStatus> {
  public static final String GROUP = "storage.mycnet.io";
  public static final String VERSION = "v1alpha1";

  @Override
  protected StoragePoolSpec initSpec() {
    return new StoragePoolSpec();
  }
}
