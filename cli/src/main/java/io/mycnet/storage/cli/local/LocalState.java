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
 * data directory), {@code logs/} (one log per process), {@code pids/} (one PID file per process),
 * {@code local.properties} (ports and per-node overrides), {@code manifests.status} (the manifest
 * watcher's last outcome per file) and {@code manifests.applied} (what each manifest file put in
 * place, kept across restarts so that a removal made while local mode was stopped is seen).
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
