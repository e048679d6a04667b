package io.mycnet.storage.common.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ValueTypeTest {
  enum Mode {
    FAST,
    VERY_SAFE
  }

  @Test
  void stringsAndWholeNumbers() {
    assertThat(ValueType.STRING.parse("x y")).isEqualTo("x y");
    assertThat(ValueType.INT.parse("-1")).isEqualTo(-1);
    assertThatThrownBy(() -> ValueType.INT.parse("ten"))
        .hasMessage("must be a whole number, was 'ten'");
    assertThatThrownBy(() -> ValueType.INT.parse("99999999999"))
        .hasMessageContaining("whole number");
  }

  @Test
  void decimals() {
    assertThat(ValueType.DECIMAL.parse("0.5")).isEqualTo(0.5);
    assertThatThrownBy(() -> ValueType.DECIMAL.parse("half"))
        .hasMessage("must be a number, was 'half'");
    assertThatThrownBy(() -> ValueType.DECIMAL.parse("NaN")).hasMessageContaining("a number");
  }

  @Test
  void booleansInAnyCase() {
    assertThat(ValueType.BOOLEAN.parse("TRUE")).isTrue();
    assertThat(ValueType.BOOLEAN.parse("false")).isFalse();
    assertThatThrownBy(() -> ValueType.BOOLEAN.parse("yes"))
        .hasMessage("must be true or false, was 'yes'");
  }

  @Test
  void durationsWithTheProductGrammarNeverNegative() {
    assertThat(ValueType.DURATION.parse("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(ValueType.DURATION.parse("7d")).isEqualTo(Duration.ofDays(7));
    assertThat(ValueType.DURATION.parse("PT1M")).isEqualTo(Duration.ofMinutes(1));
    assertThatThrownBy(() -> ValueType.DURATION.parse("soon"))
        .hasMessage("'soon' is not a duration (e.g. 500ms, 15s, 10m, 2h, PT15S)");
    assertThatThrownBy(() -> ValueType.DURATION.parse("PT-1S"))
        .hasMessage("must not be negative, was PT-1S");
    assertThat(ValueType.formatDuration(Duration.ofMinutes(10))).isEqualTo("10m");
    assertThat(ValueType.formatDuration(Duration.ofHours(24))).isEqualTo("24h");
    assertThat(ValueType.formatDuration(Duration.ofDays(7))).isEqualTo("7d");
    assertThat(ValueType.formatDuration(Duration.ofMillis(1500))).isEqualTo("1500ms");
    assertThat(ValueType.formatDuration(Duration.ZERO)).isEqualTo("0s");
  }

  @Test
  void sizesAddressesAndPaths() {
    assertThat(ValueType.BYTE_SIZE.parse("4MiB")).isEqualTo(4L << 20);
    assertThat(ValueType.BYTE_SIZE.format(4L << 20)).isEqualTo("4MiB");
    assertThat(ValueType.ADDRESS.parse("[::1]:1")).isEqualTo(new HostPort("::1", 1));
    assertThatThrownBy(() -> ValueType.ADDRESS.parse("h:0")).hasMessageContaining("1 to 65535");
    assertThat(ValueType.LISTEN_ADDRESS.parse("h:0").port()).isZero();
    assertThat(ValueType.PATH.parse("/var/lib/x")).isEqualTo(Path.of("/var/lib/x"));
    assertThatThrownBy(() -> ValueType.PATH.parse("a\0b")).hasMessageContaining("is not a path");
  }

  @Test
  void listsDropBlanksAndCheckEachElement() {
    ValueType<List<String>> strings = ValueType.listOf(ValueType.STRING);
    assertThat(strings.parse(" a, b ,,c ")).containsExactly("a", "b", "c");
    assertThat(strings.format(List.of("a", "b"))).isEqualTo("a,b");
    ValueType<List<Integer>> ints = ValueType.listOf(ValueType.INT);
    assertThat(ints.parse("1,2")).containsExactly(1, 2);
    assertThatThrownBy(() -> ints.parse("1,x")).hasMessage("must be a whole number, was 'x'");
  }

  @Test
  void enumsInKebabCase() {
    ValueType<Mode> mode = ValueType.oneOf(Mode.class);
    assertThat(mode.parse("very-safe")).isEqualTo(Mode.VERY_SAFE);
    assertThat(mode.parse("FAST")).isEqualTo(Mode.FAST);
    assertThat(mode.format(Mode.VERY_SAFE)).isEqualTo("very-safe");
    assertThatThrownBy(() -> mode.parse("slow"))
        .hasMessage("must be one of fast, very-safe, was 'slow'");
  }
}
