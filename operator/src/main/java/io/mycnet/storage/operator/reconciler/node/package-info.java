/**
 * Operator actions on nodes requested through annotations on the Kubernetes {@code Node} objects:
 * removal and re-admission ({@link io.mycnet.storage.operator.reconciler.node.NodeActionWatcher}).
 */
package io.mycnet.storage.operator.reconciler.node;
