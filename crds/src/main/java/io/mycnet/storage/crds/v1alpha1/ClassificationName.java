package io.mycnet.storage.crds.v1alpha1;

/** Data classifications as they are spelled in custom resources. */
public enum ClassificationName {
  CRITICAL,
  SENSITIVE,
  STANDARD,
  PUBLIC
}
