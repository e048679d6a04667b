package io.mycnet.storage.common.settings;

import java.util.List;

/**
 * Writes the configuration reference from the declarations: a markdown table per process (name,
 * environment variable, flag where the process takes flags, default, meaning), and splices it into
 * a document between two marker comments.
 */
public final class SettingsReference {
  /** The line before the generated reference. */
  public static final String BEGIN =
      "<!-- settings-reference:begin (generated from the settings declarations; do not edit) -->";

  /** The line after it. */
  public static final String END = "<!-- settings-reference:end -->";

  private SettingsReference() {}

  /** The tables of {@code processes}, one section each, in order. */
  public static String markdown(List<ProcessSettings> processes) {
    StringBuilder b = new StringBuilder();
    for (ProcessSettings p : processes) {
      if (b.length() > 0) {
        b.append('\n');
      }
      b.append(markdown(p));
    }
    return b.toString();
  }

  /** One process's table. */
  public static String markdown(ProcessSettings p) {
    StringBuilder b = new StringBuilder();
    b.append("### ").append(p.process()).append(" (`").append(p.mainClass()).append("`)\n\n");
    if (!p.intro().isBlank()) {
      b.append(p.intro().strip()).append("\n\n");
    }
    if (p.flags()) {
      b.append("| setting | environment | flag | default | meaning |\n");
      b.append("|---|---|---|---|---|\n");
    } else {
      b.append("| setting | environment | default | meaning |\n");
      b.append("|---|---|---|---|\n");
    }
    for (Setting<?> s : p.settings()) {
      b.append("| `").append(s.name()).append("` | `").append(s.envName()).append("` | ");
      if (p.flags()) {
        b.append('`').append(s.flag()).append("=…` | ");
      }
      String d = s.defaultDescription();
      b.append(s.defaultIsValue() ? "`" + cell(d) + "`" : cell(d))
          .append(" | ")
          .append(cell(s.doc()))
          .append(" |\n");
    }
    return b.toString();
  }

  /**
   * {@code document} with the text between {@link #BEGIN} and {@link #END} replaced by {@code
   * reference}.
   *
   * @throws IllegalArgumentException when the markers are missing or out of order
   */
  public static String splice(String document, String reference) {
    int begin = document.indexOf(BEGIN);
    int end = document.indexOf(END);
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(
          "the document has no '" + BEGIN + "' line followed by an '" + END + "' line");
    }
    int from = begin + BEGIN.length();
    return document.substring(0, from) + "\n" + reference + document.substring(end);
  }

  /** The text between the markers of {@code document}, or null when it has none. */
  public static String section(String document) {
    int begin = document.indexOf(BEGIN);
    int end = document.indexOf(END);
    if (begin < 0 || end < begin) {
      return null;
    }
    String s = document.substring(begin + BEGIN.length(), end);
    return s.startsWith("\n") ? s.substring(1) : s;
  }

  private static String cell(String text) {
    return text.replace("|", "\\|").replace("\n", " ");
  }
}
