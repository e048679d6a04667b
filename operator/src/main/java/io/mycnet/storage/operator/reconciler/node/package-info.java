/**
 * Operator actions on nodes requested through annotations on the Kubernetes {@code Node} objects:
 * removal and re-admission, attaching and detaching a claim's volume, fencing ({@link
 * io.mycnet.storage.operator.reconciler.node.NodeActionWatcher}).
 */
package io.mycnet.storage.operator.reconciler.node;
