/**
 * Wiring of the operator process: the settings read once from the environment ({@link
 * io.mycnet.storage.operator.runtime.OperatorSettings}, which is also the one place where retry,
 * rate limits, resync and watched namespaces are applied to every controller), the domain services
 * over etcd ({@link io.mycnet.storage.operator.runtime.ControlPlane}), the JOSDK operator with its
 * four reconcilers, Micrometer metrics and the {@code /metrics}, {@code /livez} and {@code /readyz}
 * endpoints ({@link io.mycnet.storage.operator.runtime.OperatorRuntime}). Tests and benchmarks use
 * the same wiring against the Fabric8 mock server with server-side apply switched off.
 */
package io.mycnet.storage.operator.runtime;
