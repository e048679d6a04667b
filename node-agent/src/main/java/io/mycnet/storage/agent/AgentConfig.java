package io.mycnet.storage.agent;

import io.mycnet.storage.agent.replica.NamespaceKeys;
import io.mycnet.storage.agent.support.Backoff;
import io.mycnet.storage.common.settings.Check;
import io.mycnet.storage.common.settings.HostPort;
import io.mycnet.storage.common.settings.ProcessSettings;
import io.mycnet.storage.common.settings.Setting;
import io.mycnet.storage.common.settings.SettingException;
import io.mycnet.storage.common.settings.SettingValues;
import io.mycnet.storage.common.settings.ValueType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The agent's settings, from (highest precedence first) command-line flags {@code --name=value},
 * environment variables {@code MYCNET_NAME} (upper case, '-' as '_'), and a properties file given
 * by {@code --config} / {@code MYCNET_CONFIG} ({@code name=value} lines). Each is declared once
 * below (name, type, default, checks, meaning); the README's configuration reference is generated
 * from these declarations.
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
    long rebuildCatchUpMax,
    Duration scrubInterval,
    Map<String, String> labels,
    Duration reconnectBackoffMax,
    Path nbdSocket,
    String nbdAddress,
    Duration frontendRetryWindow,
    Path csiSocket,
    int csiMaxVolumes) {

  /** The default {@code reconnect-backoff-max}. */
  public static final Duration DEFAULT_RECONNECT_BACKOFF_MAX = Duration.ofSeconds(5);

  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern TOPOLOGY_SEGMENT = Pattern.compile("[A-Za-z0-9][-A-Za-z0-9_.]*");
  public static final Pattern TOKEN = Pattern.compile("[a-z0-9]{6}\\.[a-z0-9]{16}");
  private static final Pattern LABEL_KEY =
      Pattern.compile("([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
  private static final Pattern LABEL_VALUE =
      Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?");

  // The settings, declared once: name (flag --name, MYCNET_NAME, file key name), type, default,
  // checks, meaning. Adding one: declare it here, add it to PROCESS, read it in load().

  public static final Setting<Path> CONFIG =
      Setting.path("config")
          .doc(
              "a properties file of name=value lines giving any other setting (flags and"
                  + " variables win over it)");
  public static final Setting<String> NODE_ID =
      Setting.string("node-id")
          .required()
          .check(
              (v, t) ->
                  v.length() <= 253 && DNS_SUBDOMAIN.matcher(v).matches()
                      ? null
                      : "'"
                          + v
                          + "' is not a DNS-1123 subdomain (lower-case letters, digits, '-' and"
                          + " '.'), e.g. n17")
          .doc("DNS-1123 subdomain, becomes the certificate CN");
  public static final Setting<String> TOPOLOGY =
      Setting.string("topology")
          .required()
          .check(AgentConfig::topologyProblem)
          .doc("the node's place: `region=eu/zone=eu-1/rack=r3/node=n17`");
  public static final Setting<String> OWNER =
      Setting.string("owner").required().doc("the node's owner/operator");
  public static final Setting<Path> DATA_DIR =
      Setting.path("data-dir")
          .required()
          .doc("replicas, agent state, identity; created with mode 0700");
  public static final Setting<Long> CAPACITY =
      Setting.byteSize("capacity")
          .required()
          .check(Check.that(c -> c > 0, "must be more than 0 bytes"))
          .doc(
              "bytes offered: `500GiB`, `2TiB`, `1073741824`; at most the size of the data"
                  + " directory's file system");
  public static final Setting<HostPort> CONTROL_PLANE =
      Setting.address("control-plane")
          .required()
          .doc("the control plane's session (mutual TLS) address, host:port");
  public static final Setting<HostPort> JOIN_ADDRESS =
      Setting.address("join-address")
          .defaultText("control-plane port + 1")
          .doc("the control plane's join (TLS) address, host:port");
  public static final Setting<Path> TOKEN_FILE =
      Setting.path("token-file")
          .defaultText("required until joined")
          .check(AgentConfig::readableFile)
          .doc("file holding the bootstrap token");
  public static final Setting<Path> CA_FILE =
      Setting.path("ca-file")
          .defaultText("required until joined")
          .check(AgentConfig::readableFile)
          .doc("PEM CA certificate to verify the control plane at the join");
  public static final Setting<HostPort> LISTEN =
      Setting.listenAddress("listen")
          .required()
          .doc("host:port of the agent's health endpoint (port 0: any free port)");
  public static final Setting<Boolean> ENCRYPTION_AT_REST =
      Setting.bool("encryption-at-rest")
          .defaultValue(false)
          .doc(
              "whether new replicas are encrypted at rest (AES-256-GCM per 4 KiB block, a key per"
                  + " owning namespace; reported as the encryption-compliance trust factor)");
  public static final Setting<Path> ENCRYPTION_KEY_FILE =
      Setting.path("encryption-key-file")
          .defaultText(
              "required when encryption-at-rest is true; without it, keeps replicas encrypted"
                  + " earlier readable")
          .doc(
              "file holding the base64 32-byte master key the namespace keys are derived from,"
                  + " readable by its owner only (`head -c 32 /dev/urandom | base64 > key; chmod"
                  + " 600 key`)");
  public static final Setting<Long> PROBE_BYTES =
      Setting.byteSize("probe-bytes")
          .defaultValue(4L << 20)
          .check(Check.that(b -> b >= 64 * 1024 && b <= 1L << 30, "must be between 64KiB and 1GiB"))
          .doc("size of the disk probe's sequential write");
  public static final Setting<Duration> PROBE_INTERVAL =
      Setting.duration("probe-interval")
          .defaultValue(Duration.ofMinutes(10))
          .check(Check.that(d -> d.toSeconds() >= 1, "must be at least 1s"))
          .doc("how often the disk probe runs");
  public static final Setting<HostPort> DATA_LISTEN =
      Setting.listenAddress("data-listen")
          .defaultText("the listen host, any free port")
          .doc(
              "host:port of the data port (volume I/O and replica protocol, mutual TLS);"
                  + " advertised to the control plane");
  public static final Setting<Long> REBUILD_BANDWIDTH =
      Setting.byteSize("rebuild-bandwidth")
          .defaultValue(200L << 20)
          .doc("bytes per second all rebuilds of this node may copy (0: unlimited)");
  public static final Setting<Long> REBUILD_CATCH_UP_MAX =
      Setting.byteSize("rebuild-catch-up-max")
          .defaultValue(64L << 20)
          .check(Check.that(b -> b >= 64 * 1024 && b <= 1L << 30, "must be between 64KiB and 1GiB"))
          .doc(
              "bytes of forwarded writes a rebuild target keeps at most per volume, to re-apply"
                  + " over the chunks on their way (past it the chunks a write touches are asked"
                  + " for again); shown by Stat as rebuild_kept_limit_bytes");
  public static final Setting<Duration> SCRUB_INTERVAL =
      Setting.duration("scrub-interval")
          .defaultValue(Duration.ofHours(24))
          .check(Check.that(d -> d.toMillis() >= 100, "must be at least 100ms"))
          .doc("how often every replica is verified in full");
  public static final Setting<Map<String, String>> LABELS =
      Setting.of(
              "labels",
              new ValueType<>(
                  "key=value list",
                  AgentConfig::labels,
                  m ->
                      m.entrySet().stream()
                          .map(e -> e.getKey() + "=" + e.getValue())
                          .collect(java.util.stream.Collectors.joining(","))))
          .defaultValue(Map.of())
          .defaultText("none")
          .doc(
              "`key=value,key=value`: the node's labels, sent at the join (storage pools select"
                  + " nodes by them, e.g. `storage.mycnet.io/pool=core`)");
  public static final Setting<Duration> RECONNECT_BACKOFF_MAX =
      Setting.duration("reconnect-backoff-max")
          .defaultValue(DEFAULT_RECONNECT_BACKOFF_MAX)
          .check(
              (d, t) ->
                  d.toMillis() >= 500 && d.toSeconds() <= 60
                      ? null
                      : "must be between 500ms and 60s (it bounds how long a node stays away from"
                          + " a restarted control plane), was "
                          + t)
          .doc(
              "the longest wait between two attempts to reach the control plane (waits double"
                  + " from 0.5 s, ±20 % jitter); 500ms to 60s, and with the jitter below the"
                  + " control plane's down-grace-period minus its node-lease-ttl");

  public static final Setting<Path> NBD_SOCKET =
      Setting.path("nbd-socket")
          .defaultText("`<data-dir>/nbd.sock`")
          .doc(
              "the Unix socket (owner-only) where the block frontend serves this node's attached"
                  + " volumes over NBD (`nbd+unix:///<volume>?socket=<path>`)");
  public static final Setting<HostPort> NBD_ADDRESS =
      Setting.listenAddress("nbd-address")
          .defaultText("off")
          .doc(
              "host:port where the block frontend serves NBD over TCP with forced mutual TLS"
                  + " (client certificates `client:<namespace>` of the control plane's CA)");
  public static final Setting<Path> CSI_SOCKET =
      Setting.path("csi-socket")
          .defaultText("`<data-dir>/csi.sock`")
          .doc(
              "the Unix socket where the CSI node plugin (driver `storage.mycnet.io`) serves the"
                  + " Identity and Node services to the kubelet (or `mycnet volume mount`)");
  public static final Setting<Integer> CSI_MAX_VOLUMES =
      Setting.integer("csi-max-volumes")
          .defaultValue(64)
          .check(Check.that(n -> n >= 1 && n <= 4096, "must be between 1 and 4096"))
          .doc("how many CSI volumes this node may have staged at once (NodeGetInfo)");
  public static final Setting<Duration> FRONTEND_RETRY_WINDOW =
      Setting.duration("frontend-retry-window")
          .defaultValue(Duration.ofSeconds(60))
          .check(
              Check.that(
                  d -> d.toSeconds() >= 1 && d.toMinutes() <= 30, "must be between 1s and 30m"))
          .doc(
              "how long the block frontend re-sends a request while the volume's primary fails"
                  + " over before the NBD client gets EIO; longer than the control plane's"
                  + " failure detection (2 x node-lease-ttl + 7s: a silent primary is handed"
                  + " over one lease after its lease expired, before its node is DOWN), shorter than the NBD"
                  + " client's I/O timeout");

  /** Every setting of the agent process, in the reference's order. */
  public static final ProcessSettings PROCESS =
      new ProcessSettings(
          "Agent",
          "NodeAgentMain",
          "`--name=value` flags, `MYCNET_NAME` environment variables or `name=value` lines of the"
              + " `--config` file, in that precedence. An invalid one stops the agent with exit"
              + " code 2 naming it.",
          true,
          CONFIG,
          List.of(
              CONFIG,
              NODE_ID,
              TOPOLOGY,
              OWNER,
              DATA_DIR,
              CAPACITY,
              LABELS,
              CONTROL_PLANE,
              JOIN_ADDRESS,
              TOKEN_FILE,
              CA_FILE,
              LISTEN,
              DATA_LISTEN,
              ENCRYPTION_AT_REST,
              ENCRYPTION_KEY_FILE,
              PROBE_BYTES,
              PROBE_INTERVAL,
              REBUILD_BANDWIDTH,
              REBUILD_CATCH_UP_MAX,
              SCRUB_INTERVAL,
              RECONNECT_BACKOFF_MAX,
              NBD_SOCKET,
              NBD_ADDRESS,
              FRONTEND_RETRY_WINDOW,
              CSI_SOCKET,
              CSI_MAX_VOLUMES));

  /** The names of the settings. */
  public static final List<String> SETTINGS =
      PROCESS.settings().stream().map(Setting::name).toList();

  /**
   * Reads and validates the settings.
   *
   * @throws SettingException naming the first setting that is missing or invalid, the way it was
   *     given
   */
  public static AgentConfig load(String[] args, Map<String, String> env) {
    SettingValues l = PROCESS.read(args, env);

    String nodeId = l.get(NODE_ID);
    String topology = l.get(TOPOLOGY);
    String owner = l.get(OWNER);
    Path dataDir = l.get(DATA_DIR).toAbsolutePath();
    prepareDataDir(l, dataDir);
    long capacity = l.get(CAPACITY);
    try {
      long total = Files.getFileStore(dataDir).getTotalSpace();
      if (total > 0 && capacity > total) {
        throw l.problem(
            CAPACITY,
            capacity
                + " bytes is more than the size of the data directory's file system ("
                + total
                + " bytes)");
      }
    } catch (IOException e) {
      throw l.problem(DATA_DIR, "cannot read its file system: " + e.getMessage());
    }
    HostPort controlPlane = l.get(CONTROL_PLANE);
    HostPort joinAddress = l.get(JOIN_ADDRESS);
    if (joinAddress == null) {
      if (controlPlane.port() == 65535) {
        throw l.problem(
            JOIN_ADDRESS,
            "control-plane port 65535 leaves no next port for the join; set join-address");
      }
      joinAddress = controlPlane.withPort(controlPlane.port() + 1);
    }
    boolean joined = Files.exists(dataDir.resolve("identity").resolve("node.crt"));
    Path tokenFile = joined ? l.get(TOKEN_FILE) : l.required(TOKEN_FILE);
    if (tokenFile != null) {
      try {
        readToken(tokenFile);
      } catch (SettingException e) {
        throw e.writtenAs(l.writtenAs(TOKEN_FILE));
      }
    }
    Path caFile = joined ? l.get(CA_FILE) : l.required(CA_FILE);
    if (caFile != null) {
      try {
        String pem = Files.readString(caFile);
        if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
          throw l.problem(CA_FILE, caFile + " holds no PEM certificate");
        }
      } catch (IOException e) {
        throw l.problem(CA_FILE, "cannot read " + caFile + ": " + e.getMessage());
      }
    }
    HostPort listen = l.get(LISTEN);
    boolean encryption = l.get(ENCRYPTION_AT_REST);
    Path encryptionKeyFile = null;
    if (encryption && !l.isSet(ENCRYPTION_KEY_FILE)) {
      throw l.problem(
          ENCRYPTION_KEY_FILE,
          "is required when encryption-at-rest is true (a file holding a base64 32-byte key,"
              + " readable by its owner only)");
    }
    if (l.isSet(ENCRYPTION_KEY_FILE)) {
      // Without encryption-at-rest, a key file keeps replicas written while it was on readable.
      encryptionKeyFile = l.get(ENCRYPTION_KEY_FILE).toAbsolutePath();
      try {
        NamespaceKeys.load(encryptionKeyFile); // refuses to start on a bad key file
      } catch (SettingException e) {
        throw e.writtenAs(l.writtenAs(ENCRYPTION_KEY_FILE));
      }
    }
    long probeBytes = l.get(PROBE_BYTES);
    Duration probeInterval = l.get(PROBE_INTERVAL);
    HostPort dataListen = l.getOrElse(DATA_LISTEN, listen.withPort(0));
    long rebuildBandwidth = l.get(REBUILD_BANDWIDTH);
    Duration scrubInterval = l.get(SCRUB_INTERVAL);
    Duration reconnectBackoffMax = l.get(RECONNECT_BACKOFF_MAX);
    Path nbdSocket =
        l.isSet(NBD_SOCKET) ? l.get(NBD_SOCKET).toAbsolutePath() : dataDir.resolve("nbd.sock");
    checkSocketPath(l, NBD_SOCKET, nbdSocket);
    Path csiSocket =
        l.isSet(CSI_SOCKET) ? l.get(CSI_SOCKET).toAbsolutePath() : dataDir.resolve("csi.sock");
    checkSocketPath(l, CSI_SOCKET, csiSocket);
    return new AgentConfig(
        nodeId,
        topology,
        owner,
        dataDir,
        capacity,
        l.raw(CONTROL_PLANE),
        l.isSet(JOIN_ADDRESS) ? l.raw(JOIN_ADDRESS) : joinAddress.toString(),
        tokenFile,
        caFile,
        l.raw(LISTEN),
        encryption,
        encryptionKeyFile,
        probeBytes,
        probeInterval,
        l.isSet(DATA_LISTEN) ? l.raw(DATA_LISTEN) : dataListen.toString(),
        rebuildBandwidth,
        l.get(REBUILD_CATCH_UP_MAX),
        scrubInterval,
        l.get(LABELS),
        reconnectBackoffMax,
        nbdSocket,
        l.get(NBD_ADDRESS) != null ? l.raw(NBD_ADDRESS) : null,
        l.get(FRONTEND_RETRY_WINDOW),
        csiSocket,
        l.get(CSI_MAX_VOLUMES));
  }

  /** A Unix socket path must fit in sun_path and its directory must exist. */
  private static void checkSocketPath(SettingValues l, Setting<Path> setting, Path socket) {
    if (socket.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 100) {
      throw l.problem(
          setting,
          socket + " is longer than a Unix socket path may be (100 bytes here); set a shorter one");
    }
    if (socket.getParent() != null && !Files.isDirectory(socket.getParent())) {
      throw l.problem(setting, "the directory of " + socket + " does not exist");
    }
  }

  private static String topologyProblem(String topology, String text) {
    for (String seg : topology.split("/", -1)) {
      int eq = seg.indexOf('=');
      if (eq <= 0
          || !TOPOLOGY_SEGMENT.matcher(seg.substring(0, eq)).matches()
          || !TOPOLOGY_SEGMENT.matcher(seg.substring(eq + 1)).matches()) {
        return "segment '"
            + seg
            + "' of '"
            + topology
            + "' is not level=value; expected e.g. region=eu/zone=eu-1/rack=r3/node=n17";
      }
    }
    return null;
  }

  private static String readableFile(Path p, String text) {
    return Files.isRegularFile(p) && Files.isReadable(p) ? null : p + " is not a readable file";
  }

  /**
   * Whether this agent's reconnect backoff suits the heartbeat interval the control plane told it:
   * the node lease is a few heartbeat intervals (at least two, 3 by default), so a longest
   * reconnect wait (jitter included) above three intervals lets a lease lapse after every broken
   * session. Returns the warning, naming the setting, or empty.
   */
  public static java.util.Optional<String> reconnectProblem(
      Duration backoffMax, Duration heartbeat) {
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
        throw new IllegalArgumentException("'" + p + "' is not key=value");
      }
      String key = p.substring(0, eq).strip();
      String value = p.substring(eq + 1).strip();
      if (!LABEL_KEY.matcher(key).matches() || key.length() > 316) {
        throw new IllegalArgumentException("'" + key + "' is not a label key");
      }
      if (!LABEL_VALUE.matcher(value).matches() || value.length() > 63) {
        throw new IllegalArgumentException("'" + value + "' (of " + key + ") is not a label value");
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
          throw new SettingException(
              "token-file",
              "token-file",
              file
                  + " does not start with a token of the form <id>.<secret> (6 and 16 characters"
                  + " of [a-z0-9])");
        }
        return token;
      }
    } catch (IOException e) {
      throw new SettingException(
          "token-file", "token-file", "cannot read " + file + ": " + e.getMessage());
    }
    throw new SettingException("token-file", "token-file", file + " holds no token");
  }

  private static void prepareDataDir(SettingValues l, Path dir) {
    try {
      if (!Files.exists(dir)) {
        Files.createDirectories(
            dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
      if (!Files.isDirectory(dir)) {
        throw l.problem(DATA_DIR, dir + " is not a directory");
      }
      if (!Files.isWritable(dir)) {
        throw l.problem(DATA_DIR, dir + " is not writable by this process");
      }
    } catch (IOException e) {
      throw l.problem(DATA_DIR, "cannot create " + dir + ": " + e.getMessage());
    }
  }
}
