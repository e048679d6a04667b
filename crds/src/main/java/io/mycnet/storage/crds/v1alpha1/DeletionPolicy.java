package io.mycnet.storage.crds.v1alpha1;

/** What happens to a service namespace's volumes when its ServiceNamespace is deleted. */
public enum DeletionPolicy {
  /** The volumes stay allocated (in etcd and on the nodes); a new ServiceNamespace adopts them. */
  Retain,
  /** Every volume of the service namespace is released. */
  Delete
}
