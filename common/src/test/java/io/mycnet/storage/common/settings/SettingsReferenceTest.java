package io.mycnet.storage.common.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SettingsReferenceTest {
  static final Setting<String> OWNER = Setting.string("owner").required().doc("who | owns it");
  static final Setting<Duration> INTERVAL =
      Setting.duration("probe-interval").defaultValue(Duration.ofMinutes(10)).doc("how often");
  static final Setting<String> LEASE =
      Setting.string("lease-namespace").defaultText("its own namespace").doc("where");

  @Test
  void aProcessWithFlagsGetsAFlagColumn() {
    ProcessSettings agent =
        new ProcessSettings(
            "Agent", "AgentMain", "Flags first.", true, null, List.of(OWNER, INTERVAL));
    assertThat(SettingsReference.markdown(agent))
        .isEqualTo(
            """
            ### Agent (`AgentMain`)

            Flags first.

            | setting | environment | flag | default | meaning |
            |---|---|---|---|---|
            | `owner` | `MYCNET_OWNER` | `--owner=…` | required | who \\| owns it |
            | `probe-interval` | `MYCNET_PROBE_INTERVAL` | `--probe-interval=…` | `10m` | how often |
            """);
  }

  @Test
  void anEnvironmentOnlyProcessHasNone() {
    ProcessSettings operator =
        new ProcessSettings("Operator", "OperatorMain", "", false, null, List.of(LEASE));
    ProcessSettings other =
        new ProcessSettings("Other", "OtherMain", "", false, null, List.of(INTERVAL));
    assertThat(SettingsReference.markdown(List.of(operator, other)))
        .isEqualTo(
            """
            ### Operator (`OperatorMain`)

            | setting | environment | default | meaning |
            |---|---|---|---|
            | `lease-namespace` | `MYCNET_LEASE_NAMESPACE` | its own namespace | where |

            ### Other (`OtherMain`)

            | setting | environment | default | meaning |
            |---|---|---|---|
            | `probe-interval` | `MYCNET_PROBE_INTERVAL` | `10m` | how often |
            """);
  }

  @Test
  void theReferenceIsSplicedBetweenTheMarkers() {
    String doc =
        "# Title\n\n" + SettingsReference.BEGIN + "\nold\n" + SettingsReference.END + "\ntail\n";
    String spliced = SettingsReference.splice(doc, "new\n");
    assertThat(spliced)
        .isEqualTo(
            "# Title\n\n"
                + SettingsReference.BEGIN
                + "\nnew\n"
                + SettingsReference.END
                + "\ntail\n");
    assertThat(SettingsReference.section(spliced)).isEqualTo("new\n");
    assertThat(SettingsReference.section("no markers")).isNull();
    assertThatThrownBy(() -> SettingsReference.splice("no markers", "x"))
        .hasMessageContaining("has no '<!-- settings-reference:begin");
    assertThatThrownBy(
            () -> SettingsReference.splice(SettingsReference.END + SettingsReference.BEGIN, "x"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
