package io.mycnet.storage.local;

import io.etcd.jetcd.Client;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real etcd cluster of one or more members on loopback, each a separate process with its own data
 * directory under one fresh temporary directory. Members can be stopped, killed and restarted
 * individually for failure tests. {@link #close()} stops every process by its PID and removes the
 * directory; a JVM shutdown hook does the same if a test run dies first.
 */
public final class EtcdCluster implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdCluster.class);
  private static final int START_ATTEMPTS = 3;

  private final Path baseDir;
  private final List<EtcdMember> members;
  private final Thread shutdownHook;
  private Client client;

  private EtcdCluster(Path baseDir, List<EtcdMember> members) {
    this.baseDir = baseDir;
    this.members = List.copyOf(members);
    this.shutdownHook = new Thread(this::stopAll, "etcd-cluster-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /**
   * Starts {@code size} members on free loopback ports and waits until every one is healthy.
   * Retries with new ports when a port was taken in the meantime.
   */
  public static EtcdCluster start(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("cluster size must be >= 1, was " + size);
    }
    EtcdBinary.locate(); // fail early, with the installation hint
    IllegalStateException last = null;
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      EtcdCluster cluster = create(size);
      try {
        cluster.members.forEach(EtcdMember::launch);
        for (EtcdMember m : cluster.members) {
          m.awaitHealthy(Duration.ofSeconds(30));
        }
        return cluster;
      } catch (IllegalStateException e) {
        boolean portRace = cluster.members.stream().anyMatch(EtcdMember::logMentionsAddressInUse);
        cluster.close();
        last = e;
        if (!portRace) {
          throw e;
        }
        LOG.warn("etcd start attempt {} lost a port race, retrying", attempt);
      }
    }
    throw last;
  }

  private static EtcdCluster create(int size) {
    Path base;
    try {
      base = Files.createTempDirectory("mycnet-etcd-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a directory for etcd", e);
    }
    List<EtcdMember> members = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      String name = "etcd" + i;
      members.add(
          new EtcdMember(name, base.resolve(name), LoopbackPorts.free(), LoopbackPorts.free()));
    }
    String initialCluster =
        members.stream().map(m -> m.name() + "=" + m.peerUrl()).collect(Collectors.joining(","));
    String token = "mycnet-test-" + base.getFileName();
    members.forEach(m -> m.setInitialCluster(initialCluster, token));
    return new EtcdCluster(base, members);
  }

  public List<EtcdMember> members() {
    return members;
  }

  public EtcdMember member(int index) {
    return members.get(index);
  }

  /** Client URLs of every member, e.g. {@code http://127.0.0.1:40123}. */
  public List<String> endpoints() {
    return members.stream().map(EtcdMember::clientUrl).toList();
  }

  /** A shared jetcd client for all endpoints, closed with the cluster. */
  public synchronized Client client() {
    if (client == null) {
      client = newClient();
    }
    return client;
  }

  /** A new jetcd client for all endpoints; the caller closes it. */
  public Client newClient() {
    return Client.builder().endpoints(endpoints().toArray(String[]::new)).build();
  }

  public Path baseDir() {
    return baseDir;
  }

  /** Stops every member, deletes the data directories and closes the shared client. */
  @Override
  public synchronized void close() {
    if (client != null) {
      client.close();
      client = null;
    }
    stopAll();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or has run; nothing more to do
    }
    deleteRecursively(baseDir);
  }

  private void stopAll() {
    for (EtcdMember m : members) {
      try {
        m.stop();
      } catch (RuntimeException e) {
        LOG.warn("stopping etcd member {} failed: {}", m.name(), e.toString());
      }
    }
  }

  private static void deleteRecursively(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      LOG.warn("cannot delete {}: {}", dir, e.toString());
    }
  }
}
