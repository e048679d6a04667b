package io.mycnet.storage.common.settings;

import java.time.Duration;
import java.util.function.Predicate;

/**
 * A rule a setting's value must keep beyond its type: returns what is wrong (the reader puts the
 * setting's name in front of it) or null when the value is fine.
 */
@FunctionalInterface
public interface Check<T> {

  /**
   * @param value the parsed value
   * @param text the value as written
   * @return the problem, or null
   */
  String problem(T value, String text);

  /** {@code ok} must hold; {@code problem} says what is wrong otherwise. */
  static <T> Check<T> that(Predicate<T> ok, String problem) {
    return (v, t) -> ok.test(v) ? null : problem;
  }

  /** A whole number at least {@code min}: "must be >= min, was n". */
  static Check<Integer> atLeast(int min) {
    return (v, t) -> v >= min ? null : "must be >= " + min + ", was " + v;
  }

  /** A decimal number at least {@code min}: "must be >= min, was n". */
  static Check<Double> atLeast(double min) {
    return (v, t) -> v >= min ? null : "must be >= " + min + ", was " + v;
  }

  /** A port number, 0 (any free port) to 65535. */
  static Check<Integer> port() {
    return (v, t) -> v >= 0 && v <= 65535 ? null : "must be a port 0..65535, was " + t;
  }

  /** A duration at least {@code min}: "must be at least 1s, was 500ms". */
  static Check<Duration> atLeast(Duration min) {
    return (v, t) ->
        v.compareTo(min) >= 0
            ? null
            : "must be at least "
                + ValueType.formatDuration(min)
                + ", was "
                + ValueType.formatDuration(v);
  }
}
