package io.mycnet.storage.common.settings;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every setting of one process and where the process reads them from: always the environment;
 * {@code --name=value} flags when {@code flags}; and a properties file named by the {@code
 * configFile} setting (itself a flag or variable) when it is not null. Precedence: flags, then the
 * environment, then the file.
 *
 * @param process the process's name in messages and the reference ("agent")
 * @param mainClass its main class (shown in the reference)
 * @param intro one or two sentences the reference prints above the table
 * @param flags whether the process reads {@code --name=value} flags
 * @param configFile the setting naming a properties file, or null
 * @param settings every setting, in the order of the reference
 */
public record ProcessSettings(
    String process,
    String mainClass,
    String intro,
    boolean flags,
    Setting<Path> configFile,
    List<Setting<?>> settings) {

  public ProcessSettings {
    settings = List.copyOf(settings);
    Set<String> names = new HashSet<>();
    for (Setting<?> s : settings) {
      if (!names.add(s.name())) {
        throw new IllegalArgumentException("setting " + s.name() + " is declared twice");
      }
    }
    if (configFile != null && !settings.contains(configFile)) {
      throw new IllegalArgumentException("the config file setting must be one of the settings");
    }
  }

  /** The setting called {@code name}, or null. */
  public Setting<?> find(String name) {
    for (Setting<?> s : settings) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    return null;
  }

  /** Reads flags, environment and (when declared) the file: see {@link SettingValues#read}. */
  public SettingValues read(String[] args, Map<String, String> env) {
    return SettingValues.read(this, args, env);
  }

  /** Reads the environment only (a process without flags). */
  public SettingValues read(Map<String, String> env) {
    return SettingValues.read(this, new String[0], env);
  }

  /** The ways to set {@code s} in this process, for a message about a missing value. */
  String ways(Setting<?> s) {
    StringBuilder b = new StringBuilder();
    if (flags) {
      b.append(s.flag()).append(" (or ").append(s.envName());
      if (configFile != null && s != configFile) {
        b.append(", or ")
            .append(s.name())
            .append(" in the ")
            .append(configFile.flag())
            .append(" file");
      }
      b.append(')');
    } else {
      b.append(s.envName());
    }
    return b.toString();
  }
}
