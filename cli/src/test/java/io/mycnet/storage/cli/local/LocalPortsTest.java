package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The ports local mode chooses before the processes that bind them start. */
class LocalPortsTest {
  @Test
  void newPortsAreDistinctAndBelowTheEphemeralRangeAndRecordedOnesAreKept() throws Exception {
    Properties p = new Properties();
    Set<Integer> chosen = new HashSet<>();
    for (int i = 0; i < 40; i++) {
      int port = LocalCluster.port(p, "node.n" + i + ".data.port");
      assertThat(port).isBetween(LocalCluster.LOWEST_PORT, LocalCluster.ephemeralLow() - 1);
      assertThat(chosen.add(port)).as("port %d chosen twice", port).isTrue();
      assertThat(p.getProperty("node.n" + i + ".data.port")).isEqualTo(String.valueOf(port));
    }
    // A recorded port still free is kept (the agents' data ports stay stable across restarts).
    int kept = Integer.parseInt(p.getProperty("node.n0.data.port"));
    assertThat(LocalCluster.port(p, "node.n0.data.port")).isEqualTo(kept);
    // One taken meanwhile is replaced, and the new one is recorded.
    try (ServerSocket taken = new ServerSocket(kept, 1, InetAddress.getLoopbackAddress())) {
      int replaced = LocalCluster.port(p, "node.n0.data.port");
      assertThat(replaced).isNotEqualTo(kept);
      assertThat(p.getProperty("node.n0.data.port")).isEqualTo(String.valueOf(replaced));
    }
  }
}
