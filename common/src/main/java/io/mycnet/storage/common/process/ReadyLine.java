package io.mycnet.storage.common.process;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The one line a process of the product prints on its standard output once it serves: {@code ready
 * k=v k=v ...}, for example {@code ready session=7443 join=7444}. Whoever started it ({@link
 * ChildProcess#awaitReady}) waits for that line and reads the ports and addresses the process got
 * from it. Keys and values hold no spaces and no {@code =} in a key; the order is the writer's.
 */
public final class ReadyLine {
  /** The first word of the line. */
  public static final String WORD = "ready";

  private ReadyLine() {}

  /** {@code ready k=v ...} of {@code fields}, in their iteration order. */
  public static String format(Map<String, ?> fields) {
    StringBuilder b = new StringBuilder(WORD);
    for (Map.Entry<String, ?> e : fields.entrySet()) {
      String k = e.getKey();
      String v = String.valueOf(e.getValue());
      if (k.isEmpty() || k.contains("=") || k.contains(" ") || v.isEmpty() || v.contains(" ")) {
        throw new IllegalArgumentException("not a ready field: '" + k + "=" + v + "'");
      }
      b.append(' ').append(k).append('=').append(v);
    }
    return b.toString();
  }

  /** {@code ready k1=v1 k2=v2 ...} of alternating keys and values. */
  public static String format(Object... keysAndValues) {
    if (keysAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("keys and values must come in pairs");
    }
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put(String.valueOf(keysAndValues[i]), keysAndValues[i + 1]);
    }
    return format(m);
  }

  /** Prints the ready line of {@code fields} on {@code out} and flushes it. */
  public static void print(PrintStream out, Map<String, ?> fields) {
    out.println(format(fields));
    out.flush();
  }

  /** The fields of {@code line} when it is a ready line, in their order; empty otherwise. */
  public static Optional<Map<String, String>> parse(String line) {
    String l = line.strip();
    if (!l.equals(WORD) && !l.startsWith(WORD + " ")) {
      return Optional.empty();
    }
    Map<String, String> fields = new LinkedHashMap<>();
    for (String word : l.substring(WORD.length()).trim().split(" +")) {
      if (word.isEmpty()) {
        continue;
      }
      int eq = word.indexOf('=');
      if (eq <= 0) {
        return Optional.empty();
      }
      fields.put(word.substring(0, eq), word.substring(eq + 1));
    }
    return Optional.of(fields);
  }
}
