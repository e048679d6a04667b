package io.mycnet.storage.agent.it;

import static org.awaitility.Awaitility.await;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A main class of the test classpath run as a separate JVM, its stdout and stderr in files. Stopped
 * by PID ({@link #stop} SIGTERM then SIGKILL, {@link #kill} SIGKILL).
 */
final class JavaProcess implements AutoCloseable {
  private final String name;
  private final Process process;
  private final Path out;
  private final Path err;

  private JavaProcess(String name, Process process, Path out, Path err) {
    this.name = name;
    this.process = process;
    this.out = out;
    this.err = err;
  }

  /** The classpath of this test JVM (Surefire/Failsafe put the real one here). */
  static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    if (cp == null || cp.isBlank()) {
      cp = System.getProperty("java.class.path");
    }
    return cp;
  }

  static JavaProcess start(String name, Path logDir, String mainClass, List<String> args) {
    try {
      Files.createDirectories(logDir);
      Path out = logDir.resolve(name + ".out");
      Path err = logDir.resolve(name + ".err");
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.add("-Xmx128m");
      cmd.add("-XX:+UseSerialGC");
      cmd.add("-XX:TieredStopAtLevel=1");
      cmd.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
      cmd.add("-cp");
      cmd.add(classpath());
      cmd.add(mainClass);
      cmd.addAll(args);
      Process p =
          new ProcessBuilder(cmd)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
              .redirectError(ProcessBuilder.Redirect.appendTo(err.toFile()))
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      return new JavaProcess(name, p, out, err);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Waits for a stdout line matching {@code regex} and returns its first group. */
  String awaitStdout(String regex, Duration atMost) {
    Pattern p = Pattern.compile(regex);
    String[] found = new String[1];
    try {
      await()
          .atMost(atMost)
          .pollInterval(Duration.ofMillis(50))
          .failFast(name + " exited", () -> !process.isAlive())
          .until(
              () -> {
                for (String line : Files.readAllLines(out)) {
                  Matcher m = p.matcher(line);
                  if (m.find()) {
                    found[0] = m.groupCount() > 0 ? m.group(1) : line;
                    return true;
                  }
                }
                return false;
              });
    } catch (RuntimeException e) {
      throw new AssertionError(
          name + " did not print /" + regex + "/: " + e.getMessage() + "\nstderr:\n" + stderr(), e);
    }
    return found[0];
  }

  String stdout() {
    return read(out);
  }

  String stderr() {
    return read(err);
  }

  /** Number of stderr lines containing {@code text}. */
  long countInStderr(String text) {
    return stderr().lines().filter(l -> l.contains(text)).count();
  }

  private static String read(Path f) {
    try {
      return Files.exists(f) ? Files.readString(f) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  int awaitExit(Duration atMost) {
    await().atMost(atMost).until(() -> !process.isAlive());
    return process.exitValue();
  }

  /** Sends {@code signal} (e.g. {@code STOP}, {@code CONT}) to the process, by PID. */
  void signal(String signal) {
    try {
      Process k = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start();
      if (!k.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || k.exitValue() != 0) {
        throw new IllegalStateException("kill -" + signal + " " + process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** SIGKILL by PID. */
  void kill() {
    ProcessHandle.of(process.pid()).ifPresent(ProcessHandle::destroyForcibly);
    await().atMost(Duration.ofSeconds(10)).until(() -> !process.isAlive());
  }

  /** SIGTERM by PID (graceful), SIGKILL after 10 s. */
  void stop() {
    if (!process.isAlive()) {
      return;
    }
    ProcessHandle.of(process.pid()).ifPresent(ProcessHandle::destroy);
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> !process.isAlive());
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      kill();
    }
  }

  @Override
  public void close() {
    stop();
  }
}
