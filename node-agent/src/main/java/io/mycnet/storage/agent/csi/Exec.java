package io.mycnet.storage.agent.csi;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The commands the node plugin runs (mount, losetup, mkfs, blkid, ...): each a child process with a
 * bounded wait, its output read in full, and on failure an exception whose message is the command
 * and its standard error.
 */
final class Exec {
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  private Exec() {}

  /** What a finished command printed and its exit status. */
  record Result(List<String> command, int exit, String stdout, String stderr) {
    boolean ok() {
      return exit == 0;
    }

    /** One line for an error message: the command, its exit status and its standard error. */
    String describe() {
      String err = stderr.isBlank() ? stdout.strip() : stderr.strip();
      return String.join(" ", command)
          + " exited with "
          + exit
          + (err.isEmpty() ? "" : ": " + err.replace('\n', ' '));
    }
  }

  /** A command that could not run, or failed, or did not finish in time. */
  static final class CommandException extends Exception {
    CommandException(String message) {
      super(message);
    }
  }

  /** Runs {@code command}; a non-zero exit is returned, not thrown. */
  static Result run(Duration timeout, List<String> command) throws CommandException {
    Process p;
    try {
      p =
          new ProcessBuilder(command)
              .redirectInput(ProcessBuilder.Redirect.from(devNull()))
              .start();
    } catch (IOException e) {
      throw new CommandException("cannot run " + String.join(" ", command) + ": " + e.getMessage());
    }
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new CommandException(
            String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s");
      }
      return new Result(
          command, p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new CommandException(String.join(" ", command) + ": interrupted");
    } catch (ExecutionException | TimeoutException e) {
      throw new CommandException(String.join(" ", command) + ": its output was lost: " + e);
    }
  }

  static Result run(List<String> command) throws CommandException {
    return run(DEFAULT_TIMEOUT, command);
  }

  /** Runs {@code command} and requires exit status 0. */
  static Result check(Duration timeout, List<String> command) throws CommandException {
    Result r = run(timeout, command);
    if (!r.ok()) {
      throw new CommandException(r.describe());
    }
    return r;
  }

  static Result check(List<String> command) throws CommandException {
    return check(DEFAULT_TIMEOUT, command);
  }

  /** Whether {@code program} is an executable on PATH. */
  static boolean onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }

  private static java.io.File devNull() {
    return new java.io.File("/dev/null");
  }

  private static String read(InputStream in) {
    try (in) {
      byte[] b = in.readNBytes(1 << 20);
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return new String(b, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
