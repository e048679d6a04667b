/**
 * The Kubernetes adapter of the control plane: one JOSDK reconciler per custom resource, each in
 * its own package with its mapper (custom resource to domain object, with the validation a schema
 * cannot express), its status factory and its package documentation. Reconcilers are thin: they
 * gather the model once, hand the decision to the domain services ({@code allocation}, {@code
 * trust}) and write status with {@code observedGeneration} and conditions. The classes here are
 * what the four share: conditions with an injected clock, quantities, Kubernetes events, and the
 * exception that names an invalid field.
 */
package io.mycnet.storage.operator.reconciler;
