package io.mycnet.storage.cli.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.mycnet.storage.operator.runtime.TrustPersistence;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import io.mycnet.storage.testsupport.JavaProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local mode's control plane (the real process) seeds a node's trust from its topology record only
 * at the node's first start: the first start gives the tiers the records stand for, exactly as
 * before; a restart restores the evidence persisted in etcd even when the record changed (a record
 * that would now quarantine edge-2 is not seeded again), and a node new to the topology is seeded
 * at its own first start.
 */
class LocalTrustSeedIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final Path DEFAULT = Path.of("..", "config", "local", "topology.yaml");
  static final Pattern READY = Pattern.compile("ready .*http=(\\d+)");

  @TempDir Path tmp;

  @Test
  void trustIsSeededAtTheFirstStartOnlyAndRestoredAfterwards() throws Exception {
    Path state = tmp.resolve("state");
    new LocalState(state).prepare();
    Path manifests = Files.createDirectories(tmp.resolve("manifests"));
    Path topology = tmp.resolve("topology.yaml");
    String original = Files.readString(DEFAULT);
    Files.writeString(topology, original);
    Set<String> six = Set.of("core-1", "core-2", "core-3", "core-4", "edge-1", "edge-2");

    Map<String, String> first;
    try (JavaProcess cp = controlPlane(state, manifests, topology, "first")) {
      int http = awaitReady(cp);
      first = trust(http);
      assertThat(first.keySet()).isEqualTo(six);
      for (String core : List.of("core-1", "core-2", "core-3", "core-4")) {
        assertThat(first.get(core)).as(core).endsWith("\tCRITICAL");
      }
      assertThat(first.get("edge-1")).endsWith("\tSTANDARD");
      assertThat(first.get("edge-2")).endsWith("\tSENSITIVE");
      try (Client etcd =
          Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
        EtcdStore store = new EtcdStore(etcd, Duration.ofSeconds(5));
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> TrustPersistence.persistedNodes(store, EtcdKeys.defaults()).equals(six));
      }
      cp.stop(Duration.ofSeconds(20));
    }

    // edge-2's record now stands for a node failing half its audits, and a new node joins.
    String changed =
        original.replace(
                "record: {days: 30, audits: 300, failedAudits: 12,",
                "record: {days: 30, audits: 300, failedAudits: 150,")
            + """
              - id: edge-3
                region: eu
                zone: eu-edge-2
                rack: van-1
                owner: corner-shop
                capacity: 80Gi
                labels: {storage.mycnet.io/pool: edge}
                encryption: true
                record: {days: 30, audits: 300, failedAudits: 150, uptime: 0.99, responseTime: 40ms}
            """;
    assertThat(changed).contains("failedAudits: 150, uptime: 0.88");
    Files.writeString(topology, changed);

    try (JavaProcess cp = controlPlane(state, manifests, topology, "second")) {
      int http = awaitReady(cp);
      Map<String, String> second = trust(http);
      for (String n : six) {
        assertThat(second.get(n)).as("%s restored, not seeded again", n).isEqualTo(first.get(n));
      }
      // The new node's failing record was seeded: it holds nothing.
      assertThat(second.get("edge-3")).endsWith("\tNONE");
      cp.stop(Duration.ofSeconds(20));
    }
  }

  private JavaProcess controlPlane(Path state, Path manifests, Path topology, String name) {
    String dist = System.getProperty("mycnet.dist");
    return JavaProcess.start(
        LocalControlPlane.class.getName(),
        List.of("-Xmx512m", "-Dmycnet.mockserver.lib=" + Path.of(dist, "mock-server-lib")),
        List.of(
            "--state-dir=" + state,
            "--etcd=" + ETCD.endpoints().get(0),
            "--manifests=" + manifests,
            "--topology=" + topology),
        tmp.resolve("control-plane-" + name + ".log"));
  }

  private static int awaitReady(JavaProcess p) {
    int[] port = new int[1];
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .failFast("the control plane exited", () -> !p.isAlive())
        .until(
            () -> {
              for (String l : p.lines()) {
                Matcher m = READY.matcher(l);
                if (m.find()) {
                  port[0] = Integer.parseInt(m.group(1));
                  return true;
                }
              }
              return false;
            });
    return port[0];
  }

  /** node -> "score\ttier" from /trust. */
  private static Map<String, String> trust(int port) throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/trust"))
                    .timeout(Duration.ofSeconds(10))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    Map<String, String> out = new TreeMap<>();
    r.body()
        .lines()
        .forEach(l -> out.put(l.substring(0, l.indexOf('\t')), l.substring(l.indexOf('\t') + 1)));
    return out;
  }
}
