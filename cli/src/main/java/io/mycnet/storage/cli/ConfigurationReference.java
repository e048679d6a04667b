package io.mycnet.storage.cli;

import io.mycnet.storage.agent.AgentConfig;
import io.mycnet.storage.common.settings.ProcessSettings;
import io.mycnet.storage.common.settings.SettingsReference;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The README's configuration reference, generated from the settings declarations of the operator
 * ({@link OperatorSettings#PROCESS}) and the agent ({@link AgentConfig#PROCESS}). {@code main}
 * rewrites the section between the markers; {@code ConfigurationReferenceTest} fails the build when
 * the committed section differs.
 */
public final class ConfigurationReference {
  /** How to bring README.md up to date (from the repository's root). */
  public static final String REGENERATE =
      "regenerate and commit: mvn -o -q -pl cli -am package -DskipTests && java -cp"
          + " 'cli/target/dist/lib/*' io.mycnet.storage.cli.ConfigurationReference README.md"
          + " && git add README.md";

  /** The processes whose settings the reference lists, in order. */
  public static final List<ProcessSettings> PROCESSES =
      List.of(OperatorSettings.PROCESS, AgentConfig.PROCESS);

  private ConfigurationReference() {}

  /** The generated section. */
  public static String markdown() {
    return SettingsReference.markdown(PROCESSES);
  }

  /** Rewrites the reference in the given file (README.md by default). */
  public static void main(String[] args) throws IOException {
    Path readme = Path.of(args.length > 0 ? args[0] : "README.md");
    String before = Files.readString(readme);
    String after = SettingsReference.splice(before, markdown());
    if (after.equals(before)) {
      System.out.println(readme + ": the configuration reference is up to date");
    } else {
      Files.writeString(readme, after);
      System.out.println(readme + ": configuration reference regenerated");
    }
  }
}
