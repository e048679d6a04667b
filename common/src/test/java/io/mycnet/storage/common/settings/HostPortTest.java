package io.mycnet.storage.common.settings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HostPortTest {
  @Test
  void namesIpv4AndBracketedIpv6() {
    assertThat(HostPort.parse("127.0.0.1:7443")).isEqualTo(new HostPort("127.0.0.1", 7443));
    assertThat(HostPort.parse(" node1.example:1 ")).isEqualTo(new HostPort("node1.example", 1));
    HostPort v6 = HostPort.parse("[::1]:7443");
    assertThat(v6.host()).isEqualTo("::1");
    assertThat(v6.port()).isEqualTo(7443);
    assertThat(v6).hasToString("[::1]:7443");
    assertThat(HostPort.parse("[fe80::1%eth0]:65535").host()).isEqualTo("fe80::1%eth0");
  }

  @Test
  void portZeroOnlyWhereListening() {
    assertThat(HostPort.parseListen("127.0.0.1:0").port()).isZero();
    assertThat(HostPort.parse("127.0.0.1:0", true).port()).isZero();
    assertThatThrownBy(() -> HostPort.parse("127.0.0.1:0"))
        .hasMessage("'127.0.0.1:0': port must be 1 to 65535, was 0");
    assertThatThrownBy(() -> HostPort.parseListen("127.0.0.1:65536"))
        .hasMessage("'127.0.0.1:65536': port must be 0 to 65535, was 65536");
  }

  @Test
  void eachMalformedAddressSaysWhatWouldBeRight() {
    assertThatThrownBy(() -> HostPort.parse("localhost"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("'localhost' is not host:port (e.g. 127.0.0.1:7443");
    assertThatThrownBy(() -> HostPort.parse(":7443")).hasMessageContaining("is not host:port");
    assertThatThrownBy(() -> HostPort.parse("host:")).hasMessageContaining("is not host:port");
    assertThatThrownBy(() -> HostPort.parse("host:http"))
        .hasMessage("'host:http': port is not a number (1 to 65535)");
    assertThatThrownBy(() -> HostPort.parse("::1:7443"))
        .hasMessageContaining("an IPv6 address goes in brackets, e.g. [::1]:7443");
    assertThatThrownBy(() -> HostPort.parse("[::1:7443")).hasMessageContaining("'[' without ']'");
    assertThatThrownBy(() -> HostPort.parse("[::1]7443"))
        .hasMessageContaining("a port must follow ']:'");
    assertThatThrownBy(() -> HostPort.parse("[::1]:")).hasMessageContaining("a port must follow");
    assertThatThrownBy(() -> HostPort.parse("[host]:1"))
        .hasMessageContaining("brackets hold an IPv6 address");
    assertThatThrownBy(() -> HostPort.parse("a host:1")).hasMessageContaining("holds a space");
    assertThatThrownBy(() -> HostPort.parse(null)).hasMessageContaining("expected host:port");
    assertThatThrownBy(() -> new HostPort("", 1)).hasMessageContaining("host is empty");
    assertThatThrownBy(() -> new HostPort("h", -1)).hasMessageContaining("port must be");
  }

  @Test
  void wildcardAndAnotherPort() {
    assertThat(HostPort.parseListen("0.0.0.0:0").isWildcard()).isTrue();
    assertThat(HostPort.parseListen("[::]:0").isWildcard()).isTrue();
    assertThat(HostPort.parse("127.0.0.1:7443").isWildcard()).isFalse();
    assertThat(HostPort.parse("[::1]:7443").withPort(7444)).hasToString("[::1]:7444");
  }
}
