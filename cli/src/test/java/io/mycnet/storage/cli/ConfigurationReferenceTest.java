package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.agent.AgentConfig;
import io.mycnet.storage.common.settings.Setting;
import io.mycnet.storage.common.settings.SettingsReference;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The build fails when README.md's configuration reference is not what the settings declarations of
 * the operator and the agent render.
 */
class ConfigurationReferenceTest {

  private static Path readme() {
    String root = System.getProperty("mycnet.root");
    assertThat(root).as("system property mycnet.root (set by the cli pom)").isNotBlank();
    return Path.of(root, "README.md");
  }

  @Test
  void theReadmeReferenceIsWhatTheDeclarationsRender() throws Exception {
    String section = SettingsReference.section(Files.readString(readme()));
    assertThat(section)
        .as("README.md has the markers %s ... %s", SettingsReference.BEGIN, SettingsReference.END)
        .isNotNull();
    assertThat(section)
        .as("README.md's configuration reference is stale (%s)", ConfigurationReference.REGENERATE)
        .isEqualTo(ConfigurationReference.markdown());
  }

  @Test
  void everyDeclaredSettingIsInTheReferenceWithItsVariable() {
    String md = ConfigurationReference.markdown();
    for (Setting<?> s : OperatorSettings.PROCESS.settings()) {
      assertThat(md).contains("| `" + s.name() + "` | `" + s.envName() + "` |");
      assertThat(s.doc()).as(s.name()).isNotBlank();
    }
    for (Setting<?> s : AgentConfig.PROCESS.settings()) {
      assertThat(md).contains("| `" + s.envName() + "` | `" + s.flag() + "=…` |");
      assertThat(s.doc()).as(s.name()).isNotBlank();
    }
  }

  @Test
  void driftIsDetectedAndTheMainClassRepairsIt(@TempDir Path tmp) throws Exception {
    Path doc = tmp.resolve("README.md");
    Files.writeString(
        doc,
        "# x\n\n"
            + SettingsReference.BEGIN
            + "\n| `gone` | `MYCNET_GONE` | 1 | a setting since removed |\n"
            + SettingsReference.END
            + "\n");
    assertThat(SettingsReference.section(Files.readString(doc)))
        .isNotEqualTo(ConfigurationReference.markdown());
    ConfigurationReference.main(new String[] {doc.toString()});
    String after = Files.readString(doc);
    assertThat(SettingsReference.section(after)).isEqualTo(ConfigurationReference.markdown());
    assertThat(after).startsWith("# x\n\n").endsWith(SettingsReference.END + "\n");
  }
}
