package io.mycnet.storage.cli.local;

import io.mycnet.storage.cli.CliException;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Properties;

/**
 * Local mode's state directory (default {@code .mycnet/}): {@code etcd/} (etcd's data), {@code ca/}
 * (the control plane's CA), {@code tokens} (the bootstrap token), {@code nodes/<id>/} (each agent's
 * data directory, and its NBD Unix socket {@code nodes/<id>/nbd.sock}, or in {@link
 * #shortSocketDir} when that path is too long for a Unix socket), {@code logs/} (one log per
 * process), {@code pids/} (one PID file per process), {@code nbd-tls/<namespace>/} (the NBD client
 * certificates {@code mycnet volume export} writes), {@code local.properties} (ports, NBD endpoints
 * and per-node overrides), {@code manifests.status} (the manifest watcher's last outcome per file)
 * and {@code manifests.applied} (what each manifest file put in place, kept across restarts so that
 * a removal made while local mode was stopped is seen).
 */
public final class LocalState {
  private final Path root;

  public LocalState(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  public Path etcdDir() {
    return root.resolve("etcd");
  }

  public Path caDir() {
    return root.resolve("ca");
  }

  public Path caCert() {
    return caDir().resolve("ca.crt");
  }

  public Path tokenFile() {
    return root.resolve("tokens");
  }

  public Path nodeDir(String node) {
    return root.resolve("nodes").resolve(node);
  }

  /**
   * The longest Unix socket path the kernel accepts: {@code sun_path} holds 108 bytes, the last of
   * them the terminating NUL.
   */
  public static final int MAX_SOCKET_PATH_BYTES = 107;

  /**
   * The node's NBD Unix socket: {@code nodes/<id>/nbd.sock}, or, when that path is longer than the
   * {@value #MAX_SOCKET_PATH_BYTES} bytes the kernel takes (a deep state directory), {@code
   * <tmp>/mycnet-nbd-<hash of the state directory>/<id>.sock} ({@link #shortSocketDir}); a node id
   * so long that even that does not fit is refused with exit code 2.
   */
  public Path nbdSocket(String node) {
    return nbdSocket(node, Path.of(System.getProperty("java.io.tmpdir")));
  }

  Path nbdSocket(String node, Path tmp) {
    Path p = nodeDir(node).resolve("nbd.sock");
    if (socketPathBytes(p) <= MAX_SOCKET_PATH_BYTES) {
      return p;
    }
    Path q = shortSocketDir(tmp).resolve(node + ".sock");
    int length = socketPathBytes(q);
    if (length > MAX_SOCKET_PATH_BYTES) {
      throw new CliException(
          "node "
              + node
              + ": its NBD socket path "
              + q
              + " is "
              + length
              + " bytes long, more than the "
              + MAX_SOCKET_PATH_BYTES
              + " a Unix socket path may have; use a shorter node id",
          2);
    }
    return q;
  }

  /**
   * The node's CSI node plugin socket: the agent's default {@code nodes/<id>/csi.sock}, or {@code
   * <id>.csi.sock} in {@link #shortSocketDir} when that path is too long for a Unix socket (as for
   * the NBD socket).
   */
  public Path csiSocket(String node) {
    return csiSocket(node, Path.of(System.getProperty("java.io.tmpdir")));
  }

  Path csiSocket(String node, Path tmp) {
    return fitting(nodeDir(node).resolve("csi.sock"), node + ".csi.sock", "node " + node, tmp);
  }

  /**
   * The CSI controller's socket the control plane serves: {@code csi/controller.sock}, or {@code
   * _controller.csi.sock} in {@link #shortSocketDir} (no node id has an underscore) when that path
   * is too long for a Unix socket.
   */
  public Path csiControllerSocket() {
    return csiControllerSocket(Path.of(System.getProperty("java.io.tmpdir")));
  }

  Path csiControllerSocket(Path tmp) {
    return fitting(
        csiDir().resolve("controller.sock"), "_controller.csi.sock", "the control plane", tmp);
  }

  private Path fitting(Path preferred, String shortName, String whose, Path tmp) {
    if (socketPathBytes(preferred) <= MAX_SOCKET_PATH_BYTES) {
      return preferred;
    }
    Path q = shortSocketDir(tmp).resolve(shortName);
    int length = socketPathBytes(q);
    if (length > MAX_SOCKET_PATH_BYTES) {
      throw new CliException(
          whose
              + ": its CSI socket path "
              + q
              + " is "
              + length
              + " bytes long, more than the "
              + MAX_SOCKET_PATH_BYTES
              + " a Unix socket path may have; use a shorter node id",
          2);
    }
    return q;
  }

  /**
   * What {@code mycnet volume mount} keeps: {@code csi/staging/<node>/<volume id>} (the staging
   * paths it hands the node plugins) and {@code csi/mounts/} (one record per mounted directory).
   */
  public Path csiDir() {
    return root.resolve("csi");
  }

  public Path csiStagingPath(String node, String volumeId) {
    return csiDir().resolve("staging").resolve(node).resolve(volumeId);
  }

  public Path csiMountRecords() {
    return csiDir().resolve("mounts");
  }

  private static int socketPathBytes(Path p) {
    return p.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
  }

  /**
   * Where the NBD sockets go when the state directory is too deep for them: a directory of the
   * temporary directory named after a hash of the state directory, so that two local modes never
   * share it. {@code local down --wipe} deletes it.
   */
  public Path shortSocketDir() {
    return shortSocketDir(Path.of(System.getProperty("java.io.tmpdir")));
  }

  Path shortSocketDir(Path tmp) {
    try {
      byte[] h =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(root.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return tmp.toAbsolutePath()
          .resolve("mycnet-nbd-" + java.util.HexFormat.of().formatHex(h, 0, 6));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /**
   * Creates the directory of an NBD socket when it is {@link #shortSocketDir} (the node's data
   * directory is the agent's own), mode 0700; one that exists must be a directory of this user, not
   * a link, since it lies in a directory everyone may write.
   */
  public void prepareSocketDir(Path socket) {
    Path dir = socket.getParent();
    if (dir.startsWith(root)) {
      return;
    }
    try {
      if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectories(
            dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
      // Ours: owned by whoever owns the state directory (this user made it).
      if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)
          || !Files.getOwner(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)
              .equals(Files.getOwner(root))) {
        throw new CliException(
            dir
                + " (where the NBD sockets go) is not a directory of the state directory's owner;"
                + " remove it and run again");
      }
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare " + dir, e);
    }
  }

  /** The directory of the NBD client certificates of a service namespace ({@code nbd-tls/<ns>}). */
  public Path nbdTlsDir(String namespace) {
    return root.resolve("nbd-tls").resolve(namespace);
  }

  /**
   * A node's NBD endpoints as its agent reported them in its ready line (or as local mode
   * configured them): the Unix socket path and the TLS address, each null when not recorded (an
   * agent started before local mode gave them out).
   */
  public record NbdEndpoints(String socket, String tlsAddress) {}

  public NbdEndpoints nbdEndpoints(String node) {
    Properties p = properties();
    return new NbdEndpoints(
        p.getProperty("node." + node + ".nbd.socket"), p.getProperty("node." + node + ".nbd.tls"));
  }

  /** The node's at-rest master key (base64 of 32 random bytes, mode 0600), created once. */
  public Path keyFile(String node) {
    Path f = root.resolve("keys").resolve(node + ".key");
    if (!Files.exists(f)) {
      try {
        Files.createDirectories(f.getParent());
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Path tmp = f.resolveSibling(node + ".key.tmp");
        Files.deleteIfExists(tmp);
        Files.writeString(
            Files.createFile(
                tmp,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
            java.util.Base64.getEncoder().encodeToString(key) + "\n");
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create " + f, e);
      }
    }
    return f;
  }

  public Path log(String process) {
    return root.resolve("logs").resolve(process + ".log");
  }

  public Path pidFile(String process) {
    return root.resolve("pids").resolve(process + ".pid");
  }

  public Path manifestStatus() {
    return root.resolve("manifests.status");
  }

  /** The manifest watcher's applied record (see {@link ManifestWatcher}). */
  public Path appliedManifests() {
    return root.resolve("manifests.applied");
  }

  public boolean exists() {
    return Files.isRegularFile(root.resolve("local.properties"));
  }

  /** Creates the directories and the bootstrap token file, once. */
  public void prepare() {
    try {
      for (Path d :
          new Path[] {root, root.resolve("logs"), root.resolve("pids"), root.resolve("nodes")}) {
        Files.createDirectories(d);
      }
      if (!Files.exists(tokenFile())) {
        SecureRandom r = new SecureRandom();
        String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder t = new StringBuilder();
        for (int i = 0; i < 23; i++) {
          t.append(i == 6 ? '.' : alphabet.charAt(r.nextInt(alphabet.length())));
        }
        Path tmp = root.resolve("tokens.tmp");
        Files.writeString(
            Files.createFile(
                tmp,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
            t + " reusable\n");
        Files.move(tmp, tokenFile(), StandardCopyOption.ATOMIC_MOVE);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare " + root, e);
    }
  }

  public Properties properties() {
    Properties p = new Properties();
    Path f = root.resolve("local.properties");
    if (Files.isRegularFile(f)) {
      try (Reader r = Files.newBufferedReader(f)) {
        p.load(r);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + f, e);
      }
    }
    return p;
  }

  public synchronized void save(Properties p) {
    Path f = root.resolve("local.properties");
    Path tmp = root.resolve("local.properties.tmp");
    try (Writer w = Files.newBufferedWriter(tmp)) {
      p.store(w, "mycnet local mode: ports and overrides (written by mycnet local up)");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + f, e);
    }
    try {
      Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + f, e);
    }
  }

  /** A required property, or a message telling the user to start local mode. */
  public String require(String key) {
    String v = properties().getProperty(key);
    if (v == null) {
      throw new CliException(
          "local mode has not been started in " + root + " (run: mycnet local up)");
    }
    return v;
  }
}
