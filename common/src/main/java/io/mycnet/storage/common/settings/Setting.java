package io.mycnet.storage.common.settings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One setting, declared once: its name (kebab-case; the flag is {@code --name=value}, the
 * environment variable {@code MYCNET_NAME} with '-' as '_', the file key {@code name}), its type,
 * its default (or that it is required), the rules its value must keep and one line of
 * documentation. Immutable; each {@code with…} method returns a new declaration, so a declaration
 * reads as one expression:
 *
 * <pre>{@code
 * static final Setting<Duration> PROBE_INTERVAL =
 *     Setting.duration("probe-interval")
 *         .defaultValue(Duration.ofMinutes(10))
 *         .check(Check.atLeast(Duration.ofSeconds(1)))
 *         .doc("how often the disk probe runs");
 * }</pre>
 */
public final class Setting<T> {
  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9]*(-[a-z0-9]+)*");

  private final String name;
  private final ValueType<T> type;
  private final T defaultValue;
  private final boolean required;
  private final String defaultText;
  private final List<Check<T>> checks;
  private final String doc;

  private Setting(
      String name,
      ValueType<T> type,
      T defaultValue,
      boolean required,
      String defaultText,
      List<Check<T>> checks,
      String doc) {
    this.name = name;
    this.type = type;
    this.defaultValue = defaultValue;
    this.required = required;
    this.defaultText = defaultText;
    this.checks = List.copyOf(checks);
    this.doc = doc;
  }

  /** A setting of {@code type}, optional without a default until told otherwise. */
  public static <T> Setting<T> of(String name, ValueType<T> type) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("setting name '" + name + "' is not kebab-case");
    }
    return new Setting<>(name, type, null, false, null, List.of(), "");
  }

  public static Setting<String> string(String name) {
    return of(name, ValueType.STRING);
  }

  public static Setting<Integer> integer(String name) {
    return of(name, ValueType.INT);
  }

  public static Setting<Double> decimal(String name) {
    return of(name, ValueType.DECIMAL);
  }

  public static Setting<Boolean> bool(String name) {
    return of(name, ValueType.BOOLEAN);
  }

  public static Setting<Duration> duration(String name) {
    return of(name, ValueType.DURATION);
  }

  public static Setting<Long> byteSize(String name) {
    return of(name, ValueType.BYTE_SIZE);
  }

  /** An address to connect to (port 1 to 65535). */
  public static Setting<HostPort> address(String name) {
    return of(name, ValueType.ADDRESS);
  }

  /** An address to listen on (port 0: any free port). */
  public static Setting<HostPort> listenAddress(String name) {
    return of(name, ValueType.LISTEN_ADDRESS);
  }

  public static Setting<Path> path(String name) {
    return of(name, ValueType.PATH);
  }

  public static Setting<List<String>> list(String name) {
    return of(name, ValueType.listOf(ValueType.STRING));
  }

  public static <E extends Enum<E>> Setting<E> oneOf(String name, Class<E> type) {
    return of(name, ValueType.oneOf(type));
  }

  /** The value when the setting is not given. */
  public Setting<T> defaultValue(T value) {
    return new Setting<>(name, type, value, false, defaultText, checks, doc);
  }

  /** The setting must be given. */
  public Setting<T> required() {
    return new Setting<>(name, type, null, true, defaultText, checks, doc);
  }

  /**
   * How the reference describes the default when it is not a fixed value (computed from another
   * setting, or required only in some cases).
   */
  public Setting<T> defaultText(String text) {
    return new Setting<>(name, type, defaultValue, required, text, checks, doc);
  }

  /** A rule the value must keep; rules are checked in the order they are added. */
  public Setting<T> check(Check<T> check) {
    List<Check<T>> c = new ArrayList<>(checks);
    c.add(check);
    return new Setting<>(name, type, defaultValue, required, defaultText, c, doc);
  }

  /** One line of documentation: what the setting means. */
  public Setting<T> doc(String line) {
    return new Setting<>(name, type, defaultValue, required, defaultText, checks, line);
  }

  public String name() {
    return name;
  }

  /** {@code MYCNET_NAME}: upper case, '-' as '_'. */
  public String envName() {
    return envName(name);
  }

  /** {@code --name}. */
  public String flag() {
    return "--" + name;
  }

  public ValueType<T> type() {
    return type;
  }

  public T defaultValue() {
    return defaultValue;
  }

  public boolean isRequired() {
    return required;
  }

  public String doc() {
    return doc;
  }

  /** Whether the default is a value (shown as code in the reference), not a description. */
  public boolean defaultIsValue() {
    return defaultText == null && !required && defaultValue != null;
  }

  /** The default as the reference shows it. */
  public String defaultDescription() {
    if (defaultText != null) {
      return defaultText;
    }
    if (required) {
      return "required";
    }
    if (defaultValue == null) {
      return "none";
    }
    String t = type.format(defaultValue);
    return t.isEmpty() ? "empty" : t;
  }

  /**
   * Parses {@code text} and applies the checks.
   *
   * @throws IllegalArgumentException saying what is wrong (without the setting's name)
   */
  public T parse(String text) {
    T v = type.parse(text);
    for (Check<T> c : checks) {
      String problem = c.problem(v, text);
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
    }
    return v;
  }

  /** Applies the checks to a value that did not come from text (a default, a programmatic one). */
  public String problem(T value) {
    for (Check<T> c : checks) {
      String problem = c.problem(value, type.format(value));
      if (problem != null) {
        return problem;
      }
    }
    return null;
  }

  /** {@code MYCNET_} and the name in upper case with '-' as '_'. */
  public static String envName(String name) {
    return "MYCNET_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  @Override
  public String toString() {
    return name;
  }
}
