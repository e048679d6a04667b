package io.mycnet.storage.agent;

import io.mycnet.storage.common.process.ReadyLine;
import io.mycnet.storage.common.settings.SettingException;
import java.time.Clock;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the node agent: {@code java io.mycnet.storage.agent.NodeAgentMain --node-id=n1 ...} (see
 * {@link AgentConfig} for the settings). An invalid setting stops it at once with exit code 2 and a
 * message naming the setting. Prints {@code ready health=<host:port> data=<host:port> nbd=<socket
 * path> csi=<socket path>} (and {@code nbd-tls=<host:port>} when NBD over TLS is on) on stdout once
 * started; stops gracefully on SIGTERM.
 */
public final class NodeAgentMain {
  private NodeAgentMain() {}

  public static void main(String[] args) throws InterruptedException {
    AgentConfig cfg;
    try {
      cfg = AgentConfig.load(args, System.getenv());
    } catch (SettingException e) {
      System.err.println("mycnet agent: invalid setting " + e.getMessage());
      System.exit(2);
      return;
    }
    NodeAgent agent;
    try {
      agent = new NodeAgent(cfg, Clock.systemUTC()).start();
    } catch (RuntimeException e) {
      System.err.println("mycnet agent: cannot start: " + e.getMessage());
      System.exit(1);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  agent.close();
                  stopped.countDown();
                },
                "shutdown"));
    System.out.println(
        agent.nbdTlsAddress() == null
            ? ReadyLine.format(
                "health",
                agent.advertisedAddress(),
                "data",
                agent.dataAddress(),
                "nbd",
                agent.nbdSocket().toString(),
                "csi",
                agent.csiSocket().toString())
            : ReadyLine.format(
                "health",
                agent.advertisedAddress(),
                "data",
                agent.dataAddress(),
                "nbd",
                agent.nbdSocket().toString(),
                "nbd-tls",
                agent.nbdTlsAddress(),
                "csi",
                agent.csiSocket().toString()));
    System.out.flush();
    stopped.await();
  }
}
