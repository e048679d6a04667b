package io.mycnet.storage.common.process;

import java.util.Map;

/**
 * The child the launcher's tests start: {@code ready VALUE} prints a ready line with its pid, the
 * value and {@code CHILD_ENV} from the environment, then waits; {@code exit CODE} prints to stderr
 * and exits; {@code silent} never gets ready; {@code stubborn} is ready but its shutdown hook never
 * ends (SIGTERM does not stop it); {@code tick} is ready and then prints a line every 20 ms.
 */
public final class ChildMain {
  private ChildMain() {}

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "exit" -> {
        System.err.println("bad setting CHILD_ENV: no good");
        System.exit(Integer.parseInt(args[1]));
      }
      case "silent" -> Thread.sleep(Long.MAX_VALUE);
      case "stubborn" -> {
        Runtime.getRuntime()
            .addShutdownHook(
                new Thread(
                    () -> {
                      try {
                        Thread.sleep(Long.MAX_VALUE);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    }));
        ReadyLine.print(System.out, Map.of("pid", ProcessHandle.current().pid()));
        Thread.sleep(Long.MAX_VALUE);
      }
      case "tick" -> {
        ReadyLine.print(System.out, Map.of("pid", ProcessHandle.current().pid()));
        for (long i = 0; ; i++) {
          System.out.println("tick " + i);
          Thread.sleep(20);
        }
      }
      default -> {
        System.out.println("starting");
        System.out.println(
            ReadyLine.format(
                "pid",
                ProcessHandle.current().pid(),
                "value",
                args[1],
                "env",
                System.getenv("CHILD_ENV")));
        Thread.sleep(Long.MAX_VALUE);
      }
    }
  }
}
