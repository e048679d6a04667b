package io.mycnet.storage.operator.reconciler;

/**
 * A reason, as a condition's {@code reason} or an event's: one CamelCase word that users and
 * scripts match on (docs/resources.md lists them). Each resource has an enum of its reasons; the
 * ones every resource shares are in {@link CommonReason}. The strings are API and never change.
 */
public interface Reason {
  /** The reason as the API shows it. */
  String text();
}
