package io.mycnet.storage.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * An isolated storage namespace for one service: its quota, which classifications, storage types
 * and pools its claims may use, who may access its volumes, what it shares with which other service
 * namespaces, and what happens to its volumes when it is deleted. Namespaced; claims in the same
 * Kubernetes namespace refer to it by name.
 */
@Group(StoragePool.GROUP)
@Version(StoragePool.VERSION)
@Kind("ServiceNamespace")
@Singular("servicenamespace")
@Plural("servicenamespaces")
@ShortNames("sns")
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Used",
    jsonPath = ".status.used",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Quota",
    jsonPath = ".spec.quota.bytes",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Volumes",
    jsonPath = ".status.usedVolumes",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Deletion",
    jsonPath = ".spec.deletionPolicy",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class ServiceNamespace extends CustomResource<ServiceNamespaceSpec, ServiceNamespaceStatus>
    implements Namespaced {
  @Override
  protected ServiceNamespaceSpec initSpec() {
    return new ServiceNamespaceSpec();
  }
}
