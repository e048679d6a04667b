package io.mycnet.storage.testsupport;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A Java main class run as a separate process with the test's own classpath: its standard output
 * lines are collected as they arrive (stderr goes to a log file), and it is stopped or killed by
 * its PID. Tests use it for crash and multi-process scenarios; {@link #close()} kills it if it is
 * still running, so a failing test leaves nothing behind.
 */
public final class JavaProcess implements AutoCloseable {
  private final Process process;
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final Thread reader;

  private JavaProcess(Process process) {
    this.process = process;
    this.reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  lines.add(line);
                }
              } catch (IOException e) {
                // the process died; what was read stays
              }
            },
            "stdout-" + process.pid());
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts {@code mainClass} with {@code args} in a new JVM on this JVM's classpath.
   *
   * @param stderrLog file that receives the child's standard error
   */
  public static JavaProcess start(
      String mainClass, List<String> jvmArgs, List<String> args, Path stderrLog) {
    return start(mainClass, jvmArgs, args, java.util.Map.of(), stderrLog);
  }

  /** As {@link #start(String, List, List, Path)}, with {@code env} added to the environment. */
  public static JavaProcess start(
      String mainClass,
      List<String> jvmArgs,
      List<String> args,
      java.util.Map<String, String> env,
      Path stderrLog) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    pb.redirectError(ProcessBuilder.Redirect.appendTo(stderrLog.toFile()));
    try {
      return new JavaProcess(pb.start());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + mainClass, e);
    }
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** The standard output lines read so far. */
  public List<String> lines() {
    return List.copyOf(lines);
  }

  /** SIGKILL, as a crash; waits until the process is gone and its output is read. */
  public void kill() {
    process.destroyForcibly();
    awaitExit(Duration.ofSeconds(20));
  }

  /** SIGTERM, then SIGKILL after {@code grace}. */
  public void stop(Duration grace) {
    process.destroy();
    if (!awaitExit(grace)) {
      kill();
    }
  }

  /** Waits for the process to exit by itself. Returns false on timeout. */
  public boolean awaitExit(Duration timeout) {
    try {
      boolean exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (exited) {
        reader.join(5000);
      }
      return exited;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  public int exitValue() {
    return process.exitValue();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
    }
  }
}
