package io.mycnet.storage.cli.local;

import io.mycnet.storage.cli.CliException;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Starts local mode's processes detached from the terminal (in their own session when {@code
 * setsid} exists), each with its log under {@code logs/} and its PID under {@code pids/}, and stops
 * them by that PID, and only when the process's command line still names the state directory (a PID
 * file never makes us signal a stranger that reused the number).
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
   * Starts {@code command}, appending its output to its log, and waits until a line starting with
   * {@code readyPrefix} appears in the log (returned; null: returns at once), or fails with the
   * log's last lines when the process exits or {@code timeout} passes.
   */
  String start(String name, List<String> command, String readyPrefix, Duration timeout) {
    Path log = state.log(name);
    List<String> cmd = new ArrayList<>();
    if (new File("/usr/bin/setsid").canExecute() || new File("/bin/setsid").canExecute()) {
      cmd.add("setsid");
    }
    cmd.addAll(command);
    long from;
    Process p;
    try {
      Files.createDirectories(log.getParent());
      Files.writeString(
          log,
          "---- " + java.time.Instant.now() + " starting " + name + "\n",
          StandardCharsets.UTF_8,
          java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
      from = Files.size(log);
      p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      Files.writeString(state.pidFile(name), p.pid() + "\n");
    } catch (IOException e) {
      throw new CliException("cannot start " + name + ": " + e.getMessage());
    }
    if (readyPrefix == null) {
      return "";
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      String line = readyLine(log, from, readyPrefix);
      if (line != null) {
        return line;
      }
      if (!p.isAlive()) {
        throw new CliException(
            name
                + " exited with code "
                + p.exitValue()
                + " while starting; its log ("
                + log
                + ") ends with:\n"
                + tail(log, 15));
      }
      sleep(100);
    }
    p.destroyForcibly();
    throw new CliException(
        name
            + " did not become ready within "
            + timeout.toSeconds()
            + "s; its log ("
            + log
            + ") ends with:\n"
            + tail(log, 15));
  }

  /** Stops a process: SIGTERM, then SIGKILL after {@code grace}. False when it was not running. */
  boolean stop(String name, Duration grace) {
    Optional<ProcessHandle> h = running(name);
    if (h.isEmpty()) {
      deletePid(name);
      return false;
    }
    h.get().destroy();
    try {
      h.get().onExit().get(grace.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      h.get().destroyForcibly();
      waitGone(h.get());
    }
    deletePid(name);
    return true;
  }

  /** SIGKILL: the process dies at once, as on a power cut. False when it was not running. */
  boolean kill(String name) {
    Optional<ProcessHandle> h = running(name);
    if (h.isEmpty()) {
      return false;
    }
    h.get().destroyForcibly();
    waitGone(h.get());
    deletePid(name);
    return true;
  }

  private static void waitGone(ProcessHandle h) {
    try {
      h.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception e) {
      // reported by the caller's next check
    }
  }

  private void deletePid(String name) {
    try {
      Files.deleteIfExists(state.pidFile(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String readyLine(Path log, long from, String prefix) {
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
      if (f.length() <= from) {
        return null;
      }
      f.seek(from);
      byte[] b = new byte[(int) Math.min(f.length() - from, 1 << 20)];
      f.readFully(b);
      for (String line : new String(b, StandardCharsets.UTF_8).split("\n")) {
        if (line.startsWith(prefix)) {
          return line;
        }
      }
      return null;
    } catch (IOException e) {
      return null;
    }
  }

  static String tail(Path log, int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return "  " + String.join("\n  ", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | UncheckedIOException e) {
      return "  (no log)";
    }
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
