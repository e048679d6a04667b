package io.mycnet.storage.operator.reconciler.servicenamespace;

import io.mycnet.storage.operator.reconciler.Reason;

/**
 * The reasons a {@code ServiceNamespace}'s conditions and events give (besides the common ones).
 */
public enum ServiceNamespaceReason implements Reason {
  /** Ready: the namespace's policy is in force. */
  ACTIVE("Active"),
  /** PoolsAvailable: every referenced pool exists. */
  ALL_POOLS_EXIST("AllPoolsExist"),
  /** PoolsAvailable: some referenced pools do not exist (or are invalid). */
  POOLS_MISSING("PoolsMissing"),
  /** Event: the policy record was written for the first time. */
  POLICY_CREATED("PolicyCreated"),
  /** Event: the policy record changed. */
  POLICY_UPDATED("PolicyUpdated"),
  /** Event: deleted with deletionPolicy Delete; its volumes were released. */
  VOLUMES_RELEASED("VolumesReleased"),
  /** Event: deleted with deletionPolicy Retain; its volumes were kept. */
  VOLUMES_RETAINED("VolumesRetained");

  private final String text;

  ServiceNamespaceReason(String text) {
    this.text = text;
  }

  @Override
  public String text() {
    return text;
  }
}
