package io.mycnet.storage.common.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationTextTest {
  @Test
  void goStyleSumsAndIso() {
    assertThat(DurationText.parse("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(DurationText.parse("15s")).isEqualTo(Duration.ofSeconds(15));
    assertThat(DurationText.parse("10m")).isEqualTo(Duration.ofMinutes(10));
    assertThat(DurationText.parse("24h")).isEqualTo(Duration.ofHours(24));
    assertThat(DurationText.parse("7d")).isEqualTo(Duration.ofDays(7));
    assertThat(DurationText.parse("1h30m")).isEqualTo(Duration.ofMinutes(90));
    assertThat(DurationText.parse(" PT15S ")).isEqualTo(Duration.ofSeconds(15));
    assertThat(DurationText.parse("0s")).isEqualTo(Duration.ZERO);
  }

  @Test
  void refusesWhatIsNotADuration() {
    for (String bad : new String[] {"", "soon", "15", "s", "-5s", "1.5h", "10 m", "Pfoo"}) {
      assertThatThrownBy(() -> DurationText.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'" + bad + "'");
    }
    assertThatThrownBy(() -> DurationText.parse("99999999999999999999h"))
        .hasMessageContaining("too long");
  }
}
