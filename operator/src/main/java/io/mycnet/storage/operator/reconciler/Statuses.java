package io.mycnet.storage.operator.reconciler;

import io.fabric8.kubernetes.client.utils.Serialization;

/** Comparison of status objects by their JSON form (what the API server would store). */
public final class Statuses {
  private Statuses() {}

  /** True when both serialise to the same JSON: patching one over the other changes nothing. */
  public static boolean same(Object a, Object b) {
    if (a == null || b == null) {
      return a == b;
    }
    return Serialization.asJson(a).equals(Serialization.asJson(b));
  }
}
