package io.mycnet.storage.common.settings;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * The settings of one process as the user gave them: flags over environment over file. Values are
 * parsed and checked when asked for, so a process reads them in the order it validates them; every
 * problem is a {@link SettingException} naming the setting the way the user wrote it.
 */
public final class SettingValues {
  private final ProcessSettings process;
  private final Map<String, String> flags;
  private final Map<String, String> env;
  private final Map<String, String> file;
  private final Path configPath;

  private SettingValues(
      ProcessSettings process,
      Map<String, String> flags,
      Map<String, String> env,
      Map<String, String> file,
      Path configPath) {
    this.process = process;
    this.flags = flags;
    this.env = env;
    this.file = file;
    this.configPath = configPath;
  }

  /**
   * Reads {@code args} ({@code --name=value}, when the process takes flags), {@code env} and the
   * properties file the process's config setting names (when it has one).
   *
   * @throws SettingException on an argument that is not a flag, an unknown setting (flag or file
   *     key), or a file that cannot be read; unknown environment variables are ignored
   */
  static SettingValues read(ProcessSettings process, String[] args, Map<String, String> env) {
    Map<String, String> flags = new LinkedHashMap<>();
    for (String a : args) {
      String name = a.startsWith("--") ? a.substring(2) : a;
      if (!process.flags()) {
        throw new SettingException(
            name,
            a,
            "the " + process.process() + " takes no arguments; it reads MYCNET_* variables");
      }
      int eq = a.indexOf('=');
      if (!a.startsWith("--") || eq < 3) {
        throw new SettingException(name, a, "arguments are --name=value flags");
      }
      name = a.substring(2, eq);
      if (process.find(name) == null) {
        throw new SettingException(name, "--" + name, "unknown setting; known: " + known(process));
      }
      flags.put(name, a.substring(eq + 1));
    }
    SettingValues partial = new SettingValues(process, flags, env, Map.of(), null);
    Setting<Path> config = process.configFile();
    if (config == null || !partial.isSet(config)) {
      return partial;
    }
    Path path = partial.get(config);
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(path)) {
      p.load(r);
    } catch (IOException | IllegalArgumentException e) {
      throw partial.problem(config, "cannot read " + path + ": " + e.getMessage());
    }
    Map<String, String> file = new LinkedHashMap<>();
    for (String k : p.stringPropertyNames()) {
      if (process.find(k) == null || k.equals(config.name())) {
        throw new SettingException(
            k,
            k + " in " + path,
            "unknown setting '" + k + "' in " + path + "; known: " + known(process));
      }
      file.put(k, p.getProperty(k));
    }
    return new SettingValues(process, flags, env, file, path);
  }

  private static String known(ProcessSettings p) {
    return p.settings().stream().map(Setting::name).collect(Collectors.joining(", "));
  }

  /**
   * The value of {@code s}: as given, parsed and checked, or its default (null for an optional
   * setting without one).
   *
   * @throws SettingException when it is missing but required, or invalid
   */
  public <T> T get(Setting<T> s) {
    String raw = raw(s);
    if (raw == null) {
      if (s.isRequired()) {
        throw missing(s);
      }
      return s.defaultValue();
    }
    return parse(s, raw);
  }

  /**
   * The value of {@code s}, which must be given here even when the declaration has it optional
   * (required only in some cases: the reference says which).
   */
  public <T> T required(Setting<T> s) {
    String raw = raw(s);
    if (raw == null) {
      throw missing(s);
    }
    return parse(s, raw);
  }

  /** The value of {@code s}, or {@code fallback} when it is not given (a computed default). */
  public <T> T getOrElse(Setting<T> s, T fallback) {
    String raw = raw(s);
    return raw == null ? fallback : parse(s, raw);
  }

  private <T> T parse(Setting<T> s, String raw) {
    try {
      return s.parse(raw);
    } catch (SettingException e) {
      throw e.writtenAs(writtenAs(s));
    } catch (IllegalArgumentException e) {
      throw problem(s, e.getMessage());
    }
  }

  /** Whether {@code s} is given (not blank) by a flag, the environment or the file. */
  public boolean isSet(Setting<?> s) {
    return raw(s) != null;
  }

  /** The text given for {@code s}, stripped, or null when it is absent or blank. */
  public String raw(Setting<?> s) {
    if (process.find(s.name()) != s) {
      throw new IllegalStateException(s.name() + " is not a setting of the " + process.process());
    }
    String v = flags.get(s.name());
    if (v == null) {
      v = env.get(s.envName());
    }
    if (v == null) {
      v = file.get(s.name());
    }
    return v == null || v.isBlank() ? null : v.strip();
  }

  /**
   * How the user wrote {@code s}: {@code --name}, {@code MYCNET_NAME} or {@code name in FILE}; when
   * it is not given, the ways to give it.
   */
  public String writtenAs(Setting<?> s) {
    if (nonBlank(flags.get(s.name()))) {
      return s.flag();
    }
    if (nonBlank(env.get(s.envName()))) {
      return s.envName();
    }
    if (nonBlank(file.get(s.name()))) {
      return s.name() + " in " + configPath;
    }
    return process.ways(s);
  }

  private static boolean nonBlank(String v) {
    return v != null && !v.isBlank();
  }

  /** A problem with {@code s}, named the way the user wrote it. */
  public SettingException problem(Setting<?> s, String problem) {
    return new SettingException(s.name(), writtenAs(s), problem);
  }

  /** {@code s} is missing. */
  public SettingException missing(Setting<?> s) {
    return problem(s, "is required");
  }
}
