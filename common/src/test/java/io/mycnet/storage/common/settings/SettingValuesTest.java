package io.mycnet.storage.common.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingValuesTest {
  static final Setting<Path> CONFIG = Setting.path("config").doc("a properties file");
  static final Setting<String> OWNER = Setting.string("owner").required().doc("who owns it");
  static final Setting<Duration> INTERVAL =
      Setting.duration("probe-interval")
          .defaultValue(Duration.ofMinutes(10))
          .check(Check.atLeast(Duration.ofSeconds(1)))
          .doc("how often");
  static final Setting<Integer> THREADS =
      Setting.integer("threads").defaultValue(4).check(Check.atLeast(1)).doc("threads");
  static final Setting<HostPort> LISTEN = Setting.listenAddress("listen").doc("where");

  static final ProcessSettings AGENT =
      new ProcessSettings(
          "agent",
          "AgentMain",
          "",
          true,
          CONFIG,
          List.of(CONFIG, OWNER, INTERVAL, THREADS, LISTEN));
  static final ProcessSettings ENV_ONLY =
      new ProcessSettings("operator", "OperatorMain", "", false, null, List.of(OWNER, THREADS));

  @TempDir Path dir;

  Path file(String text) throws Exception {
    return Files.writeString(dir.resolve("agent.properties"), text);
  }

  @Test
  void flagsBeatEnvironmentWhichBeatsTheFile() throws Exception {
    Path f = file("owner=from-file\nthreads = 2 \n");
    String[] args = {"--config=" + f};
    SettingValues fromFile = AGENT.read(args, Map.of());
    assertThat(fromFile.get(OWNER)).isEqualTo("from-file");
    assertThat(fromFile.get(THREADS)).isEqualTo(2);
    assertThat(fromFile.writtenAs(OWNER)).isEqualTo("owner in " + f);
    SettingValues fromEnv = AGENT.read(args, Map.of("MYCNET_OWNER", "from-env"));
    assertThat(fromEnv.get(OWNER)).isEqualTo("from-env");
    assertThat(fromEnv.writtenAs(OWNER)).isEqualTo("MYCNET_OWNER");
    SettingValues fromFlag =
        AGENT.read(
            new String[] {"--config=" + f, "--owner=from-flag"}, Map.of("MYCNET_OWNER", "env"));
    assertThat(fromFlag.get(OWNER)).isEqualTo("from-flag");
    assertThat(fromFlag.writtenAs(OWNER)).isEqualTo("--owner");
    // The file may be named by the environment too.
    assertThat(AGENT.read(new String[0], Map.of("MYCNET_CONFIG", f.toString())).get(OWNER))
        .isEqualTo("from-file");
  }

  @Test
  void defaultsBlanksAndComputedDefaults() {
    SettingValues v = AGENT.read(new String[] {"--owner=x", "--threads= "}, Map.of());
    assertThat(v.get(INTERVAL)).isEqualTo(Duration.ofMinutes(10));
    assertThat(v.get(THREADS)).isEqualTo(4); // blank is absent
    assertThat(v.isSet(THREADS)).isFalse();
    assertThat(v.get(LISTEN)).isNull();
    assertThat(v.getOrElse(LISTEN, new HostPort("h", 0))).isEqualTo(new HostPort("h", 0));
    assertThat(v.raw(OWNER)).isEqualTo("x");
  }

  @Test
  void aMissingSettingNamesEveryWayToGiveIt() {
    assertThatThrownBy(() -> AGENT.read(new String[0], Map.of()).get(OWNER))
        .isInstanceOfSatisfying(
            SettingException.class,
            e -> {
              assertThat(e.setting()).isEqualTo("owner");
              assertThat(e.problem()).isEqualTo("is required");
            })
        .hasMessage("--owner (or MYCNET_OWNER, or owner in the --config file): is required");
    assertThatThrownBy(() -> ENV_ONLY.read(Map.of()).get(OWNER))
        .hasMessage("MYCNET_OWNER: is required");
    assertThatThrownBy(() -> AGENT.read(new String[0], Map.of()).required(LISTEN))
        .hasMessageStartingWith("--listen (or MYCNET_LISTEN")
        .hasMessageEndingWith("is required");
  }

  @Test
  void anInvalidValueIsNamedTheWayItWasWritten() throws Exception {
    assertThatThrownBy(() -> AGENT.read(new String[] {"--threads=0"}, Map.of()).get(THREADS))
        .hasMessage("--threads: must be >= 1, was 0");
    assertThatThrownBy(() -> ENV_ONLY.read(Map.of("MYCNET_THREADS", "many")).get(THREADS))
        .hasMessage("MYCNET_THREADS: must be a whole number, was 'many'");
    Path f = file("probe-interval=500ms\n");
    assertThatThrownBy(() -> AGENT.read(new String[] {"--config=" + f}, Map.of()).get(INTERVAL))
        .hasMessage("probe-interval in " + f + ": must be at least 1s, was 500ms");
    assertThatThrownBy(() -> AGENT.read(new String[] {"--listen=h:x"}, Map.of()).get(LISTEN))
        .hasMessage("--listen: 'h:x': port is not a number (0 to 65535)");
  }

  @Test
  void argumentsThatAreNotKnownFlagsAreRefused() {
    assertThatThrownBy(() -> AGENT.read(new String[] {"owner=x"}, Map.of()))
        .hasMessage("owner=x: arguments are --name=value flags");
    assertThatThrownBy(() -> AGENT.read(new String[] {"--owner"}, Map.of()))
        .hasMessage("--owner: arguments are --name=value flags");
    assertThatThrownBy(() -> AGENT.read(new String[] {"--colour=blue"}, Map.of()))
        .isInstanceOfSatisfying(
            SettingException.class, e -> assertThat(e.setting()).isEqualTo("colour"))
        .hasMessageStartingWith("--colour: unknown setting; known: config, owner,");
    assertThatThrownBy(() -> ENV_ONLY.read(new String[] {"--owner=x"}, Map.of()))
        .hasMessageContaining("the operator takes no arguments");
    // Unknown variables are not ours to refuse (MYCNET_HOME, MYCNET_DEBUG, ...).
    assertThat(ENV_ONLY.read(Map.of("MYCNET_COLOUR", "blue")).get(THREADS)).isEqualTo(4);
  }

  @Test
  void aBadConfigFileIsRefused() throws Exception {
    assertThatThrownBy(() -> AGENT.read(new String[] {"--config=" + dir.resolve("none")}, Map.of()))
        .hasMessageStartingWith("--config: cannot read " + dir.resolve("none"));
    Path unknown = file("colour=blue\n");
    assertThatThrownBy(() -> AGENT.read(new String[] {"--config=" + unknown}, Map.of()))
        .hasMessageStartingWith("colour in " + unknown + ": unknown setting 'colour'");
    Path nested = file("config=/etc/other\n");
    assertThatThrownBy(() -> AGENT.read(new String[] {"--config=" + nested}, Map.of()))
        .hasMessageContaining("unknown setting 'config'");
  }

  @Test
  void aProblemFoundLaterIsNamedTheWayTheUserWroteIt() {
    SettingValues v = AGENT.read(new String[0], Map.of("MYCNET_OWNER", "acme"));
    assertThat(v.problem(OWNER, "is taken")).hasMessage("MYCNET_OWNER: is taken");
    SettingException bare = new SettingException("owner", "owner", "is taken");
    SettingException renamed = bare.writtenAs(v.writtenAs(OWNER));
    assertThat(renamed).hasMessage("MYCNET_OWNER: is taken").hasCause(bare);
    assertThat(renamed.setting()).isEqualTo("owner");
    assertThat(renamed.writtenAs()).isEqualTo("MYCNET_OWNER");
    // A type whose parser already names the setting is renamed the same way.
    Setting<String> strict =
        Setting.of(
            "strict",
            new ValueType<>(
                "strict",
                s -> {
                  throw new SettingException("strict", "strict", "never");
                },
                s -> s));
    ProcessSettings p = new ProcessSettings("p", "P", "", true, null, List.of(strict));
    assertThatThrownBy(() -> p.read(new String[] {"--strict=x"}, Map.of()).get(strict))
        .hasMessage("--strict: never");
    assertThat(p.read(new String[0], Map.of()).writtenAs(strict))
        .isEqualTo("--strict (or MYCNET_STRICT)");
  }

  @Test
  void onlyDeclaredSettingsCanBeAskedFor() {
    assertThatThrownBy(() -> ENV_ONLY.read(Map.of()).get(INTERVAL))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("probe-interval is not a setting of the operator");
  }

  @Test
  void declarationsAreCheckedWhenMade() {
    assertThatThrownBy(() -> Setting.string("Not_Kebab")).hasMessageContaining("is not kebab-case");
    assertThatThrownBy(() -> new ProcessSettings("p", "P", "", false, null, List.of(OWNER, OWNER)))
        .hasMessageContaining("owner is declared twice");
    assertThatThrownBy(() -> new ProcessSettings("p", "P", "", true, CONFIG, List.of(OWNER)))
        .hasMessageContaining("config file setting must be one of the settings");
    assertThat(INTERVAL.envName()).isEqualTo("MYCNET_PROBE_INTERVAL");
    assertThat(INTERVAL.flag()).isEqualTo("--probe-interval");
    assertThat(INTERVAL.problem(Duration.ofMillis(10))).isEqualTo("must be at least 1s, was 10ms");
    assertThat(INTERVAL.problem(Duration.ofSeconds(10))).isNull();
    assertThat(INTERVAL.defaultDescription()).isEqualTo("10m");
    assertThat(OWNER.defaultDescription()).isEqualTo("required");
    assertThat(LISTEN.defaultDescription()).isEqualTo("none");
    assertThat(LISTEN.defaultText("the listen host").defaultDescription())
        .isEqualTo("the listen host");
    assertThat(Setting.list("l").defaultValue(List.of()).defaultDescription()).isEqualTo("empty");
    assertThat(INTERVAL.defaultIsValue()).isTrue();
    assertThat(INTERVAL.defaultText("all").defaultIsValue()).isFalse();
    assertThat(OWNER.defaultIsValue()).isFalse();
  }
}
