package io.mycnet.storage.agent.it;

import io.etcd.jetcd.Client;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A control plane ({@code ControlPlaneMain}) as a separate process on loopback against a real etcd,
 * plus agents ({@code NodeAgentMain}) as separate processes, and the test's own view of etcd
 * (registry, queues, revocations) through the same classes the control plane uses. Every process is
 * stopped by PID in {@link #close}.
 */
final class ControlPlaneFixture implements AutoCloseable {
  static final String CP_MAIN = "io.mycnet.storage.operator.nodeapi.ControlPlaneMain";
  static final String AGENT_MAIN = "io.mycnet.storage.agent.NodeAgentMain";
  static final String PREFIX = "/mycnet";

  final Path dir;
  final Path caDir;
  final Path tokenFile;
  final List<String> etcdEndpoints;
  final EtcdStore store;
  final EtcdKeys keys = new EtcdKeys(PREFIX);
  final NodeRegistry registry;
  final CommandQueue queue;
  final SecurityStore security;
  private final List<JavaProcess> processes = new CopyOnWriteArrayList<>();
  JavaProcess controlPlane;
  private int starts;
  int sessionPort;
  int joinPort;

  ControlPlaneFixture(Path dir, Client etcd, List<String> etcdEndpoints, String tokens) {
    this.dir = dir;
    this.caDir = dir.resolve("ca");
    this.tokenFile = dir.resolve("tokens");
    this.etcdEndpoints = etcdEndpoints;
    try {
      Files.writeString(tokenFile, tokens);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.store = new EtcdStore(etcd, Duration.ofSeconds(5));
    this.registry = new NodeRegistry(store, keys, Clock.systemUTC(), Duration.ofSeconds(2));
    this.queue = new CommandQueue(store, keys);
    this.security = new SecurityStore(store, keys, Clock.systemUTC());
  }

  /** Starts the control plane: heartbeat 500 ms, lease TTL 2 s, ping 500 ms. */
  ControlPlaneFixture startControlPlane(String... extra) {
    List<String> args = new ArrayList<>();
    args.add("--etcd-endpoints=" + String.join(",", etcdEndpoints));
    args.add("--listen=127.0.0.1:0");
    args.add("--ca-dir=" + caDir);
    args.add("--token-file=" + tokenFile);
    args.add("--etcd-prefix=" + PREFIX);
    args.add("--heartbeat-interval=500ms");
    args.add("--lease-ttl=2s");
    args.add("--ping-interval=500ms");
    args.add("--server-names=127.0.0.1,localhost");
    args.addAll(List.of(extra));
    controlPlane =
        track(JavaProcess.start("control-plane-" + (++starts), dir.resolve("logs"), CP_MAIN, args));
    String ports =
        controlPlane.awaitStdout("ready (session=\\d+ join=\\d+)", Duration.ofSeconds(30));
    sessionPort = Integer.parseInt(ports.replaceAll("session=(\\d+) join=\\d+", "$1"));
    joinPort = Integer.parseInt(ports.replaceAll("session=\\d+ join=(\\d+)", "$1"));
    return this;
  }

  Path caFile() {
    return caDir.resolve("ca.crt");
  }

  Path agentDataDir(String nodeId) {
    return dir.resolve("agents").resolve(nodeId);
  }

  /** Writes a token file for an agent. */
  Path agentTokenFile(String nodeId, String token) {
    try {
      Path f = dir.resolve("agent-tokens").resolve(nodeId);
      Files.createDirectories(f.getParent());
      Files.writeString(f, token + "\n");
      return f;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts an agent process and waits for it to be up (not necessarily joined). */
  JavaProcess startAgent(String nodeId, String token, String... extra) {
    return startAgentAt(nodeId, token, "region=eu/zone=eu-1/rack=r1/node=" + nodeId, extra);
  }

  /** Starts an agent process at {@code topology} and waits for it to be up. */
  JavaProcess startAgentAt(String nodeId, String token, String topology, String... extra) {
    List<String> args = new ArrayList<>();
    args.add("--node-id=" + nodeId);
    args.add("--topology=" + topology);
    args.add("--owner=tests");
    args.add("--data-dir=" + agentDataDir(nodeId));
    args.add("--capacity=1GiB");
    args.add("--control-plane=127.0.0.1:" + sessionPort);
    args.add("--join-address=127.0.0.1:" + joinPort);
    args.add("--token-file=" + agentTokenFile(nodeId, token));
    args.add("--ca-file=" + caFile());
    args.add("--listen=127.0.0.1:0");
    args.add("--probe-bytes=256KiB");
    args.addAll(List.of(extra));
    JavaProcess p =
        track(JavaProcess.start("agent-" + nodeId, dir.resolve("logs"), AGENT_MAIN, args));
    p.awaitStdout("ready health=(\\S+)", Duration.ofSeconds(30));
    return p;
  }

  /** Runs a main class that is expected to exit (e.g. on a bad setting). */
  JavaProcess run(String name, String mainClass, List<String> args) {
    return track(JavaProcess.start(name, dir.resolve("logs"), mainClass, args));
  }

  <T extends JavaProcess> T track(T p) {
    processes.add(p);
    return p;
  }

  NodeIdentity storedIdentity(String nodeId) {
    return NodeIdentity.load(agentDataDir(nodeId)).orElseThrow();
  }

  @Override
  public void close() {
    for (JavaProcess p : processes) {
      p.stop();
    }
    security.close();
  }
}
