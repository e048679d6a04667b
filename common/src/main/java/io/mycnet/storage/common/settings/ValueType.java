package io.mycnet.storage.common.settings;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * How the text of a setting becomes a value, and a value text again (for the reference's defaults).
 * {@link #parse} throws {@link IllegalArgumentException} whose message says what is wrong with the
 * text and what would be right; the reader puts the setting's name in front of it.
 *
 * @param describe what the value is, in a word or two (for messages)
 * @param parser text (stripped, never blank) to value
 * @param formatter value to text
 */
public record ValueType<T>(
    String describe, Function<String, T> parser, Function<T, String> formatter) {

  /** Parses a stripped, non-blank text. */
  public T parse(String text) {
    return parser.apply(text);
  }

  /** The value as one would write it. */
  public String format(T value) {
    return formatter.apply(value);
  }

  /** Any text, stripped. */
  public static final ValueType<String> STRING = new ValueType<>("text", s -> s, s -> s);

  /** A whole number (32 bits). */
  public static final ValueType<Integer> INT =
      new ValueType<>(
          "whole number",
          s -> {
            try {
              return Integer.parseInt(s);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("must be a whole number, was '" + s + "'");
            }
          },
          String::valueOf);

  /** A decimal number. */
  public static final ValueType<Double> DECIMAL =
      new ValueType<>(
          "number",
          s -> {
            try {
              double d = Double.parseDouble(s);
              if (Double.isNaN(d) || Double.isInfinite(d)) {
                throw new NumberFormatException();
              }
              return d;
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("must be a number, was '" + s + "'");
            }
          },
          String::valueOf);

  /** {@code true} or {@code false}, in any case. */
  public static final ValueType<Boolean> BOOLEAN =
      new ValueType<>(
          "true or false",
          s -> {
            if (s.equalsIgnoreCase("true")) {
              return true;
            }
            if (s.equalsIgnoreCase("false")) {
              return false;
            }
            throw new IllegalArgumentException("must be true or false, was '" + s + "'");
          },
          String::valueOf);

  /** A duration ({@link DurationText}: 500ms, 15s, 10m, 24h, 7d, 1h30m, PT15S), not negative. */
  public static final ValueType<Duration> DURATION =
      new ValueType<>(
          "duration",
          s -> {
            Duration d;
            try {
              d = DurationText.parse(s);
            } catch (IllegalArgumentException e) {
              throw new IllegalArgumentException(
                  "'" + s + "' is not a duration (e.g. 500ms, 15s, 10m, 2h, PT15S)");
            }
            if (d.isNegative()) {
              throw new IllegalArgumentException("must not be negative, was " + s);
            }
            return d;
          },
          ValueType::formatDuration);

  /** A size in bytes ({@link ByteSize}: 500MiB, 2TiB, 10GB, 1073741824). */
  public static final ValueType<Long> BYTE_SIZE =
      new ValueType<>("size", ByteSize::parse, ByteSize::format);

  /** An address to connect to: {@code host:port}, port 1 to 65535 ({@link HostPort}). */
  public static final ValueType<HostPort> ADDRESS =
      new ValueType<>("host:port", HostPort::parse, HostPort::toString);

  /** An address to listen on: {@code host:port}, port 0 (any free port) to 65535. */
  public static final ValueType<HostPort> LISTEN_ADDRESS =
      new ValueType<>("host:port", HostPort::parseListen, HostPort::toString);

  /** A file system path (not checked for existence; declarations add such checks). */
  public static final ValueType<Path> PATH =
      new ValueType<>(
          "path",
          s -> {
            try {
              return Path.of(s);
            } catch (InvalidPathException e) {
              throw new IllegalArgumentException("'" + s + "' is not a path: " + e.getReason());
            }
          },
          Path::toString);

  /** A comma-separated list of {@code element}s; blanks around and between commas are dropped. */
  public static <E> ValueType<List<E>> listOf(ValueType<E> element) {
    return new ValueType<>(
        "comma-separated list of " + element.describe(),
        s -> {
          List<E> out = new ArrayList<>();
          for (String part : s.split(",")) {
            String p = part.strip();
            if (!p.isEmpty()) {
              out.add(element.parse(p));
            }
          }
          return List.copyOf(out);
        },
        l -> l.stream().map(element::format).collect(Collectors.joining(",")));
  }

  /** One of the constants of {@code type}, written in lower case with '-' for '_'. */
  public static <E extends Enum<E>> ValueType<E> oneOf(Class<E> type) {
    Function<E, String> text = e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    return new ValueType<>(
        "one of " + names(type, text),
        s -> {
          for (E e : type.getEnumConstants()) {
            if (text.apply(e).equalsIgnoreCase(s) || e.name().equalsIgnoreCase(s)) {
              return e;
            }
          }
          throw new IllegalArgumentException(
              "must be one of " + names(type, text) + ", was '" + s + "'");
        },
        text);
  }

  private static <E extends Enum<E>> String names(Class<E> type, Function<E, String> text) {
    return Arrays.stream(type.getEnumConstants()).map(text).collect(Collectors.joining(", "));
  }

  /** The shortest exact text of a duration: {@code 10m}, {@code 24h}, {@code 500ms}, {@code 0s}. */
  public static String formatDuration(Duration d) {
    long ms = d.toMillis();
    if (ms == 0) {
      return "0s";
    }
    long[] sizes = {86_400_000L, 3_600_000L, 60_000L, 1000L};
    String[] units = {"d", "h", "m", "s"};
    for (int i = 0; i < sizes.length; i++) {
      if (ms % sizes[i] == 0 && (i > 0 || ms / sizes[i] > 1)) { // 24h, not 1d
        return ms / sizes[i] + units[i];
      }
    }
    return ms + "ms";
  }
}
