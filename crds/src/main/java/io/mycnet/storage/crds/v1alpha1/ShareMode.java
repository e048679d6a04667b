package io.mycnet.storage.crds.v1alpha1;

/** How a shared claim may be used by the service namespaces it is shared with. */
public enum ShareMode {
  ReadOnly,
  ReadWrite
}
