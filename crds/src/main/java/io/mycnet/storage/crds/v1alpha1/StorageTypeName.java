package io.mycnet.storage.crds.v1alpha1;

/**
 * Storage types as they are spelled in custom resources. Each carries defaults (classification,
 * replicas, consistency) that a claim may tighten, never loosen.
 */
public enum StorageTypeName {
  INFRASTRUCTURE,
  CONSENSUS,
  DISCOVERY,
  CONFIGURATION,
  SERVICE
}
