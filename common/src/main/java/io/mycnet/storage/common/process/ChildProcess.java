package io.mycnet.storage.common.process;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Java main class run as a separate process: {@code java [jvm args] -cp CP Main [args]} with
 * extra environment, its standard output (and standard error, to the same file or another one)
 * appended to a log file. It is waited for by its {@link ReadyLine} ({@link #awaitReady}, bounded),
 * and stopped by its PID only: {@link #stop} (SIGTERM, then SIGKILL after a grace), {@link #kill}
 * (SIGKILL, as a crash), {@link #freeze}/{@link #thaw} (SIGSTOP/SIGCONT, a process that hangs).
 * {@link #close} stops it when it still runs, so a caller that fails leaves nothing behind. Local
 * mode starts its processes with it, and so do the tests and the benchmarks.
 */
public final class ChildProcess implements AutoCloseable {
  /** How long {@link #close} waits after SIGTERM before SIGKILL. */
  public static final Duration DEFAULT_GRACE = Duration.ofSeconds(10);

  private static final long POLL_MS = 50;

  private final String name;
  private final Process process;
  private final Path stdout;
  private final Path stderr;
  private final long stdoutFrom;

  private ChildProcess(String name, Process process, Path stdout, Path stderr, long stdoutFrom) {
    this.name = name;
    this.process = process;
    this.stdout = stdout;
    this.stderr = stderr;
    this.stdoutFrom = stdoutFrom;
  }

  /** A process that could not start or did not become ready; the message ends with its log. */
  public static final class StartFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StartFailure(String message) {
      super(message);
    }
  }

  /** A launch of {@code mainClass}, on {@link #currentClasspath()} unless told otherwise. */
  public static Builder java(String mainClass) {
    return new Builder(mainClass, null);
  }

  /**
   * A launch of a program that is not one of ours ({@code command}: the program and its arguments,
   * e.g. local mode's etcd); {@link Builder#args} add to it, the JVM settings are ignored.
   */
  public static Builder program(List<String> command) {
    return new Builder(null, List.copyOf(command));
  }

  /**
   * The class path of this JVM: the test class path when this runs under Surefire or Failsafe
   * (whose forked JVMs have only a manifest jar on {@code java.class.path}), else {@code
   * java.class.path}.
   */
  public static String currentClasspath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp == null || cp.isBlank() ? System.getProperty("java.class.path") : cp;
  }

  /** What to start; {@link #start} starts it. */
  public static final class Builder {
    private final String mainClass;
    private final List<String> program;
    private String name;
    private String classpath = currentClasspath();
    private final List<String> jvmArgs = new ArrayList<>();
    private final List<String> args = new ArrayList<>();
    private final Map<String, String> env = new LinkedHashMap<>();
    private Path stdout;
    private Path stderr;
    private boolean detached;

    private Builder(String mainClass, List<String> program) {
      this.mainClass = mainClass;
      this.program = program;
      this.name =
          mainClass != null
              ? mainClass.substring(mainClass.lastIndexOf('.') + 1)
              : Path.of(program.get(0)).getFileName().toString();
    }

    /** The name in messages (default: the main class's simple name). */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    public Builder classpath(String classpath) {
      this.classpath = classpath;
      return this;
    }

    public Builder jvmArgs(List<String> jvmArgs) {
      this.jvmArgs.addAll(jvmArgs);
      return this;
    }

    public Builder args(List<String> args) {
      this.args.addAll(args);
      return this;
    }

    /** Added to (and overriding) this process's environment. */
    public Builder env(Map<String, String> env) {
      this.env.putAll(env);
      return this;
    }

    /** The file standard output is appended to, and standard error too unless {@link #stderr}. */
    public Builder log(Path stdout) {
      this.stdout = stdout;
      return this;
    }

    /** A file of its own for standard error. */
    public Builder stderr(Path stderr) {
      this.stderr = stderr;
      return this;
    }

    /**
     * In a session of its own ({@code setsid}, when installed): the process survives the end of the
     * terminal and of the JVM that started it (local mode's processes).
     */
    public Builder detached(boolean detached) {
      this.detached = detached;
      return this;
    }

    /** The command line this builder starts. */
    public List<String> command() {
      List<String> cmd = new ArrayList<>();
      if (detached
          && (new File("/usr/bin/setsid").canExecute() || new File("/bin/setsid").canExecute())) {
        cmd.add("setsid");
      }
      if (program != null) {
        cmd.addAll(program);
        cmd.addAll(args);
        return cmd;
      }
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.addAll(jvmArgs);
      cmd.add("-cp");
      cmd.add(classpath);
      cmd.add(mainClass);
      cmd.addAll(args);
      return cmd;
    }

    /** Starts the process (not waiting for it to be ready). */
    public ChildProcess start() {
      if (stdout == null) {
        throw new IllegalStateException("no log file for " + name);
      }
      Path err = stderr == null ? stdout : stderr;
      try {
        for (Path f : List.of(stdout, err)) {
          if (f.getParent() != null) {
            Files.createDirectories(f.getParent());
          }
        }
        long from = Files.exists(stdout) ? Files.size(stdout) : 0;
        ProcessBuilder pb =
            new ProcessBuilder(command())
                .redirectOutput(ProcessBuilder.Redirect.appendTo(stdout.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        if (err.equals(stdout)) {
          pb.redirectErrorStream(true);
        } else {
          pb.redirectError(ProcessBuilder.Redirect.appendTo(err.toFile()));
        }
        pb.environment().putAll(env);
        return new ChildProcess(name, pb.start(), stdout, err, from);
      } catch (IOException e) {
        throw new StartFailure("cannot start " + name + ": " + e.getMessage());
      }
    }
  }

  public String name() {
    return name;
  }

  public long pid() {
    return process.pid();
  }

  public ProcessHandle handle() {
    return process.toHandle();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** The file standard output goes to. */
  public Path log() {
    return stdout;
  }

  /**
   * Waits until this process prints its {@link ReadyLine} and returns the line's fields. Fails with
   * the end of its log when it exits first, or (after killing it) when {@code timeout} passes.
   */
  public Map<String, String> awaitReady(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      for (String line : stdoutLines()) {
        Optional<Map<String, String>> ready = ReadyLine.parse(line);
        if (ready.isPresent()) {
          return ready.get();
        }
      }
      if (!process.isAlive()) {
        throw new StartFailure(
            name
                + " exited with code "
                + process.exitValue()
                + " while starting; its log ("
                + stderr
                + ") ends with:\n"
                + tail(stderr, 20));
      }
      if (System.nanoTime() > deadline) {
        kill();
        throw new StartFailure(
            name
                + " did not become ready within "
                + timeout.toSeconds()
                + "s; its log ("
                + stderr
                + ") ends with:\n"
                + tail(stderr, 20));
      }
      sleep(POLL_MS);
    }
  }

  /** The standard output lines this process printed so far (not those of earlier runs). */
  public List<String> stdoutLines() {
    try (RandomAccessFile f = new RandomAccessFile(stdout.toFile(), "r")) {
      long len = f.length();
      if (len <= stdoutFrom) {
        return List.of();
      }
      f.seek(stdoutFrom);
      byte[] b = new byte[(int) Math.min(len - stdoutFrom, Integer.MAX_VALUE - 16)];
      f.readFully(b);
      String text = new String(b, StandardCharsets.UTF_8);
      // A line still being written is not a line yet.
      int end = text.lastIndexOf('\n');
      return end < 0 ? List.of() : List.of(text.substring(0, end).split("\n", -1));
    } catch (IOException e) {
      return List.of();
    }
  }

  /** The whole standard output file (earlier runs into the same file included). */
  public String stdout() {
    return read(stdout);
  }

  /** The whole standard error file (the same as {@link #stdout} when they share it). */
  public String stderr() {
    return read(stderr);
  }

  /** How many lines of the standard error file contain {@code text}. */
  public long countInStderr(String text) {
    return stderr().lines().filter(l -> l.contains(text)).count();
  }

  /** Waits up to {@code timeout} for the process to end by itself; false when it still runs. */
  public boolean awaitExit(Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** The exit code; the process must have ended. */
  public int exitValue() {
    return process.exitValue();
  }

  /** SIGTERM by PID, then SIGKILL when it has not ended after {@code grace}. */
  public void stop(Duration grace) {
    stop(process.toHandle(), grace);
  }

  /** SIGKILL by PID, as a crash; returns once the process is gone. */
  public void kill() {
    kill(process.toHandle());
  }

  /** SIGSTOP: the process hangs (no thread runs) until {@link #thaw}. */
  public void freeze() {
    signal(pid(), "STOP");
  }

  /** SIGCONT after {@link #freeze}. */
  public void thaw() {
    signal(pid(), "CONT");
  }

  /** Stops the process ({@link #DEFAULT_GRACE}) if it still runs; a frozen one is killed. */
  @Override
  public void close() {
    if (process.isAlive()) {
      stop(DEFAULT_GRACE);
    }
  }

  /**
   * SIGTERM to {@code h}, SIGKILL after {@code grace}; returns once it is gone (or after a further
   * 10 s). False when it was not running.
   */
  public static boolean stop(ProcessHandle h, Duration grace) {
    if (!h.isAlive()) {
      return false;
    }
    h.destroy();
    if (!awaitGone(h, grace)) {
      kill(h);
    }
    return true;
  }

  /** SIGKILL to {@code h}; returns once it is gone (or after 10 s). False when not running. */
  public static boolean kill(ProcessHandle h) {
    if (!h.isAlive()) {
      return false;
    }
    h.destroyForcibly();
    awaitGone(h, Duration.ofSeconds(10));
    return true;
  }

  private static boolean awaitGone(ProcessHandle h, Duration timeout) {
    try {
      h.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException | ExecutionException e) {
      return !h.isAlive();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !h.isAlive();
    }
  }

  /** Sends {@code kill -SIGNAL pid} (signals the JDK cannot send, e.g. STOP and CONT). */
  static void signal(long pid, String signal) {
    try {
      Process k = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start();
      if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
        throw new IllegalStateException("kill -" + signal + " " + pid + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted sending " + signal + " to " + pid, e);
    }
  }

  /** The last {@code lines} lines of {@code file}, indented, for a message. */
  public static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
      return "  " + String.join("\n  ", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException | UncheckedIOException e) {
      return "  (no log)";
    }
  }

  private static String read(Path f) {
    try {
      return Files.exists(f) ? Files.readString(f) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StartFailure("interrupted while waiting");
    }
  }
}
