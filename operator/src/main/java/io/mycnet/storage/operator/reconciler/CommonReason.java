package io.mycnet.storage.operator.reconciler;

/** The reasons every custom resource may show on its {@code Ready} condition. */
public enum CommonReason implements Reason {
  /** The schema accepted a field the control plane cannot use; the message names it. */
  INVALID_SPEC("InvalidSpec"),
  /** Reconciling failed with an unexpected error; it is retried. */
  RECONCILE_ERROR("ReconcileError"),
  /** The etcd store could not be reached; reconciling is retried. */
  STORE_UNAVAILABLE("StoreUnavailable");

  private final String text;

  CommonReason(String text) {
    this.text = text;
  }

  @Override
  public String text() {
    return text;
  }
}
