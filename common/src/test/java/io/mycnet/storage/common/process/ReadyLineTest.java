package io.mycnet.storage.common.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReadyLineTest {
  @Test
  void formatsAndParsesInOrder() {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("session", 7443);
    fields.put("join", 7444);
    fields.put("api", "http://127.0.0.1:8080");
    String line = ReadyLine.format(fields);
    assertThat(line).isEqualTo("ready session=7443 join=7444 api=http://127.0.0.1:8080");
    assertThat(ReadyLine.parse(line).orElseThrow())
        .containsExactly(
            Map.entry("session", "7443"),
            Map.entry("join", "7444"),
            Map.entry("api", "http://127.0.0.1:8080"));
    assertThat(ReadyLine.format("health", "127.0.0.1:1", "data", "127.0.0.1:2"))
        .isEqualTo("ready health=127.0.0.1:1 data=127.0.0.1:2");
    assertThat(ReadyLine.parse("ready").orElseThrow()).isEmpty();
  }

  @Test
  void otherLinesAreNotReadyLines() {
    assertThat(ReadyLine.parse("readying the disks")).isEmpty();
    assertThat(ReadyLine.parse("INFO ready session=1")).isEmpty();
    assertThat(ReadyLine.parse("ready now")).isEmpty();
  }

  @Test
  void fieldsThatWouldNotParseBackAreRefused() {
    assertThatThrownBy(() -> ReadyLine.format("a b", 1)).hasMessageContaining("not a ready field");
    assertThatThrownBy(() -> ReadyLine.format("a", "x y"))
        .hasMessageContaining("not a ready field");
    assertThatThrownBy(() -> ReadyLine.format("a=b", 1)).hasMessageContaining("not a ready field");
    assertThatThrownBy(() -> ReadyLine.format("a")).hasMessageContaining("pairs");
  }
}
