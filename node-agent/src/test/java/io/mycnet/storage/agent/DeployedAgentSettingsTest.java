package io.mycnet.storage.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mycnet.storage.common.settings.Setting;
import io.mycnet.storage.common.settings.SettingValues;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent DaemonSet ({@code config/agent/daemonset.yaml}) configures the agent only through
 * declared settings, with values the agent accepts: every {@code MYCNET_*} variable of its
 * containers is a setting of {@link AgentConfig#PROCESS} and parses (values taken from the pod,
 * such as the node's name, stand in as placeholders; {@code $(VAR)} references are expanded as
 * kubelet does). The operator's side is checked by the operator's {@code CsiManifestsGoldenTest}.
 */
class DeployedAgentSettingsTest {
  private static final Pattern REF = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

  @Test
  @SuppressWarnings("unchecked")
  void everyMycnetVariableOfTheDaemonSetIsADeclaredSettingWithAValidValue(@TempDir Path secrets)
      throws IOException {
    Path file = repoRoot().resolve("config/agent/daemonset.yaml");
    Map<String, Object> ds =
        new ObjectMapper(new YAMLFactory()).readValue(file.toFile(), Map.class);
    assertThat(ds.get("kind")).isEqualTo("DaemonSet");
    Map<String, Object> pod =
        (Map<String, Object>)
            ((Map<String, Object>) ((Map<String, Object>) ds.get("spec")).get("template"))
                .get("spec");
    List<String> secretVolumes =
        ((List<Object>) pod.get("volumes"))
            .stream()
                .map(v -> (Map<String, Object>) v)
                .filter(v -> v.containsKey("secret"))
                .map(v -> (String) v.get("name"))
                .toList();
    // A file of a mounted Secret exists in the pod: here a file of a temporary directory stands in.
    int seen = 0;
    for (Object c : (List<Object>) pod.get("containers")) {
      Map<String, Object> container = (Map<String, Object>) c;
      Object envList = container.get("env");
      if (envList == null) {
        continue;
      }
      Map<String, String> secretMounts = new LinkedHashMap<>();
      for (Object m : (List<Object>) container.getOrDefault("volumeMounts", List.of())) {
        Map<String, Object> mount = (Map<String, Object>) m;
        if (secretVolumes.contains(mount.get("name"))) {
          secretMounts.put((String) mount.get("mountPath") + "/", (String) mount.get("name"));
        }
      }
      Map<String, String> env = new LinkedHashMap<>();
      for (Object e : (List<Object>) envList) {
        Map<String, Object> var = (Map<String, Object>) e;
        String name = (String) var.get("name");
        String value =
            var.containsKey("value") ? expand(String.valueOf(var.get("value")), env) : "from-pod";
        for (Map.Entry<String, String> mount : secretMounts.entrySet()) {
          if (value.startsWith(mount.getKey())) {
            Path f =
                secrets.resolve(mount.getValue()).resolve(value.substring(mount.getKey().length()));
            Files.createDirectories(f.getParent());
            Files.writeString(f, "stand-in\n");
            value = f.toString();
          }
        }
        env.put(name, value);
      }
      SettingValues values = AgentConfig.PROCESS.read(new String[0], env);
      for (String name : env.keySet()) {
        if (!name.startsWith("MYCNET_")) {
          continue;
        }
        Setting<?> setting =
            AgentConfig.PROCESS.settings().stream()
                .filter(s -> s.envName().equals(name))
                .findFirst()
                .orElse(null);
        assertThat(setting).as("%s is not a declared agent setting", name).isNotNull();
        assertThatCode(() -> values.get(setting))
            .as("%s=%s is a value the agent accepts", name, env.get(name))
            .doesNotThrowAnyException();
        seen++;
      }
    }
    assertThat(seen).as("the DaemonSet configures the agent").isGreaterThan(10);
  }

  /** kubelet's expansion of {@code $(VAR)} with variables defined earlier in the list. */
  private static String expand(String value, Map<String, String> env) {
    Matcher m = REF.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String v = env.get(m.group(1));
      m.appendReplacement(sb, Matcher.quoteReplacement(v != null ? v : m.group()));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  private static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("config/agent"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("config/agent not found above " + Path.of(""));
    }
    return p;
  }
}
