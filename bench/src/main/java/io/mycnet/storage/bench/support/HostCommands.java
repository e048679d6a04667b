package io.mycnet.storage.bench.support;

import io.mycnet.storage.common.process.ChildProcess;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The host's programs as the benchmarks use them: is one installed, run one to its end. */
public final class HostCommands {
  private HostCommands() {}

  /** Whether {@code program} is an executable in {@code firstDirs} or on {@code PATH}. */
  public static boolean onPath(String program, String... firstDirs) {
    List<String> dirs = new ArrayList<>(List.of(firstDirs));
    dirs.addAll(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
    for (String d : dirs) {
      if (new File(d, program).canExecute()) {
        return true;
      }
    }
    return false;
  }

  /** Runs a short command to its end (at most {@code seconds}); true when it exits 0. */
  public static boolean exec(int seconds, String... command) {
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        ChildProcess.kill(p.toHandle());
        return false;
      }
      return p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
