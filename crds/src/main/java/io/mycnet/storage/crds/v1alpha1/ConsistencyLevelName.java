package io.mycnet.storage.crds.v1alpha1;

/** Consistency levels as they are spelled in custom resources; STRONG is the stricter. */
public enum ConsistencyLevelName {
  STRONG,
  EVENTUAL
}
