/**
 * The {@code storage.mycnet.io/v1alpha1} API: custom resource classes from which the CRD YAML under
 * {@code config/crd/} is generated. Each resource is a {@code Foo} class with its {@code FooSpec}
 * (intent, written by people or GitOps) and {@code FooStatus} (what is true, written by the
 * operator). Schema-level validation (required, enums, ranges, patterns) is declared here with the
 * Fabric8 generator annotations; what a schema cannot express is validated by the reconcilers.
 */
package io.mycnet.storage.crds.v1alpha1;
