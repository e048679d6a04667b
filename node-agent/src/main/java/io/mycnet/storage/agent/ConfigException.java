package io.mycnet.storage.agent;

/** An agent setting that cannot be used; the message names the setting and how to set it. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final String setting;

  public ConfigException(String setting, String problem) {
    super(
        "invalid setting "
            + setting
            + " (--"
            + setting
            + ", "
            + AgentConfig.envName(setting)
            + ", or '"
            + setting
            + "' in the --config file): "
            + problem);
    this.setting = setting;
  }

  public String setting() {
    return setting;
  }
}
