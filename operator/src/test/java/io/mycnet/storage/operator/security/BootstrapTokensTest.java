package io.mycnet.storage.operator.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootstrapTokensTest {
  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-03-01T12:00:00Z"), ZoneOffset.UTC);
  @TempDir Path dir;

  BootstrapTokens load(String text) throws Exception {
    Path f = dir.resolve("tokens");
    Files.writeString(f, text);
    return BootstrapTokens.load(f, CLOCK);
  }

  @Test
  void acceptsKnownTokensWithTheirUsage() throws Exception {
    BootstrapTokens t =
        load(
            "# tokens\n"
                + "abcdef.0123456789abcdef single-use\n"
                + "fleet1.fedcba9876543210  reusable  expires=2027-01-01T00:00:00Z # fleet\n");
    assertThat(t.size()).isEqualTo(2);
    var a = (BootstrapTokens.Accepted) t.check("abcdef.0123456789abcdef");
    assertThat(a.token().usage()).isEqualTo(BootstrapTokens.Usage.SINGLE_USE);
    var b = (BootstrapTokens.Accepted) t.check("fleet1.fedcba9876543210");
    assertThat(b.token().usage()).isEqualTo(BootstrapTokens.Usage.REUSABLE);
  }

  @Test
  void refusesWrongUnknownMalformedAndExpiredTokensWithoutEchoingTheSecret() throws Exception {
    BootstrapTokens t =
        load(
            "abcdef.0123456789abcdef reusable\n"
                + "old000.0123456789abcdef reusable expires=2026-01-01T00:00:00Z\n");
    var wrong = (BootstrapTokens.Refused) t.check("abcdef.ffffffffffffffff");
    assertThat(wrong.tokenId()).isEqualTo("abcdef");
    assertThat(wrong.reason()).contains("not valid").doesNotContain("ffffffffffffffff");
    assertThat(((BootstrapTokens.Refused) t.check("zzzzzz.0123456789abcdef")).reason())
        .contains("not valid");
    assertThat(((BootstrapTokens.Refused) t.check("nope")).reason()).contains("malformed");
    assertThat(((BootstrapTokens.Refused) t.check("")).reason()).contains("no bootstrap token");
    assertThat(((BootstrapTokens.Refused) t.check("old000.0123456789abcdef")).reason())
        .contains("expired at 2026-01-01T00:00:00Z");
  }

  @Test
  void malformedLinesAreNamedWithTheirLineNumber() {
    assertThatThrownBy(() -> load("abcdef.0123456789abcdef\n"))
        .hasMessageContaining("line 1")
        .hasMessageContaining("has no usage");
    assertThatThrownBy(() -> load("\nabcdef.0123456789abcdef forever\n"))
        .hasMessageContaining("line 2")
        .hasMessageContaining("neither 'single-use' nor 'reusable'");
    assertThatThrownBy(() -> load("ABC.def reusable\n")).hasMessageContaining("<id>.<secret>");
    assertThatThrownBy(() -> load("abcdef.0123456789abcdef reusable expires=tomorrow\n"))
        .hasMessageContaining("ISO-8601");
    assertThatThrownBy(
            () -> load("abcdef.0123456789abcdef reusable\nabcdef.1123456789abcdef reusable\n"))
        .hasMessageContaining("appears twice");
  }

  @Test
  void theFileIsReReadWhenItChanges() throws Exception {
    BootstrapTokens t = load("abcdef.0123456789abcdef reusable\n");
    Path f = dir.resolve("tokens");
    Files.writeString(f, "second.0123456789abcdef reusable\n");
    Files.setLastModifiedTime(f, FileTime.from(Instant.now().plusSeconds(5)));
    assertThat(t.check("second.0123456789abcdef")).isInstanceOf(BootstrapTokens.Accepted.class);
    assertThat(t.check("abcdef.0123456789abcdef")).isInstanceOf(BootstrapTokens.Refused.class);
  }
}
