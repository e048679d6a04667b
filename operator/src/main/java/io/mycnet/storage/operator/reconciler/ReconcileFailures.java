package io.mycnet.storage.operator.reconciler;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.CustomResource;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The one way every reconciler reports that it could not do its work: the spec is invalid (a
 * warning event, once per distinct problem) or reconciling failed (Ready=False with {@link
 * CommonReason#RECONCILE_ERROR} or {@link CommonReason#STORE_UNAVAILABLE}, the rest of the status
 * kept).
 */
public final class ReconcileFailures {
  private final Conditions conditions;
  private final KubeEvents events;

  public ReconcileFailures(Conditions conditions, KubeEvents events) {
    this.conditions = conditions;
    this.events = events;
  }

  /**
   * Records a warning event for an invalid spec, unless {@code current} (the resource's conditions)
   * already says so: Ready is False with a message that starts with the problem. The status itself
   * is the resource's status factory's to write.
   */
  public void invalidSpec(
      CustomResource<?, ?> resource, List<Condition> current, InvalidFieldException e) {
    boolean already =
        Conditions.find(current, Conditions.READY)
            .map(c -> Conditions.FALSE.equals(c.getStatus()) && startsWith(c, e))
            .orElse(false);
    if (!already) {
      events.warning(resource, CommonReason.INVALID_SPEC, e.getMessage());
    }
  }

  private static boolean startsWith(Condition c, InvalidFieldException e) {
    return c.getMessage() != null && c.getMessage().startsWith(e.getMessage());
  }

  /** The reason a failed reconcile shows: the store being down is told apart. */
  public static Reason reasonOf(Exception e) {
    return e instanceof StoreUnavailableException
        ? CommonReason.STORE_UNAVAILABLE
        : CommonReason.RECONCILE_ERROR;
  }

  /**
   * The status update after a reconcile failed with {@code e}: {@code base} (the status to keep)
   * with Ready=False, {@code reason} and the exception's message, set on {@code resource}.
   *
   * @param conditionsOf reads the conditions of a status
   * @param setConditions writes them
   */
  public <R extends CustomResource<?, S>, S> ErrorStatusUpdateControl<R> reconcileFailed(
      R resource,
      S base,
      Function<S, List<Condition>> conditionsOf,
      BiConsumer<S, List<Condition>> setConditions,
      Reason reason,
      Exception e) {
    setConditions.accept(
        base,
        conditions.set(
            conditionsOf.apply(base),
            Conditions.READY,
            false,
            reason,
            String.valueOf(e.getMessage()),
            resource.getMetadata().getGeneration()));
    resource.setStatus(base);
    return ErrorStatusUpdateControl.patchStatus(resource);
  }
}
