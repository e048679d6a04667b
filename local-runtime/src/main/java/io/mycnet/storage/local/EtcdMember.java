package io.mycnet.storage.local;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One real etcd process: its name, ports and data directory stay fixed across {@link #stop()} and
 * {@link #start()}, so a restarted member rejoins its cluster with its data. Output goes to {@code
 * etcd.log} in the member's directory.
 */
public final class EtcdMember {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdMember.class);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  private final String name;
  private final Path dir;
  private final int clientPort;
  private final int peerPort;
  private volatile String initialCluster;
  private volatile String clusterToken;
  private volatile Process process;

  EtcdMember(String name, Path dir, int clientPort, int peerPort) {
    this.name = name;
    this.dir = dir;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
  }

  public String name() {
    return name;
  }

  public String clientUrl() {
    return "http://127.0.0.1:" + clientPort;
  }

  public String peerUrl() {
    return "http://127.0.0.1:" + peerPort;
  }

  public Path dataDir() {
    return dir.resolve("data");
  }

  public Path logFile() {
    return dir.resolve("etcd.log");
  }

  /** The PID of the running process, or -1. */
  public long pid() {
    Process p = process;
    return p != null && p.isAlive() ? p.pid() : -1;
  }

  public boolean isRunning() {
    Process p = process;
    return p != null && p.isAlive();
  }

  void setInitialCluster(String initialCluster, String clusterToken) {
    this.initialCluster = initialCluster;
    this.clusterToken = clusterToken;
  }

  /** Starts the process without waiting for it to be healthy (a cluster member needs a quorum). */
  synchronized void launch() {
    if (isRunning()) {
      return;
    }
    try {
      Files.createDirectories(dir);
      List<String> cmd = new ArrayList<>();
      cmd.add(EtcdBinary.locate().toString());
      cmd.addAll(
          List.of(
              "--name",
              name,
              "--data-dir",
              dataDir().toString(),
              "--listen-client-urls",
              clientUrl(),
              "--advertise-client-urls",
              clientUrl(),
              "--listen-peer-urls",
              peerUrl(),
              "--initial-advertise-peer-urls",
              peerUrl(),
              "--initial-cluster",
              initialCluster,
              "--initial-cluster-state",
              "new",
              "--initial-cluster-token",
              clusterToken,
              // Short election timings: tests restart members and want quick leader changes.
              "--heartbeat-interval",
              "50",
              "--election-timeout",
              "500",
              "--logger",
              "zap",
              "--log-outputs",
              "stderr"));
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()));
      process = pb.start();
      LOG.info("etcd member {} started: pid={} client={}", name, process.pid(), clientUrl());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start etcd member " + name, e);
    }
  }

  /** Starts the process and waits until its {@code /health} endpoint answers healthy. */
  public synchronized void start() {
    launch();
    awaitHealthy(START_TIMEOUT);
  }

  /** Waits until the member answers {@code /health} with {@code "health":"true"}. */
  public void awaitHealthy(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      Process p = process;
      if (p == null || !p.isAlive()) {
        throw new IllegalStateException(
            "etcd member "
                + name
                + " exited with code "
                + (p == null ? "?" : p.exitValue())
                + " before it was healthy; its log:\n"
                + tailOfLog());
      }
      if (healthy()) {
        return;
      }
      sleep(50);
    }
    throw new IllegalStateException(
        "etcd member " + name + " not healthy after " + timeout + "; its log:\n" + tailOfLog());
  }

  /** True when the member answers its health endpoint positively right now. */
  public boolean healthy() {
    try {
      HttpURLConnection c =
          (HttpURLConnection) URI.create(clientUrl() + "/health").toURL().openConnection();
      c.setConnectTimeout(500);
      c.setReadTimeout(1000);
      try (InputStream in = c.getInputStream()) {
        String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        return body.contains("\"health\":\"true\"");
      } finally {
        c.disconnect();
      }
    } catch (IOException e) {
      return false;
    }
  }

  /** Stops the process gracefully (SIGTERM to its PID), then forcibly after 10 s. */
  public synchronized void stop() {
    Process p = process;
    if (p == null) {
      return;
    }
    p.destroy();
    awaitExit(p, 10);
    process = null;
  }

  /** Kills the process at once (SIGKILL to its PID), as a crash would. */
  public synchronized void kill() {
    Process p = process;
    if (p == null) {
      return;
    }
    p.destroyForcibly();
    awaitExit(p, 10);
    process = null;
  }

  private void awaitExit(Process p, int seconds) {
    try {
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(seconds, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** The last lines of the member's log, for error messages. */
  public String tailOfLog() {
    try {
      List<String> lines = Files.readAllLines(logFile());
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  boolean logMentionsAddressInUse() {
    return tailOfLog().contains("address already in use");
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for etcd", e);
    }
  }
}
