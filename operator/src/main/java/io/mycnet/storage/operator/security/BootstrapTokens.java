package io.mycnet.storage.operator.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bootstrap tokens the control plane accepts, read from a token file (a mounted Kubernetes
 * Secret in cluster mode, a plain file in local mode) and re-read when the file changes.
 *
 * <p>File format, one token per line, {@code #} starts a comment:
 *
 * <pre>
 * # id.secret              usage        optional expiry
 * abcdef.0123456789abcdef  single-use
 * fleet1.fedcba9876543210  reusable     expires=2027-01-01T00:00:00Z
 * </pre>
 *
 * A token is {@code <id>.<secret>}: 6 and 16 characters of {@code [a-z0-9]} (the kubeadm shape);
 * the id is public (it appears in logs and etcd keys), the secret is compared in constant time.
 *
 * <p>Usage is required on every line, there is no default:
 *
 * <ul>
 *   <li>{@code single-use}: spent on its first successful join and bound to that node id (recorded
 *       in etcd). The same node may repeat the join with it (a lost answer, or a certificate that
 *       expired while the node was offline); any other node is refused. For enrolling one machine
 *       by hand: a leaked token cannot enrol a second node.
 *   <li>{@code reusable}: any number of nodes may join with it until it expires or is revoked. For
 *       fleets where one Secret is mounted into every agent (a DaemonSet); give it an expiry.
 * </ul>
 *
 * Either kind can be revoked in etcd ({@link SecurityStore#revokeToken}); removing a node revokes
 * the single-use token it joined with, and refuses that node id whatever token it presents.
 */
public final class BootstrapTokens {
  private static final Logger LOG = LoggerFactory.getLogger(BootstrapTokens.class);
  public static final Pattern TOKEN = Pattern.compile("([a-z0-9]{6})\\.([a-z0-9]{16})");

  /** How a token may be used. */
  public enum Usage {
    SINGLE_USE("single-use"),
    REUSABLE("reusable");

    private final String text;

    Usage(String text) {
      this.text = text;
    }

    @Override
    public String toString() {
      return text;
    }
  }

  /** One accepted token. {@code expiresAt} is null for tokens without expiry. */
  public record Token(String id, byte[] secret, Usage usage, Instant expiresAt) {}

  /** The outcome of checking a presented token. */
  public sealed interface Check permits Accepted, Refused {}

  public record Accepted(Token token) implements Check {}

  /**
   * @param tokenId the presented token's id when it had the right shape, else ""
   * @param reason a sentence for the agent's operator (never the secret)
   */
  public record Refused(String tokenId, String reason) implements Check {}

  private final Path file;
  private final Clock clock;
  private volatile Map<String, Token> tokens;
  private volatile FileTime loadedMtime;

  private BootstrapTokens(Path file, Clock clock) {
    this.file = file;
    this.clock = clock;
  }

  /**
   * Reads the token file.
   *
   * @throws IllegalArgumentException naming the file and line of a malformed entry, or when the
   *     file is missing or unreadable
   */
  public static BootstrapTokens load(Path file, Clock clock) {
    BootstrapTokens t = new BootstrapTokens(file, clock);
    t.reload();
    return t;
  }

  /** The tokens of a text in the token-file format (for tests and in-memory use). */
  public static Map<String, Token> parse(String text, String source) {
    Map<String, Token> out = new LinkedHashMap<>();
    List<String> lines = text.lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      int hash = line.indexOf('#');
      if (hash >= 0) {
        line = line.substring(0, hash);
      }
      line = line.strip();
      if (line.isEmpty()) {
        continue;
      }
      String where = source + " line " + (i + 1) + ": ";
      String[] parts = line.split("\\s+");
      var m = TOKEN.matcher(parts[0]);
      if (!m.matches()) {
        throw new IllegalArgumentException(
            where
                + "token must be <id>.<secret> with 6 and 16 characters of [a-z0-9], e.g."
                + " abcdef.0123456789abcdef");
      }
      if (parts.length < 2) {
        throw new IllegalArgumentException(
            where + "token " + m.group(1) + " has no usage: add 'single-use' or 'reusable'");
      }
      Usage usage;
      if (parts[1].equals("single-use")) {
        usage = Usage.SINGLE_USE;
      } else if (parts[1].equals("reusable")) {
        usage = Usage.REUSABLE;
      } else {
        throw new IllegalArgumentException(
            where + "usage '" + parts[1] + "' is neither 'single-use' nor 'reusable'");
      }
      Instant expires = null;
      for (int p = 2; p < parts.length; p++) {
        if (parts[p].startsWith("expires=")) {
          try {
            expires = Instant.parse(parts[p].substring("expires=".length()));
          } catch (DateTimeParseException e) {
            throw new IllegalArgumentException(
                where + "'" + parts[p] + "' is not an ISO-8601 instant, e.g. 2027-01-01T00:00:00Z");
          }
        } else {
          throw new IllegalArgumentException(
              where + "unknown attribute '" + parts[p] + "' (only expires=<instant>)");
        }
      }
      if (out.containsKey(m.group(1))) {
        throw new IllegalArgumentException(where + "token id " + m.group(1) + " appears twice");
      }
      out.put(
          m.group(1),
          new Token(m.group(1), m.group(2).getBytes(StandardCharsets.US_ASCII), usage, expires));
    }
    return out;
  }

  private synchronized void reload() {
    try {
      FileTime mtime = Files.getLastModifiedTime(file);
      if (mtime.equals(loadedMtime) && tokens != null) {
        return;
      }
      Map<String, Token> parsed = parse(Files.readString(file), file.toString());
      if (parsed.isEmpty()) {
        LOG.warn("token file {} holds no token: no node can join", file);
      }
      boolean first = tokens == null;
      tokens = parsed;
      loadedMtime = mtime;
      if (!first) {
        LOG.info("re-read token file {}: {} token(s)", file, parsed.size());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the token file " + file, e);
    }
  }

  /** Number of tokens currently accepted. */
  public int size() {
    return tokens.size();
  }

  /** Checks a presented token against the file (re-read when it changed). */
  public Check check(String presented) {
    try {
      reload();
    } catch (RuntimeException e) {
      LOG.warn("keeping the previous tokens: {}", e.getMessage());
    }
    if (presented == null || presented.isEmpty()) {
      return new Refused("", "no bootstrap token presented: set the agent's token file");
    }
    var m = TOKEN.matcher(presented.strip());
    if (!m.matches()) {
      return new Refused(
          "",
          "the bootstrap token is malformed: expected <id>.<secret> with 6 and 16 characters of"
              + " [a-z0-9]; check the agent's token file");
    }
    String id = m.group(1);
    Token t = tokens.get(id);
    byte[] secret = m.group(2).getBytes(StandardCharsets.US_ASCII);
    // Compare against a dummy when the id is unknown so timing does not tell ids apart.
    byte[] expected = t != null ? t.secret() : new byte[16];
    boolean equal = MessageDigest.isEqual(expected, secret);
    if (t == null || !equal) {
      return new Refused(
          id,
          "bootstrap token "
              + id
              + " is not valid (unknown id or wrong secret): compare the agent's token file with"
              + " the control plane's");
    }
    if (t.expiresAt() != null && !clock.instant().isBefore(t.expiresAt())) {
      return new Refused(
          id, "bootstrap token " + id + " expired at " + t.expiresAt() + ": issue a new token");
    }
    return new Accepted(t);
  }
}
