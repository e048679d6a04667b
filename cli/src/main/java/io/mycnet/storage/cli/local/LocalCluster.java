package io.mycnet.storage.cli.local;

import io.mycnet.storage.cli.CliException;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.common.process.ReadyLine;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * Local mode: a real etcd, the control plane ({@link LocalControlPlane}) and one agent per node of
 * the topology, each a separate process on loopback, all state under one directory ({@link
 * LocalState}). Starting is idempotent (what already runs is kept); stopping is by PID.
 */
public final class LocalCluster {
  static final String ETCD = "etcd";
  static final String CONTROL_PLANE = "control-plane";

  final LocalState state;
  final LocalProcesses processes;
  private final PrintStream out;

  public LocalCluster(LocalState state, PrintStream out) {
    this.state = state;
    this.processes = new LocalProcesses(state);
    this.out = out;
  }

  static String agentName(String node) {
    return "agent-" + node;
  }

  /**
   * Starts what is not running yet; returns when every node is live. The topology (its timings and
   * its capacities against the file system) is checked before anything starts; when a process fails
   * to start, the processes this call started are stopped again (what was running before is left
   * alone).
   */
  public void up(Path topologyFile, Path manifests, Duration timeout) {
    LocalTopology topology = LocalTopology.read(topologyFile);
    if (!Files.isDirectory(manifests)) {
      throw new CliException("manifest directory " + manifests + " does not exist", 2);
    }
    topology
        .checkCapacities(topologyFile, state.root().resolve("nodes"))
        .ifPresent(w -> out.println("note: " + w));
    for (String id : topology.ids()) {
      state.nbdSocket(id); // a node id too long for a socket path stops us before anything starts
    }
    String etcdBin = ensureEtcd();
    List<String> started = java.util.Collections.synchronizedList(new ArrayList<>());
    try {
      up(topology, topologyFile, manifests, timeout, etcdBin, started);
    } catch (RuntimeException e) {
      List<String> mine;
      synchronized (started) {
        mine = new ArrayList<>(started);
      }
      if (!mine.isEmpty()) {
        out.println("stopping what this start started: " + String.join(", ", ordered(mine)));
        for (String name : ordered(mine)) {
          processes.stop(name, Duration.ofSeconds(15));
        }
      }
      throw e;
    }
  }

  /** Stop order: the control plane first (no decision while nodes go), agents, etcd last. */
  private static List<String> ordered(List<String> names) {
    List<String> out = new ArrayList<>();
    if (names.contains(CONTROL_PLANE)) {
      out.add(CONTROL_PLANE);
    }
    for (String n : names) {
      if (!n.equals(CONTROL_PLANE) && !n.equals(ETCD)) {
        out.add(n);
      }
    }
    if (names.contains(ETCD)) {
      out.add(ETCD);
    }
    return out;
  }

  private void up(
      LocalTopology topology,
      Path topologyFile,
      Path manifests,
      Duration timeout,
      String etcdBin,
      List<String> started) {
    state.prepare();
    Properties p = state.properties();
    p.setProperty("topology", topologyFile.toAbsolutePath().normalize().toString());
    p.setProperty("manifests", manifests.toAbsolutePath().normalize().toString());
    int total = topology.nodes().size() + 2;
    int step = 0;

    // etcd
    step++;
    if (processes.running(ETCD).isEmpty()) {
      int client = port(p, "etcd.client.port");
      int peer = port(p, "etcd.peer.port");
      state.save(p);
      progress(step, total, "etcd on 127.0.0.1:" + client);
      String url = "http://127.0.0.1:" + client;
      started.add(ETCD);
      String peerUrl = "http://127.0.0.1:" + peer;
      processes.start(
          ETCD,
          ChildProcess.program(
              List.of(
                  etcdBin,
                  "--name=mycnet-local",
                  "--data-dir=" + state.etcdDir(),
                  "--listen-client-urls=" + url,
                  "--advertise-client-urls=" + url,
                  "--listen-peer-urls=" + peerUrl,
                  "--initial-advertise-peer-urls=" + peerUrl,
                  "--initial-cluster=mycnet-local=" + peerUrl,
                  "--log-level=warn")),
          false,
          timeout);
      awaitEtcd(url, timeout);
      done("ok");
    } else {
      progress(step, total, "etcd already running");
      done("ok");
    }
    String etcdUrl = "http://127.0.0.1:" + p.getProperty("etcd.client.port");

    // On a restart whose agents have all joined before, the agents start first: they are
    // running and reconnecting (every reconnectBackoffMax at most) when the control plane starts,
    // so to it a stop and start looks like its own restart, with every node back within seconds.
    boolean agentsFirst =
        processes.running(CONTROL_PLANE).isEmpty()
            && Files.isRegularFile(state.caCert())
            && topology.ids().stream()
                .allMatch(
                    id -> Files.isRegularFile(state.nodeDir(id).resolve("identity/node.crt")));
    if (agentsFirst) {
      int session = port(p, "session.port");
      int join = port(p, "join.port");
      p.setProperty("control-plane.session", String.valueOf(session));
      p.setProperty("control-plane.join", String.valueOf(join));
      state.save(p);
      step = startAgents(topology, p, timeout, started, step, total);
      startControlPlane(topologyFile, manifests, timeout, etcdUrl, p, started, ++step, total);
    } else {
      startControlPlane(topologyFile, manifests, timeout, etcdUrl, p, started, ++step, total);
      startAgents(topology, p, timeout, started, step, total);
    }
  }

  private void startControlPlane(
      Path topologyFile,
      Path manifests,
      Duration timeout,
      String etcdUrl,
      Properties p,
      List<String> started,
      int step,
      int total) {
    if (processes.running(CONTROL_PLANE).isPresent()) {
      progress(step, total, "control plane already running");
      done("ok");
      return;
    }
    int session = port(p, "session.port");
    int join = port(p, "join.port");
    state.save(p);
    progress(
        step, total, "control plane (reconcilers, node API, manifests from " + manifests + ")");
    started.add(CONTROL_PLANE);
    Map<String, String> ready =
        processes.start(
            CONTROL_PLANE,
            java(
                "512m",
                LocalControlPlane.class.getName(),
                "--state-dir=" + state.root(),
                "--etcd=" + etcdUrl,
                "--manifests=" + manifests.toAbsolutePath().normalize(),
                "--topology=" + topologyFile.toAbsolutePath().normalize(),
                "--session-port=" + session,
                "--join-port=" + join),
            true,
            timeout);
    ready.forEach((k, v) -> p.setProperty("control-plane." + k, v));
    if (!ready.containsKey("csi")) {
      p.remove("control-plane.csi"); // no command may name a controller nothing serves
    }
    state.save(p);
    done(ready.containsKey("csi") ? "ok, csi=" + ready.get("csi") : "ok");
  }

  /** Starts the agents that are not running, together; returns the last step number. */
  private int startAgents(
      LocalTopology topology,
      Properties p,
      Duration timeout,
      List<String> started,
      int step,
      int total) {
    List<CompletableFuture<String>> starts = new ArrayList<>();
    for (LocalTopology.Node n : topology.nodes()) {
      if (processes.running(agentName(n.id())).isPresent()) {
        starts.add(CompletableFuture.completedFuture(n.id() + " already running"));
        continue;
      }
      started.add(agentName(n.id()));
      starts.add(CompletableFuture.supplyAsync(() -> startAgent(topology, n, p, timeout)));
    }
    RuntimeException failed = null;
    for (int i = 0; i < starts.size(); i++) {
      step++;
      LocalTopology.Node n = topology.nodes().get(i);
      progress(step, total, "agent " + n.id() + " (" + n.topologyPath() + ")");
      try {
        done(starts.get(i).join());
      } catch (java.util.concurrent.CompletionException e) {
        done("FAILED");
        if (failed == null) {
          failed = e.getCause() instanceof CliException c ? c : new CliException(e.getMessage());
        }
      }
    }
    if (failed != null) {
      throw failed;
    }
    return step;
  }

  private String startAgent(
      LocalTopology topology, LocalTopology.Node n, Properties p, Duration timeout) {
    boolean encryption =
        Boolean.parseBoolean(
            p.getProperty("node." + n.id() + ".encryption", String.valueOf(n.encryption())));
    // The data port is kept across restarts: peers learn an agent's data address from the
    // assignments, which change only with the volume, so a moved port would look like a dead peer
    // until the next epoch.
    // The NBD endpoints are kept too, so that the URIs `mycnet volume export` printed stay valid.
    int dataPort;
    int nbdPort;
    Path nbdSocket = state.nbdSocket(n.id());
    state.prepareSocketDir(nbdSocket);
    Path csiSocket = state.csiSocket(n.id());
    state.prepareSocketDir(csiSocket);
    synchronized (p) {
      dataPort = port(p, "node." + n.id() + ".data.port");
      nbdPort = port(p, "node." + n.id() + ".nbd.port");
      state.save(p);
    }
    Map<String, String> ready =
        processes.start(
            agentName(n.id()),
            java(
                    "256m",
                    "io.mycnet.storage.agent.NodeAgentMain",
                    "--node-id=" + n.id(),
                    "--topology=" + n.topologyPath(),
                    "--owner=" + n.owner(),
                    "--data-dir=" + state.nodeDir(n.id()),
                    "--capacity=" + n.capacityBytes(),
                    "--control-plane=127.0.0.1:" + p.getProperty("control-plane.session"),
                    "--join-address=127.0.0.1:" + p.getProperty("control-plane.join"),
                    "--token-file=" + state.tokenFile(),
                    "--ca-file=" + state.caCert(),
                    "--listen=127.0.0.1:0",
                    "--data-listen=127.0.0.1:" + dataPort,
                    "--encryption-at-rest=" + encryption,
                    "--encryption-key-file=" + state.keyFile(n.id()),
                    "--reconnect-backoff-max=" + topology.reconnectBackoffMax().toMillis() + "ms",
                    "--labels=" + n.labelsFlag())
                .env(
                    Map.of(
                        "MYCNET_NBD_SOCKET",
                        nbdSocket.toString(),
                        "MYCNET_NBD_ADDRESS",
                        "127.0.0.1:" + nbdPort,
                        // the agent's default (<data-dir>/csi.sock) unless too long for a socket
                        "MYCNET_CSI_SOCKET",
                        csiSocket.toString())),
            true,
            timeout);
    recordNbd(n.id(), ready, p);
    return "ok, "
        + ReadyLine.format(ready).substring(ReadyLine.WORD.length() + 1)
        + (encryption ? "" : ", no encryption at rest");
  }

  /**
   * Records the NBD endpoints and the CSI socket the agent's ready line names ({@code
   * nbd=<socket>}, {@code nbd-tls=<host:port>}, {@code csi=<socket>}) for {@code mycnet volume
   * export|mount} and {@code mycnet status}; an endpoint the agent did not name is removed, so that
   * no command shows an endpoint nothing serves.
   */
  private void recordNbd(String node, Map<String, String> ready, Properties p) {
    synchronized (p) {
      for (String[] kv :
          new String[][] {
            {"nbd", "node." + node + ".nbd.socket"},
            {"nbd-tls", "node." + node + ".nbd.tls"},
            {"csi", "node." + node + ".csi.socket"}
          }) {
        String v = ready.get(kv[0]);
        if (v == null || v.isBlank()) {
          p.remove(kv[1]);
        } else {
          p.setProperty(kv[1], v);
        }
      }
      state.save(p);
    }
  }

  /** Restarts one agent (its data kept), optionally with encryption at rest switched. */
  public void restartAgent(String node, Boolean encryption, Duration timeout) {
    Properties p = state.properties();
    state.require("control-plane.session");
    LocalTopology topology = LocalTopology.read(Path.of(p.getProperty("topology")));
    LocalTopology.Node n = topology.node(node);
    if (encryption != null) {
      p.setProperty("node." + node + ".encryption", encryption.toString());
      state.save(p);
    }
    processes.stop(agentName(node), Duration.ofSeconds(10));
    startAgent(topology, n, p, timeout);
  }

  /** SIGKILLs one agent. */
  public boolean killAgent(String node) {
    Properties p = state.properties();
    state.require("control-plane.session");
    LocalTopology.read(Path.of(p.getProperty("topology"))).node(node);
    return processes.kill(agentName(node));
  }

  /**
   * Stops everything: first unmounts what {@code mycnet volume mount} mounted ({@link LocalCsi}),
   * then the control plane, so that no replication decision is taken while the agents go (stopping
   * is not failing), then the agents, then etcd; with {@code wipe}, deletes the state directory
   * too, but never while a file system is mounted in it (that would delete what it holds).
   */
  public void down(boolean wipe) {
    Properties p = state.properties();
    // What `mycnet volume mount` mounted goes first, while the control plane and the agents still
    // run: their node plugins unmount, detach the loop devices and stop nbdfuse.
    LocalCsi csi = new LocalCsi(state);
    if (!csi.mounts().isEmpty()) {
      if (processes.running(CONTROL_PLANE).isPresent()) {
        csi.unmountAll(out, Duration.ofSeconds(60));
      } else {
        out.println(
            "the control plane is not running: cannot unmount "
                + csi.mounts().stream().map(m -> m.dir().toString()).toList()
                + " (mycnet local up, then mycnet volume unmount DIR)");
      }
    }
    List<String> names = new ArrayList<>();
    names.add(CONTROL_PLANE);
    if (p.getProperty("topology") != null
        && Files.isRegularFile(Path.of(p.getProperty("topology")))) {
      try {
        for (String n : LocalTopology.read(Path.of(p.getProperty("topology"))).ids()) {
          names.add(agentName(n));
        }
      } catch (LocalTopology.BadTopology e) {
        // changed since it was started: the PID files below still name every agent
      }
    }
    // agents no longer in the topology file
    try (Stream<Path> pids = Files.list(state.root().resolve("pids"))) {
      for (Path f : pids.toList()) {
        String name = f.getFileName().toString().replaceFirst("\\.pid$", "");
        if (!names.contains(name) && !name.equals(CONTROL_PLANE) && !name.equals(ETCD)) {
          names.add(name);
        }
      }
    } catch (IOException e) {
      // no pids directory: nothing was started
    }
    names.add(ETCD);
    for (String name : names) {
      if (processes.stop(name, Duration.ofSeconds(15))) {
        out.println("stopped " + name);
      }
    }
    if (wipe) {
      List<Path> mounted = LocalCsi.mountsUnder(state.root());
      if (!mounted.isEmpty()) {
        throw new CliException(
            "stopped, but not wiping "
                + state.root()
                + ": file systems are still mounted in it ("
                + mounted.stream()
                    .map(Path::toString)
                    .collect(java.util.stream.Collectors.joining(", "))
                + "); deleting it would delete what they hold; unmount them (umount) and run"
                + " again");
      }
      Path sockets = state.shortSocketDir();
      if (Files.isDirectory(sockets, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        try (Stream<Path> all = Files.walk(sockets)) {
          for (Path f : all.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(f);
          }
        } catch (IOException e) {
          throw new CliException("cannot delete " + sockets + ": " + e.getMessage());
        }
      }
      try (Stream<Path> all = Files.walk(state.root())) {
        for (Path f : all.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      } catch (IOException e) {
        throw new CliException("cannot delete " + state.root() + ": " + e.getMessage());
      }
      out.println("deleted " + state.root());
    } else {
      out.println("data kept in " + state.root() + " (mycnet local down --wipe deletes it)");
    }
  }

  /** One of our mains, with this process's class path. */
  static ChildProcess.Builder java(String heap, String main, String... args) {
    List<String> jvm = new ArrayList<>();
    jvm.add("-Xmx" + heap);
    jvm.add("-XX:+UseSerialGC");
    jvm.add("-XX:TieredStopAtLevel=1");
    jvm.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    jvm.add("-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS");
    String mock = System.getProperty("mycnet.mockserver.lib");
    if (mock != null) {
      jvm.add("-Dmycnet.mockserver.lib=" + mock);
    }
    return ChildProcess.java(main)
        .classpath(System.getProperty("java.class.path"))
        .jvmArgs(jvm)
        .args(List.of(args));
  }

  /** The etcd binary; installs it when missing and allowed (root on Debian/Ubuntu). */
  private String ensureEtcd() {
    String env = System.getenv("MYCNET_ETCD_BIN");
    if (env != null && new File(env).canExecute()) {
      return env;
    }
    String found = onPath("etcd");
    if (found != null) {
      return found;
    }
    String install = "apt-get update && apt-get install -y etcd-server";
    boolean root = "root".equals(System.getProperty("user.name"));
    if (!root || !new File("/etc/debian_version").exists()) {
      throw new CliException("etcd is not installed. Install it with:\n  sudo " + install);
    }
    out.println("etcd is not installed; running: " + install);
    try {
      int rc =
          new ProcessBuilder(
                  "sh",
                  "-c",
                  "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server")
              .inheritIO()
              .start()
              .waitFor();
      found = onPath("etcd");
      if (rc != 0 || found == null) {
        throw new CliException("installing etcd failed (exit code " + rc + "); run: " + install);
      }
      return found;
    } catch (IOException e) {
      throw new CliException("cannot run apt-get: " + e.getMessage() + "; run: " + install);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException("interrupted");
    }
  }

  private static String onPath(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      File f = new File(dir, name);
      if (f.canExecute()) {
        return f.getPath();
      }
    }
    File sbin = new File("/usr/bin/" + name);
    return sbin.canExecute() ? sbin.getPath() : null;
  }

  /** The lowest port a new local-mode port is drawn from (above the registered services). */
  static final int LOWEST_PORT = 10_000;

  /**
   * The port recorded under {@code key} when it is still free, else a new free one. New ports are
   * drawn below the kernel's ephemeral range: a port from that range, free when checked, can be
   * taken by any process's outgoing connection before the process it was chosen for binds it (the
   * agents and the control plane open many), which failed {@code local up} now and then.
   */
  static int port(Properties p, String key) {
    String v = p.getProperty(key);
    if (v != null) {
      int port = Integer.parseInt(v);
      if (bindable(port)) {
        return port;
      }
      // taken now: pick another
    }
    java.util.Set<String> recorded = new java.util.HashSet<>();
    for (String k : p.stringPropertyNames()) {
      if (!k.equals(key)) {
        recorded.add(p.getProperty(k));
      }
    }
    int highest = ephemeralLow() - 1;
    java.util.concurrent.ThreadLocalRandom random =
        java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; highest > LOWEST_PORT && attempt < 500; attempt++) {
      int port = random.nextInt(LOWEST_PORT, highest + 1);
      if (!recorded.contains(String.valueOf(port)) && bindable(port)) {
        p.setProperty(key, String.valueOf(port));
        return port;
      }
    }
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      p.setProperty(key, String.valueOf(s.getLocalPort()));
      return s.getLocalPort();
    } catch (IOException e) {
      throw new CliException("no free loopback port: " + e.getMessage());
    }
  }

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
  static int ephemeralLow() {
    try {
      // Read line-wise: a /proc file reports size 0, and Files.readString then stops early.
      String[] range =
          java.nio.file.Files.readAllLines(
                  java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
              .get(0)
              .trim()
              .split("\\s+");
      return Integer.parseInt(range[0]);
    } catch (IOException | RuntimeException e) {
      return 32768;
    }
  }

  private void awaitEtcd(String url, Duration timeout) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      if (processes.running(ETCD).isEmpty()) {
        throw new CliException(
            "etcd exited while starting; its log ("
                + state.log(ETCD)
                + ") ends with:\n"
                + LocalProcesses.tail(state.log(ETCD), 15));
      }
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create(url + "/health"))
                    .timeout(Duration.ofSeconds(2))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200 && r.body().contains("true")) {
          return;
        }
        last = r.body();
      } catch (IOException e) {
        last = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CliException("interrupted");
      }
      LocalProcesses.sleep(200);
    }
    throw new CliException(
        "etcd did not become healthy within " + timeout.toSeconds() + "s: " + last);
  }

  private void progress(int step, int total, String what) {
    out.printf("[%d/%d] %s ... ", step, total, what);
    out.flush();
  }

  private void done(String result) {
    out.println(result);
  }
}
