package io.mycnet.storage.agent;

import io.mycnet.storage.agent.replica.NamespaceKeys;
import io.mycnet.storage.agent.support.Backoff;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's settings, from (highest precedence first) command-line flags {@code --name=value},
 * environment variables {@code MYCNET_NAME} (upper case, '-' as '_'), and a properties file given
 * by {@code --config} / {@code MYCNET_CONFIG} ({@code name=value} lines).
 *
 * <table>
 *   <caption>settings</caption>
 *   <tr><th>name</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>node-id</td><td>DNS-1123 subdomain, becomes the certificate CN</td><td>required</td></tr>
 *   <tr><td>topology</td><td>{@code region=eu/zone=eu-1/rack=r3/node=n17}</td><td>required</td></tr>
 *   <tr><td>owner</td><td>the node's owner/operator</td><td>required</td></tr>
 *   <tr><td>data-dir</td><td>replicas, agent state, identity; created 0700</td><td>required</td></tr>
 *   <tr><td>capacity</td><td>bytes offered: {@code 500GiB}, {@code 2TiB}, {@code 1073741824};
 *       at most the file system's size</td><td>required</td></tr>
 *   <tr><td>control-plane</td><td>session (mutual TLS) address host:port</td><td>required</td></tr>
 *   <tr><td>join-address</td><td>join (TLS) address host:port</td><td>control-plane port + 1</td></tr>
 *   <tr><td>token-file</td><td>file holding the bootstrap token</td><td>required until joined</td></tr>
 *   <tr><td>ca-file</td><td>PEM CA certificate to verify the control plane at the join</td>
 *       <td>required until joined</td></tr>
 *   <tr><td>listen</td><td>host:port of the agent's health endpoint (port 0: any free port)</td>
 *       <td>required</td></tr>
 *   <tr><td>encryption-at-rest</td><td>{@code true}/{@code false}: whether new replicas are
 *       encrypted at rest (AES-256-GCM per 4 KiB block, a key per owning namespace; reported as the
 *       encryption-compliance trust factor)</td><td>false</td></tr>
 *   <tr><td>encryption-key-file</td><td>file holding the base64 32-byte master key the namespace
 *       keys are derived from (local mode); readable by its owner only. Create one with {@code
 *       head -c 32 /dev/urandom | base64 > key; chmod 600 key}</td>
 *       <td>required when encryption-at-rest is true; without it, keeps replicas encrypted
 *       earlier readable (new ones are plain)</td></tr>
 *   <tr><td>probe-bytes</td><td>size of the disk probe's sequential write</td><td>4MiB</td></tr>
 *   <tr><td>probe-interval</td><td>how often the disk probe runs</td><td>10m</td></tr>
 *   <tr><td>data-listen</td><td>host:port of the data port (volume I/O and replica protocol,
 *       mutual TLS); advertised to the control plane</td><td>the listen host, any free port</td></tr>
 *   <tr><td>rebuild-bandwidth</td><td>bytes per second all rebuilds of this node may copy
 *       ({@code 0}: unlimited)</td><td>200MiB</td></tr>
 *   <tr><td>scrub-interval</td><td>how often every replica is verified in full</td><td>24h</td></tr>
 *   <tr><td>labels</td><td>{@code key=value,key=value}: the node's labels, sent at the join
 *       (storage pools select nodes by them, e.g. {@code storage.mycnet.io/pool=core})</td>
 *       <td>none</td></tr>
 *   <tr><td>reconnect-backoff-max</td><td>the longest wait between two attempts to reach the
 *       control plane (waits double from 0.5 s up to it, ±20 % jitter, and start again from 0.5 s
 *       when an established session breaks); at least 500ms, at most 60s. With the jitter it must
 *       stay below the control plane's down grace period minus the node lease TTL, and the agent
 *       warns when it exceeds three of the heartbeat intervals it is told</td><td>5s</td></tr>
 * </table>
 */
public record AgentConfig(
    String nodeId,
    String topology,
    String owner,
    Path dataDir,
    long capacityBytes,
    String controlPlane,
    String joinAddress,
    Path tokenFile,
    Path caFile,
    String listen,
    boolean encryptionAtRest,
    Path encryptionKeyFile,
    long probeBytes,
    Duration probeInterval,
    String dataListen,
    long rebuildBandwidth,
    Duration scrubInterval,
    Map<String, String> labels,
    Duration reconnectBackoffMax) {

  /** The default {@code reconnect-backoff-max}. */
  public static final Duration DEFAULT_RECONNECT_BACKOFF_MAX = Duration.ofSeconds(5);

  public static final List<String> SETTINGS =
      List.of(
          "config",
          "node-id",
          "topology",
          "owner",
          "data-dir",
          "capacity",
          "control-plane",
          "join-address",
          "token-file",
          "ca-file",
          "listen",
          "encryption-at-rest",
          "encryption-key-file",
          "probe-bytes",
          "probe-interval",
          "data-listen",
          "rebuild-bandwidth",
          "scrub-interval",
          "labels",
          "reconnect-backoff-max");

  private static final Pattern NODE_ID =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern TOPOLOGY_SEGMENT = Pattern.compile("[A-Za-z0-9][-A-Za-z0-9_.]*");
  private static final Pattern SIZE =
      Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB|PiB|KB|MB|GB|TB|PB|K|M|G|T|P)?");
  public static final Pattern TOKEN = Pattern.compile("[a-z0-9]{6}\\.[a-z0-9]{16}");

  static String envName(String setting) {
    return "MYCNET_" + setting.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  /**
   * Reads and validates the settings.
   *
   * @throws ConfigException naming the first setting that is missing or invalid
   */
  public static AgentConfig load(String[] args, Map<String, String> env) {
    Map<String, String> flags = new LinkedHashMap<>();
    for (String a : args) {
      int eq = a.indexOf('=');
      if (!a.startsWith("--") || eq < 3) {
        throw new ConfigException(
            a.startsWith("--") ? a.substring(2) : a, "arguments are --name=value flags");
      }
      String name = a.substring(2, eq);
      if (!SETTINGS.contains(name)) {
        throw new ConfigException(name, "unknown setting; known: " + String.join(", ", SETTINGS));
      }
      flags.put(name, a.substring(eq + 1));
    }
    Map<String, String> file = new LinkedHashMap<>();
    String configPath = flags.getOrDefault("config", env.get(envName("config")));
    if (configPath != null) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(Path.of(configPath))) {
        p.load(r);
      } catch (IOException e) {
        throw new ConfigException("config", "cannot read " + configPath + ": " + e.getMessage());
      }
      for (String k : p.stringPropertyNames()) {
        if (!SETTINGS.contains(k) || k.equals("config")) {
          throw new ConfigException("config", configPath + ": unknown setting '" + k + "'");
        }
        file.put(k, p.getProperty(k).strip());
      }
    }
    Lookup l = new Lookup(flags, env, file);

    String nodeId = l.required("node-id");
    if (nodeId.length() > 253 || !NODE_ID.matcher(nodeId).matches()) {
      throw new ConfigException(
          "node-id",
          "'"
              + nodeId
              + "' is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.'), e.g."
              + " n17");
    }
    String topology = l.required("topology");
    for (String seg : topology.split("/", -1)) {
      int eq = seg.indexOf('=');
      if (eq <= 0
          || !TOPOLOGY_SEGMENT.matcher(seg.substring(0, eq)).matches()
          || !TOPOLOGY_SEGMENT.matcher(seg.substring(eq + 1)).matches()) {
        throw new ConfigException(
            "topology",
            "segment '"
                + seg
                + "' of '"
                + topology
                + "' is not level=value; expected e.g. region=eu/zone=eu-1/rack=r3/node=n17");
      }
    }
    String owner = l.required("owner");
    Path dataDir = Path.of(l.required("data-dir")).toAbsolutePath();
    prepareDataDir(dataDir);
    long capacity = size("capacity", l.required("capacity"));
    if (capacity <= 0) {
      throw new ConfigException("capacity", "must be more than 0 bytes");
    }
    try {
      long total = Files.getFileStore(dataDir).getTotalSpace();
      if (total > 0 && capacity > total) {
        throw new ConfigException(
            "capacity",
            capacity
                + " bytes is more than the size of the data directory's file system ("
                + total
                + " bytes)");
      }
    } catch (IOException e) {
      throw new ConfigException("data-dir", "cannot read its file system: " + e.getMessage());
    }
    String controlPlane = l.required("control-plane");
    int cpPort = port("control-plane", controlPlane, false);
    String joinAddress = l.get("join-address");
    if (joinAddress == null) {
      joinAddress = controlPlane.substring(0, controlPlane.lastIndexOf(':') + 1) + (cpPort + 1);
    } else {
      port("join-address", joinAddress, false);
    }
    boolean joined = Files.exists(dataDir.resolve("identity").resolve("node.crt"));
    Path tokenFile = optionalFile(l, "token-file", !joined);
    if (tokenFile != null) {
      readToken(tokenFile);
    }
    Path caFile = optionalFile(l, "ca-file", !joined);
    if (caFile != null) {
      try {
        String pem = Files.readString(caFile);
        if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
          throw new ConfigException("ca-file", caFile + " holds no PEM certificate");
        }
      } catch (IOException e) {
        throw new ConfigException("ca-file", "cannot read " + caFile + ": " + e.getMessage());
      }
    }
    String listen = l.required("listen");
    port("listen", listen, true);
    String enc = l.get("encryption-at-rest");
    boolean encryption;
    if (enc == null || enc.equalsIgnoreCase("false")) {
      encryption = false;
    } else if (enc.equalsIgnoreCase("true")) {
      encryption = true;
    } else {
      throw new ConfigException("encryption-at-rest", "'" + enc + "' is neither true nor false");
    }
    String kf = l.get("encryption-key-file");
    Path encryptionKeyFile = null;
    if (encryption) {
      if (kf == null) {
        throw new ConfigException(
            "encryption-key-file",
            "is required when encryption-at-rest is true (a file holding a base64 32-byte key,"
                + " readable by its owner only)");
      }
    }
    if (kf != null) {
      // Without encryption-at-rest, a key file keeps replicas written while it was on readable.
      encryptionKeyFile = Path.of(kf).toAbsolutePath();
      NamespaceKeys.load(encryptionKeyFile); // refuses to start on a bad key file
    }
    String pb = l.get("probe-bytes");
    long probeBytes = pb == null ? 4L << 20 : size("probe-bytes", pb);
    if (probeBytes < 64 * 1024 || probeBytes > 1L << 30) {
      throw new ConfigException("probe-bytes", "must be between 64KiB and 1GiB");
    }
    String pi = l.get("probe-interval");
    Duration probeInterval = pi == null ? Duration.ofMinutes(10) : duration("probe-interval", pi);
    if (probeInterval.toSeconds() < 1) {
      throw new ConfigException("probe-interval", "must be at least 1s");
    }
    String dataListen = l.get("data-listen");
    if (dataListen == null) {
      dataListen = listen.substring(0, listen.lastIndexOf(':')) + ":0";
    }
    port("data-listen", dataListen, true);
    String rb = l.get("rebuild-bandwidth");
    long rebuildBandwidth = rb == null ? 200L << 20 : size("rebuild-bandwidth", rb);
    String si = l.get("scrub-interval");
    Duration scrubInterval = si == null ? Duration.ofHours(24) : duration("scrub-interval", si);
    if (scrubInterval.toMillis() < 100) {
      throw new ConfigException("scrub-interval", "must be at least 100ms");
    }
    String rbm = l.get("reconnect-backoff-max");
    Duration reconnectBackoffMax =
        rbm == null ? DEFAULT_RECONNECT_BACKOFF_MAX : duration("reconnect-backoff-max", rbm);
    if (reconnectBackoffMax.toMillis() < 500 || reconnectBackoffMax.toSeconds() > 60) {
      throw new ConfigException(
          "reconnect-backoff-max",
          "must be between 500ms and 60s (it bounds how long a node stays away from a restarted"
              + " control plane), was "
              + rbm);
    }
    return new AgentConfig(
        nodeId,
        topology,
        owner,
        dataDir,
        capacity,
        controlPlane,
        joinAddress,
        tokenFile,
        caFile,
        listen,
        encryption,
        encryptionKeyFile,
        probeBytes,
        probeInterval,
        dataListen,
        rebuildBandwidth,
        scrubInterval,
        labels(l.get("labels")),
        reconnectBackoffMax);
  }

  /**
   * Whether this agent's reconnect backoff suits the heartbeat interval the control plane told it:
   * the node lease is a few heartbeat intervals (at least two, 3 by default), so a longest
   * reconnect wait (jitter included) above three intervals lets a lease lapse after every broken
   * session. Returns the warning, naming the setting, or empty.
   */
  static java.util.Optional<String> reconnectProblem(Duration backoffMax, Duration heartbeat) {
    long longest = (long) Math.ceil(backoffMax.toMillis() * (1 + Backoff.JITTER));
    if (longest > 3 * heartbeat.toMillis()) {
      return java.util.Optional.of(
          "reconnect-backoff-max ("
              + backoffMax.toMillis()
              + " ms, up to "
              + longest
              + " ms with jitter) is more than three heartbeat intervals ("
              + heartbeat.toMillis()
              + " ms each): after a broken session this node's lease may lapse before it is"
              + " back; lower reconnect-backoff-max");
    }
    return java.util.Optional.empty();
  }

  private static final Pattern LABEL_KEY =
      Pattern.compile("([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
  private static final Pattern LABEL_VALUE =
      Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?");

  /** Parses {@code key=value,key=value} with Kubernetes label syntax. */
  static Map<String, String> labels(String v) {
    Map<String, String> out = new LinkedHashMap<>();
    if (v == null || v.isBlank()) {
      return Map.of();
    }
    for (String pair : v.split(",")) {
      String p = pair.strip();
      int eq = p.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException("labels", "'" + p + "' is not key=value");
      }
      String key = p.substring(0, eq).strip();
      String value = p.substring(eq + 1).strip();
      if (!LABEL_KEY.matcher(key).matches() || key.length() > 316) {
        throw new ConfigException("labels", "'" + key + "' is not a label key");
      }
      if (!LABEL_VALUE.matcher(value).matches() || value.length() > 63) {
        throw new ConfigException(
            "labels", "'" + value + "' (of " + key + ") is not a label value");
      }
      out.put(key, value);
    }
    return Map.copyOf(out);
  }

  /** Reads the bootstrap token from a token file: its first line that is not blank or a comment. */
  public static String readToken(Path file) {
    try {
      for (String line : Files.readAllLines(file)) {
        String s = line.strip();
        if (s.isEmpty() || s.startsWith("#")) {
          continue;
        }
        String token = s.split("\\s+")[0];
        if (!TOKEN.matcher(token).matches()) {
          throw new ConfigException(
              "token-file",
              file
                  + " does not start with a token of the form <id>.<secret> (6 and 16 characters"
                  + " of [a-z0-9])");
        }
        return token;
      }
    } catch (IOException e) {
      throw new ConfigException("token-file", "cannot read " + file + ": " + e.getMessage());
    }
    throw new ConfigException("token-file", file + " holds no token");
  }

  private static void prepareDataDir(Path dir) {
    try {
      if (!Files.exists(dir)) {
        Files.createDirectories(
            dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
      if (!Files.isDirectory(dir)) {
        throw new ConfigException("data-dir", dir + " is not a directory");
      }
      if (!Files.isWritable(dir)) {
        throw new ConfigException("data-dir", dir + " is not writable by this process");
      }
    } catch (IOException e) {
      throw new ConfigException("data-dir", "cannot create " + dir + ": " + e.getMessage());
    }
  }

  private static Path optionalFile(Lookup l, String name, boolean required) {
    String v = required ? l.required(name) : l.get(name);
    if (v == null) {
      return null;
    }
    Path p = Path.of(v);
    if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
      throw new ConfigException(name, p + " is not a readable file");
    }
    return p;
  }

  /** Parses sizes: 1073741824, 500MiB, 2TiB (binary), 10GB (decimal). */
  static long size(String setting, String v) {
    Matcher m = SIZE.matcher(v.strip());
    if (!m.matches()) {
      throw new ConfigException(
          setting, "'" + v + "' is not a size; use e.g. 500GiB, 2TiB or a number of bytes");
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new ConfigException(setting, "'" + v + "' is too large");
    }
    String unit = m.group(2) == null ? "B" : m.group(2);
    long mult =
        switch (unit) {
          case "B" -> 1L;
          case "KiB", "K" -> 1L << 10;
          case "MiB", "M" -> 1L << 20;
          case "GiB", "G" -> 1L << 30;
          case "TiB", "T" -> 1L << 40;
          case "PiB", "P" -> 1L << 50;
          case "KB" -> 1_000L;
          case "MB" -> 1_000_000L;
          case "GB" -> 1_000_000_000L;
          case "TB" -> 1_000_000_000_000L;
          default -> 1_000_000_000_000_000L;
        };
    try {
      return Math.multiplyExact(n, mult);
    } catch (ArithmeticException e) {
      throw new ConfigException(setting, "'" + v + "' is too large");
    }
  }

  static Duration duration(String setting, String v) {
    try {
      return io.mycnet.storage.api.DurationText.parse(v);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(setting, "'" + v + "' is not a duration (e.g. 500ms, 30s, 10m)");
    }
  }

  /** Checks host:port and returns the port. */
  static int port(String setting, String v, boolean allowZero) {
    int colon = v.lastIndexOf(':');
    if (colon <= 0 || colon == v.length() - 1) {
      throw new ConfigException(setting, "'" + v + "' is not host:port");
    }
    try {
      int p = Integer.parseInt(v.substring(colon + 1));
      if (p < (allowZero ? 0 : 1) || p > 65535) {
        throw new ConfigException(
            setting, "'" + v + "': port must be " + (allowZero ? 0 : 1) + " to 65535");
      }
      return p;
    } catch (NumberFormatException e) {
      throw new ConfigException(setting, "'" + v + "': port is not a number");
    }
  }

  private record Lookup(
      Map<String, String> flags, Map<String, String> env, Map<String, String> file) {
    String get(String name) {
      String v = flags.get(name);
      if (v == null) {
        v = env.get(envName(name));
      }
      if (v == null) {
        v = file.get(name);
      }
      return v == null || v.isBlank() ? null : v.strip();
    }

    String required(String name) {
      String v = get(name);
      if (v == null) {
        throw new ConfigException(name, "is required");
      }
      return v;
    }
  }
}
