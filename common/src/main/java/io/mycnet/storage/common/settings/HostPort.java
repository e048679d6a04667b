package io.mycnet.storage.common.settings;

/**
 * A {@code host:port} address, the one parser of the product for addresses in settings, in node
 * records and in join requests. The host is a name, an IPv4 literal or an IPv6 literal in brackets
 * ({@code [::1]:7443}); {@link #host()} holds it without the brackets, {@link #toString()} puts
 * them back.
 *
 * @param host the host name or IP literal, never empty, IPv6 without brackets
 * @param port the port, 0 (any free port, for listen addresses) to 65535
 */
public record HostPort(String host, int port) {

  public HostPort {
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("the host is empty");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0 to 65535, was " + port);
    }
  }

  /**
   * Parses an address to connect to: the port is 1 to 65535.
   *
   * @throws IllegalArgumentException saying what is wrong and what would be right
   */
  public static HostPort parse(String text) {
    return parse(text, false);
  }

  /**
   * Parses an address to listen on, where port 0 means any free port.
   *
   * @throws IllegalArgumentException saying what is wrong and what would be right
   */
  public static HostPort parseListen(String text) {
    return parse(text, true);
  }

  /**
   * Parses {@code host:port}; {@code allowZero} admits port 0.
   *
   * @throws IllegalArgumentException saying what is wrong and what would be right
   */
  public static HostPort parse(String text, boolean allowZero) {
    if (text == null) {
      throw new IllegalArgumentException("no address given; expected host:port");
    }
    String v = text.strip();
    String host;
    String port;
    if (v.startsWith("[")) {
      int close = v.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException(
            "'" + text + "' is not host:port: '[' without ']' (IPv6 as [::1]:7443)");
      }
      host = v.substring(1, close);
      if (host.isEmpty() || !host.contains(":")) {
        throw new IllegalArgumentException(
            "'" + text + "' is not host:port: brackets hold an IPv6 address, e.g. [::1]:7443");
      }
      if (close + 1 >= v.length() || v.charAt(close + 1) != ':' || close + 2 == v.length()) {
        throw new IllegalArgumentException(
            "'" + text + "' is not host:port: a port must follow ']:', e.g. [::1]:7443");
      }
      port = v.substring(close + 2);
    } else {
      int colon = v.lastIndexOf(':');
      if (colon <= 0 || colon == v.length() - 1) {
        throw new IllegalArgumentException(
            "'" + text + "' is not host:port (e.g. 127.0.0.1:7443, node1.example:7443)");
      }
      host = v.substring(0, colon);
      if (host.indexOf(':') >= 0) {
        throw new IllegalArgumentException(
            "'" + text + "' is not host:port: an IPv6 address goes in brackets, e.g. [::1]:7443");
      }
      if (host.chars().anyMatch(Character::isWhitespace)) {
        throw new IllegalArgumentException(
            "'" + text + "' is not host:port: the host holds a space");
      }
      port = v.substring(colon + 1);
    }
    int p;
    try {
      p = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "'" + text + "': port is not a number (" + (allowZero ? 0 : 1) + " to 65535)");
    }
    int min = allowZero ? 0 : 1;
    if (p < min || p > 65535) {
      throw new IllegalArgumentException(
          "'" + text + "': port must be " + min + " to 65535, was " + p);
    }
    return new HostPort(host, p);
  }

  /** The same host with another port. */
  public HostPort withPort(int newPort) {
    return new HostPort(host, newPort);
  }

  /** Whether the host is the any-address ({@code 0.0.0.0}, {@code ::}). */
  public boolean isWildcard() {
    return host.equals("0.0.0.0") || host.equals("::") || host.equals("0:0:0:0:0:0:0:0");
  }

  /** {@code host:port}, an IPv6 host in brackets. */
  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
