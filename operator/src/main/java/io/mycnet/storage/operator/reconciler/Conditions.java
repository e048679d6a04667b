package io.mycnet.storage.operator.reconciler;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Conditions as the Kubernetes API conventions define them: one per type, {@code status} True,
 * False or Unknown, a CamelCase {@code reason}, a human {@code message}, the generation they were
 * computed from, and a {@code lastTransitionTime} that changes only when the status does. Time
 * comes from the injected {@link Clock}, so tests are reproducible.
 */
public final class Conditions {
  public static final String READY = "Ready";
  public static final String TRUE = "True";
  public static final String FALSE = "False";

  private final Clock clock;

  public Conditions(Clock clock) {
    this.clock = clock;
  }

  /** Now, as RFC 3339 with second precision (the API server's format). */
  public String now() {
    return format(clock.instant());
  }

  public static String format(Instant t) {
    return DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
  }

  /**
   * Returns {@code current} with the condition of {@code type} set. The transition time is kept
   * when the status did not change; the list keeps its order (a new type is appended).
   */
  public List<Condition> set(
      List<Condition> current,
      String type,
      boolean status,
      Reason reason,
      String message,
      Long generation) {
    List<Condition> out = new ArrayList<>(current == null ? List.of() : current);
    String s = status ? TRUE : FALSE;
    for (int i = 0; i < out.size(); i++) {
      Condition c = out.get(i);
      if (type.equals(c.getType())) {
        String since = s.equals(c.getStatus()) ? c.getLastTransitionTime() : now();
        out.set(i, build(type, s, reason.text(), message, generation, since));
        return out;
      }
    }
    out.add(build(type, s, reason.text(), message, generation, now()));
    return out;
  }

  /** Removes the condition of {@code type}, if present. */
  public static List<Condition> remove(List<Condition> current, String type) {
    List<Condition> out = new ArrayList<>(current == null ? List.of() : current);
    out.removeIf(c -> type.equals(c.getType()));
    return out;
  }

  public static Optional<Condition> find(List<Condition> conditions, String type) {
    if (conditions == null) {
      return Optional.empty();
    }
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  private static Condition build(
      String type, String status, String reason, String message, Long generation, String since) {
    return new ConditionBuilder()
        .withType(type)
        .withStatus(status)
        .withReason(reason)
        .withMessage(message == null ? "" : truncate(message))
        .withObservedGeneration(generation)
        .withLastTransitionTime(since)
        .build();
  }

  /** The API server limits condition messages to 32768 bytes; stay well below. */
  static String truncate(String message) {
    return message.length() <= 4096 ? message : message.substring(0, 4093) + "...";
  }
}
