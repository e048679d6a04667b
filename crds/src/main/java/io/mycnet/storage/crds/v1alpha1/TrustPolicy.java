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
 * How the control plane computes trust: factor weights, tier thresholds, gates, hysteresis,
 * vetting, decay, the reported-factor cap and quarantine. Cluster-scoped; the one marked {@code
 * default: true} is applied (an unset field keeps the trust engine's default).
 */
@Group(StoragePool.GROUP)
@Version(StoragePool.VERSION)
@Kind("TrustPolicy")
@Singular("trustpolicy")
@Plural("trustpolicies")
@ShortNames("tp")
@AdditionalPrinterColumn(
    name = "Default",
    jsonPath = ".spec.default",
    type = AdditionalPrinterColumn.Type.BOOLEAN)
@AdditionalPrinterColumn(
    name = "Active",
    jsonPath = ".status.active",
    type = AdditionalPrinterColumn.Type.BOOLEAN)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Nodes",
    jsonPath = ".status.nodes",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Evaluated",
    jsonPath = ".status.lastEvaluation",
    type = AdditionalPrinterColumn.Type.DATE)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class TrustPolicy extends CustomResource<TrustPolicySpec, TrustPolicyStatus> {
  @Override
  protected TrustPolicySpec initSpec() {
    return new TrustPolicySpec();
  }
}
