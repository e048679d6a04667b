package io.mycnet.storage.common.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
  @Test
  void bytesBinaryAndDecimalUnits() {
    assertThat(ByteSize.parse("1073741824")).isEqualTo(1L << 30);
    assertThat(ByteSize.parse("500MiB")).isEqualTo(500L << 20);
    assertThat(ByteSize.parse("500M")).isEqualTo(500L << 20);
    assertThat(ByteSize.parse("2TiB")).isEqualTo(2L << 40);
    assertThat(ByteSize.parse("10 GB")).isEqualTo(10_000_000_000L);
    assertThat(ByteSize.parse("1KB")).isEqualTo(1000);
    assertThat(ByteSize.parse("3B")).isEqualTo(3);
    assertThat(ByteSize.parse("1PB")).isEqualTo(1_000_000_000_000_000L);
  }

  @Test
  void refusesWhatIsNotASizeOrTooLarge() {
    assertThatThrownBy(() -> ByteSize.parse("lots"))
        .hasMessage("'lots' is not a size; use e.g. 500GiB, 2TiB or a number of bytes");
    assertThatThrownBy(() -> ByteSize.parse("-1")).hasMessageContaining("is not a size");
    assertThatThrownBy(() -> ByteSize.parse("1.5GiB")).hasMessageContaining("is not a size");
    assertThatThrownBy(() -> ByteSize.parse("1000000PiB")).hasMessage("'1000000PiB' is too large");
    assertThatThrownBy(() -> ByteSize.parse("99999999999999999999"))
        .hasMessageContaining("too large");
  }

  @Test
  void formatsTheShortestExactText() {
    assertThat(ByteSize.format(4L << 20)).isEqualTo("4MiB");
    assertThat(ByteSize.format(200L << 20)).isEqualTo("200MiB");
    assertThat(ByteSize.format(3L << 40)).isEqualTo("3TiB");
    assertThat(ByteSize.format(1000)).isEqualTo("1000");
    assertThat(ByteSize.format(0)).isEqualTo("0");
  }
}
