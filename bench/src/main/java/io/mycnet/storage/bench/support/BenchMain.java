package io.mycnet.storage.bench.support;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What every benchmark's {@code main} does around its run: {@code --name=value} flags, a watchdog
 * that stops everything and halts the JVM (exit 3) once the time limit is reached, exit 1 when the
 * run throws, and the benchmark's processes stopped in every case.
 */
public final class BenchMain {
  private BenchMain() {}

  /** A benchmark's run. */
  public interface Run {
    void run() throws Exception;
  }

  /** The {@code --name=value} flags; anything else prints {@code usage} and exits 2. */
  public static Map<String, String> flags(String[] args, String usage) {
    Map<String, String> a = new HashMap<>();
    for (String s : args) {
      int eq = s.indexOf('=');
      if (!s.startsWith("--") || eq < 0) {
        System.err.println(usage);
        System.exit(2);
      }
      a.put(s.substring(2, eq), s.substring(eq + 1));
    }
    return a;
  }

  /**
   * Runs {@code run} within {@code limitS} seconds, then {@code stopAll}, and exits: 0 when it
   * returned, 1 when it threw, 3 (halted by the watchdog, after {@code stopAll}) when time ran out.
   */
  public static void bounded(long limitS, Runnable stopAll, Run run) {
    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(limitS));
              } catch (InterruptedException e) {
                return;
              }
              System.out.println("TIME LIMIT of " + limitS + " s reached: stopping everything");
              stopAll.run();
              Runtime.getRuntime().halt(3);
            },
            "watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    int rc = 0;
    try {
      run.run();
    } catch (Exception e) {
      e.printStackTrace();
      rc = 1;
    } finally {
      stopAll.run();
    }
    System.exit(rc);
  }
}
