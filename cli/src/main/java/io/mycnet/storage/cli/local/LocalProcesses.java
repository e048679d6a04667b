package io.mycnet.storage.cli.local;

import io.mycnet.storage.cli.CliException;
import io.mycnet.storage.common.process.ChildProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Local mode's processes: started with the one launcher ({@link ChildProcess}) detached from the
 * terminal (in their own session when {@code setsid} exists), each with its log under {@code logs/}
 * and its PID under {@code pids/}, since they outlive the {@code mycnet} command that started them;
 * stopped by that PID, and only when the process's command line still names the state directory (a
 * PID file never makes us signal a stranger that reused the number).
 */
public final class LocalProcesses {
  private final LocalState state;

  public LocalProcesses(LocalState state) {
    this.state = state;
  }

  /** A process that is running: its handle. */
  Optional<ProcessHandle> running(String name) {
    Path pidFile = state.pidFile(name);
    if (!Files.isRegularFile(pidFile)) {
      return Optional.empty();
    }
    long pid;
    try {
      pid = Long.parseLong(Files.readString(pidFile).strip());
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
    return ProcessHandle.of(pid)
        .filter(ProcessHandle::isAlive)
        .filter(h -> commandLine(h).contains(state.root().toString()));
  }

  /**
   * The process's whole command line: {@code /proc/PID/cmdline} on Linux (the JDK's {@code
   * ProcessHandle.Info} gives none for long ones, such as a JVM with a long class path).
   */
  static String commandLine(ProcessHandle h) {
    Path proc = Path.of("/proc", String.valueOf(h.pid()), "cmdline");
    try {
      return new String(Files.readAllBytes(proc), StandardCharsets.UTF_8).replace('\0', ' ');
    } catch (IOException e) {
      return h.info().commandLine().orElse("");
    }
  }

  /**
   * Starts {@code what} detached, appending its output to its log, and (when {@code awaitReady})
   * waits until it prints its ready line, whose fields are returned (else an empty map at once);
   * fails with the log's last lines when the process exits or {@code timeout} passes.
   */
  Map<String, String> start(
      String name, ChildProcess.Builder what, boolean awaitReady, Duration timeout) {
    Path log = state.log(name);
    ChildProcess p;
    try {
      Files.createDirectories(log.getParent());
      Files.writeString(
          log,
          "---- " + java.time.Instant.now() + " starting " + name + "\n",
          StandardCharsets.UTF_8,
          java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
      p = what.name(name).log(log).detached(true).start();
      Files.writeString(state.pidFile(name), p.pid() + "\n");
    } catch (IOException | ChildProcess.StartFailure e) {
      throw new CliException("cannot start " + name + ": " + e.getMessage());
    }
    if (!awaitReady) {
      return Map.of();
    }
    try {
      return p.awaitReady(timeout);
    } catch (ChildProcess.StartFailure e) {
      throw new CliException(e.getMessage());
    }
  }

  /** Stops a process: SIGTERM, then SIGKILL after {@code grace}. False when it was not running. */
  boolean stop(String name, Duration grace) {
    Optional<ProcessHandle> h = running(name);
    if (h.isEmpty()) {
      deletePid(name);
      return false;
    }
    ChildProcess.stop(h.get(), grace);
    deletePid(name);
    return true;
  }

  /** SIGKILL: the process dies at once, as on a power cut. False when it was not running. */
  boolean kill(String name) {
    Optional<ProcessHandle> h = running(name);
    if (h.isEmpty()) {
      return false;
    }
    ChildProcess.kill(h.get());
    deletePid(name);
    return true;
  }

  private void deletePid(String name) {
    try {
      Files.deleteIfExists(state.pidFile(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String tail(Path log, int lines) {
    return ChildProcess.tail(log, lines);
  }

  public static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException("interrupted");
    }
  }
}
