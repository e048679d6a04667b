package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.reconciler.node.NodeActionWatcher;
import io.mycnet.storage.operator.security.NodeAdmission;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code mycnet node remove|readmit} through the cluster path: the CLI annotates the Kubernetes
 * Node in the API server (the Fabric8 mock, over HTTP, as local mode has), the operator's {@link
 * NodeActionWatcher} applies it against a real etcd and writes the result back, the CLI prints it.
 * Also the annotations set by hand, as {@code kubectl annotate} would.
 */
class NodeActionIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  @TempDir Path dir;
  LocalApiServer api;
  KubernetesClient kube;
  EtcdStore store;
  NodeRegistry registry;
  SecurityStore security;
  KubeEvents events;
  NodeActionWatcher watcher;
  final EtcdKeys keys = EtcdKeys.defaults();

  record Run(int code, String out, String err) {}

  Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Mycnet.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 1];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--state-dir=" + dir;
    return new Run(cl.execute(all), out.toString(), err.toString());
  }

  @BeforeEach
  void start() throws Exception {
    api = new LocalApiServer();
    kube = api.newClient();
    store = new EtcdStore(ETCD.client(), Duration.ofSeconds(5));
    // Each test on its own etcd: clear what an earlier one left.
    for (String k : store.keys(keys.prefix() + "/")) {
      store.txn().delete(k).commit();
    }
    registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(10));
    security = new SecurityStore(store, keys, Clock.systemUTC());
    events = new KubeEvents(kube, Clock.systemUTC());
    watcher =
        new NodeActionWatcher(
                kube, new NodeAdmission(registry, security, Clock.systemUTC()), events, () -> true)
            .start();
    for (String n : new String[] {"core-3", "edge-1"}) {
      registry.register(
          NodeRecord.newBuilder()
              .setNodeId(n)
              .setTopologyPath("region=eu/zone=z1/rack=r1/node=" + n)
              .setOwner("tests")
              .setCapacityBytes(1L << 30)
              .setAddress("127.0.0.1:9")
              .build());
      kube.nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(n).endMetadata().build())
          .create();
    }
    // What local mode writes when it is up: where etcd and the API server are.
    Properties p = new Properties();
    String endpoint = ETCD.endpoints().get(0);
    p.setProperty("etcd.client.port", endpoint.substring(endpoint.lastIndexOf(':') + 1));
    p.setProperty("control-plane.http", "1");
    p.setProperty("control-plane.api", api.url());
    Files.createDirectories(dir);
    new LocalState(dir).save(p);
  }

  @AfterEach
  void stop() throws Exception {
    watcher.close();
    events.close();
    security.close();
    kube.close();
    api.close();
  }

  Map<String, String> annotations(String node) {
    return kube.nodes().withName(node).get().getMetadata().getAnnotations();
  }

  @Test
  void removeAndReadmitGoThroughTheNodeAnnotationsAndTheOperator() {
    Run r = run("node", "readmit", "core-3");
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err())
        .contains("node core-3 is not removed (state UP)")
        .contains("mycnet node remove core-3");

    r = run("node", "remove", "core-3", "--reason", "key leaked");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).startsWith("ok: node core-3 removed (key leaked)");
    NodeRecord rec = registry.get("core-3").orElseThrow();
    assertThat(rec.getState()).isEqualTo(NodeState.NODE_STATE_REMOVED);
    assertThat(rec.getRemovedReason()).isEqualTo("key leaked");
    assertThat(security.nodeRevocation("core-3")).isPresent();
    // The request is consumed; only its result stays on the Node.
    assertThat(annotations("core-3"))
        .doesNotContainKeys(NodeActionWatcher.REMOVE, NodeActionWatcher.REQUEST_ID)
        .containsKey(NodeActionWatcher.RESULT);

    r = run("node", "remove", "core-3");
    assertThat(r.code()).isZero();
    assertThat(r.out()).startsWith("unchanged: node core-3 was already removed");

    r = run("node", "readmit", "core-3");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).startsWith("ok: node core-3 re-admitted");
    assertThat(security.nodeRevocation("core-3")).isEmpty();
    // Still REMOVED until its next join (with a new key) registers it afresh.
    assertThat(registry.get("core-3").orElseThrow().getState())
        .isEqualTo(NodeState.NODE_STATE_REMOVED);
    r = run("node", "readmit", "core-3");
    assertThat(r.code()).isZero();
    assertThat(r.out()).startsWith("unchanged: node core-3 was already re-admitted");

    r = run("node", "remove", "nosuch");
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("node nosuch is not registered").contains("core-3, edge-1");

    // Evented: one Event per applied action and per refusal, about the Node.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        kube.v1()
                            .events()
                            .inNamespace(KubeEvents.CLUSTER_EVENTS_NAMESPACE)
                            .list()
                            .getItems())
                    .extracting(Event::getReason)
                    .contains("NodeRemoved", "NodeReadmitted", "NodeActionRefused"));
  }

  @Test
  void annotationsSetByHandAreAppliedAndBothAtOnceAreRefused() {
    kube.nodes()
        .withName("edge-1")
        .edit(
            n ->
                new NodeBuilder(n)
                    .editMetadata()
                    .addToAnnotations(NodeActionWatcher.REMOVE, "")
                    .addToAnnotations(NodeActionWatcher.READMIT, "x")
                    .endMetadata()
                    .build());
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> annotations("edge-1").containsKey(NodeActionWatcher.RESULT));
    assertThat(annotations("edge-1").get(NodeActionWatcher.RESULT))
        .startsWith("- remove+readmit refused: both");
    assertThat(registry.get("edge-1").orElseThrow().getState()).isEqualTo(NodeState.NODE_STATE_UP);

    kube.nodes()
        .withName("edge-1")
        .edit(
            n ->
                new NodeBuilder(n)
                    .editMetadata()
                    .addToAnnotations(NodeActionWatcher.REMOVE, "")
                    .endMetadata()
                    .build());
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () -> registry.get("edge-1").orElseThrow().getState() == NodeState.NODE_STATE_REMOVED);
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                annotations("edge-1").get(NodeActionWatcher.RESULT).startsWith("- remove ok:")
                    && !annotations("edge-1").containsKey(NodeActionWatcher.REMOVE));
    assertThat(registry.get("edge-1").orElseThrow().getRemovedReason())
        .isEqualTo("removed by an operator");
  }
}
