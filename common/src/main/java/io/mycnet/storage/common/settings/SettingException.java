package io.mycnet.storage.common.settings;

/**
 * A setting that cannot be used: the one error type of every process's configuration. The message
 * is {@code <how the user wrote it>: <what is wrong and what would be right>}, e.g. {@code
 * MYCNET_USE_SSA: must be true or false, was 'yes'} or {@code --capacity: 'lots' is not a size; use
 * e.g. 500GiB, 2TiB or a number of bytes}. Processes print it after {@code invalid setting} and
 * exit with code 2.
 */
public final class SettingException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final String setting;
  private final String writtenAs;
  private final String problem;

  /**
   * @param setting the setting's name (kebab-case), or the argument that is not one
   * @param writtenAs how the user wrote it: {@code --name}, {@code MYCNET_NAME}, {@code name in
   *     FILE}, or the ways to set it when it is missing; several names for a relation between
   *     settings
   * @param problem what is wrong and what would be right
   */
  public SettingException(String setting, String writtenAs, String problem) {
    super(writtenAs + ": " + problem);
    this.setting = setting;
    this.writtenAs = writtenAs;
    this.problem = problem;
  }

  /** The setting's name, kebab-case. */
  public String setting() {
    return setting;
  }

  /** How the message names the setting. */
  public String writtenAs() {
    return writtenAs;
  }

  /** What is wrong, without the name. */
  public String problem() {
    return problem;
  }

  /** The same problem named another way (once the caller knows where the value came from). */
  public SettingException writtenAs(String as) {
    SettingException e = new SettingException(setting, as, problem);
    e.initCause(this);
    return e;
  }
}
