package io.mycnet.storage.bench.nodeapi;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.ControlMessage;
import io.mycnet.storage.api.v1.CreateReplica;
import io.mycnet.storage.api.v1.Heartbeat;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeSessionGrpc;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.Pong;
import io.mycnet.storage.api.v1.SessionHello;
import io.mycnet.storage.local.EtcdCluster;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.Pem;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Heartbeat fan-in of the node API, printed next to a plain gRPC unary baseline of the same run.
 *
 * <ol>
 *   <li>A real etcd, a control plane process ({@code ControlPlaneMain}) and a baseline server
 *       process ({@link PingServerMain}: the standard health check over the same mutual TLS, no
 *       etcd).
 *   <li>{@code --registered} nodes (default 10,000) join through the real join RPC (CSR signed by
 *       the CA, records in etcd).
 *   <li>Baseline: {@code --agents} (1,000) mutual-TLS channels each send one unary health check
 *       every {@code --interval} (5 s) for {@code --measure} (45 s): latency p50/p99 and the server
 *       process's CPU.
 *   <li>Fan-in: the same number of simulated agents, each with its own channel (mutual TLS with its
 *       own node certificate) and one session stream, heartbeat every 5 s (random phase) and answer
 *       pings: heartbeat-to-acknowledgement latency (the control plane renews the etcd lease before
 *       acknowledging) and the control plane's CPU share of one core.
 *   <li>The control plane's heap after a full GC, with all nodes registered and the sessions open.
 *   <li>If {@code --agent-classpath} is given: a real agent process ({@code NodeAgentMain}), its
 *       resident set idle and after 100 create-replica commands.
 * </ol>
 *
 * Every process started is stopped by PID at the end, also on failure.
 */
public final class HeartbeatFanInBenchmark {
  static final String TOKEN = "bench0.0123456789abcdef";
  private final List<Process> processes = new ArrayList<>();
  private long heapWithSessions;

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new ConcurrentHashMap<>();
    for (String s : args) {
      int eq = s.indexOf('=');
      a.put(s.substring(2, eq), s.substring(eq + 1));
    }
    HeartbeatFanInBenchmark b = new HeartbeatFanInBenchmark();
    try {
      b.run(
          Integer.parseInt(a.getOrDefault("agents", "1000")),
          Integer.parseInt(a.getOrDefault("registered", "10000")),
          Duration.ofSeconds(Long.parseLong(a.getOrDefault("interval-s", "5"))),
          Duration.ofSeconds(Long.parseLong(a.getOrDefault("measure-s", "45"))),
          a.get("agent-classpath"));
    } finally {
      b.stopAll();
    }
    System.exit(0);
  }

  void run(int agents, int registered, Duration interval, Duration measure, String agentCp)
      throws Exception {
    Path work = Files.createTempDirectory("mycnet-fanin");
    Files.writeString(work.resolve("tokens"), TOKEN + " reusable\n");
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      String endpoints = String.join(",", etcd.endpoints());
      Process cp =
          start(
              work.resolve("cp.log"),
              List.of(),
              "io.mycnet.storage.operator.nodeapi.ControlPlaneMain",
              "--etcd-endpoints=" + endpoints,
              "--listen=127.0.0.1:0",
              "--ca-dir=" + work.resolve("ca"),
              "--token-file=" + work.resolve("tokens"),
              "--heartbeat-interval=" + interval.toSeconds() + "s",
              "--lease-ttl=" + (interval.toSeconds() * 3) + "s",
              "--ping-interval=30s",
              "--join-failures-per-minute=1000",
              "--server-names=127.0.0.1");
      String ready = awaitLine(work.resolve("cp.log"), "ready session=");
      int sessionPort = Integer.parseInt(ready.replaceAll(".*session=(\\d+).*", "$1"));
      int joinPort = Integer.parseInt(ready.replaceAll(".*join=(\\d+).*", "$1"));
      X509Certificate caCert =
          Pem.parseCertificates(Files.readString(work.resolve("ca").resolve("ca.crt"))).get(0);

      System.out.printf("joining %d nodes through the join RPC ...%n", agents);
      long t0 = System.nanoTime();
      List<Node> nodes = joinAll(agents, joinPort, caCert);
      double joinS = (System.nanoTime() - t0) / 1e9;
      System.out.printf("  %d joins in %.1f s (%.0f joins/s)%n", agents, joinS, agents / joinS);
      // The rest of the registered nodes are written as node records straight into etcd: joining
      // them one by one is bounded by NodeRegistry.register (see the report), not by the node API.
      EtcdStore store = new EtcdStore(etcd.client(), Duration.ofSeconds(10));
      EtcdKeys keys = new EtcdKeys("/mycnet");
      for (int i = agents; i < registered; i += 100) {
        EtcdStore.Txn txn = store.txn();
        for (int j = i; j < Math.min(registered, i + 100); j++) {
          String id = String.format("bench-%05d", j);
          txn.put(
              keys.node(id),
              NodeRecord.newBuilder()
                  .setSchemaVersion(1)
                  .setNodeId(id)
                  .setTopologyPath("region=r" + (j & 3) + "/zone=z/rack=k/node=" + id)
                  .setOwner("bench")
                  .setCapacityBytes(1L << 40)
                  .setState(NodeState.NODE_STATE_UP)
                  .setAddress("127.0.0.1:9")
                  .build());
        }
        txn.commit();
      }
      System.out.printf("  %d node records in etcd%n", store.keys(keys.nodes()).size());

      Process ping =
          start(
              work.resolve("ping.log"),
              List.of(),
              "io.mycnet.storage.bench.nodeapi.PingServerMain",
              work.resolve("ca").toString());
      int pingPort =
          Integer.parseInt(
              awaitLine(work.resolve("ping.log"), "ready port=").replaceAll("\\D", ""));

      List<Node> active = nodes.subList(0, agents);
      Result base = baseline(active, pingPort, caCert, interval, measure, ping.pid());
      Result fan = fanIn(active, sessionPort, caCert, interval, measure, cp.pid(), etcdPid(etcd));
      long heap = heapWithSessions;

      System.out.println();
      System.out.printf(
          "heartbeat fan-in: %d agents, 1 heartbeat / %d s each, mutual TLS over loopback, %d s"
              + " measured%n",
          agents, interval.toSeconds(), measure.toSeconds());
      System.out.printf(
          "  baseline (plain gRPC unary ping, same TLS, no etcd): %6d calls, p50 %6.2f ms, p99"
              + " %6.2f ms, server CPU %5.1f %% of one core%n",
          base.count, base.p50, base.p99, base.cpu * 100);
      System.out.printf(
          "  node API heartbeat -> ack (etcd lease renewed):      %6d beats, p50 %6.2f ms, p99"
              + " %6.2f ms, control plane CPU %5.1f %% of one core (goal <= 10 %%, p99 < 10 ms)%n",
          fan.count, fan.p50, fan.p99, fan.cpu * 100);
      System.out.printf(
          "  ratio heartbeat/baseline: p99 x%.1f, CPU x%.1f; etcd CPU during fan-in %.1f %% of one"
              + " core%n",
          fan.p99 / Math.max(0.001, base.p99),
          fan.cpu / Math.max(0.0001, base.cpu),
          fan.etcdCpu * 100);
      System.out.printf(
          "control plane heap after full GC: %.1f MiB with %d registered nodes (%d joined through the"
              + " join RPC, with open sessions) (goal <= 1024 MiB)%n",
          heap / 1048576.0, registered, agents);

      if (agentCp != null) {
        agentRss(work, agentCp, endpoints, etcd, sessionPort, joinPort);
      }
    }
  }

  // ---- joining ----

  record Node(String id, PrivateKey key, X509Certificate cert) {}

  static byte[] csr(KeyPair kp, String cn) throws Exception {
    return new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + cn), kp.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()))
        .getEncoded();
  }

  List<Node> joinAll(int n, int joinPort, X509Certificate ca) throws Exception {
    SslContext tls = GrpcSslContexts.forClient().trustManager(ca).build();
    ManagedChannel ch =
        NettyChannelBuilder.forAddress("127.0.0.1", joinPort).sslContext(tls).build();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Node>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String id = String.format("bench-%05d", i);
        fs.add(
            pool.submit(
                () -> {
                  KeyPair kp = CertificateAuthority.generateEcKeyPair();
                  JoinResponse r =
                      NodeJoinGrpc.newBlockingStub(ch)
                          .withDeadlineAfter(30, TimeUnit.SECONDS)
                          .join(
                              JoinRequest.newBuilder()
                                  .setBootstrapToken(TOKEN)
                                  .setNodeId(id)
                                  .setCsrDer(ByteString.copyFrom(csr(kp, id)))
                                  .setTopologyPath(
                                      "region=r"
                                          + (id.hashCode() & 3)
                                          + "/zone=z/rack=k/node="
                                          + id)
                                  .setOwner("bench")
                                  .setCapacityBytes(1L << 40)
                                  .setAddress("127.0.0.1:9")
                                  .build());
                  return new Node(
                      id,
                      kp.getPrivate(),
                      Pem.parseCertificates(r.getCertificate().getCertificatePem()).get(0));
                }));
      }
      List<Node> out = new ArrayList<>();
      for (Future<Node> f : fs) {
        out.add(f.get());
      }
      return out;
    } finally {
      pool.shutdown();
      ch.shutdownNow();
    }
  }

  // ---- measuring ----

  record Result(int count, double p50, double p99, double cpu, double etcdCpu) {}

  static ManagedChannel mtls(Node n, int port, X509Certificate ca) throws IOException {
    SslContext tls =
        GrpcSslContexts.forClient().keyManager(n.key(), n.cert()).trustManager(ca).build();
    return NettyChannelBuilder.forAddress("127.0.0.1", port)
        .sslContext(tls)
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .build();
  }

  Result baseline(
      List<Node> nodes, int port, X509Certificate ca, Duration interval, Duration measure, long pid)
      throws Exception {
    System.out.printf(
        "baseline: %d channels, unary ping every %d s ...%n", nodes.size(), interval.toSeconds());
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
    List<ManagedChannel> chans = new ArrayList<>();
    ConcurrentLinkedQueue<Long> lat = new ConcurrentLinkedQueue<>();
    long[] window = new long[2];
    try {
      for (Node n : nodes) {
        ManagedChannel ch = mtls(n, port, ca);
        chans.add(ch);
        HealthGrpc.HealthStub stub = HealthGrpc.newStub(ch);
        timer.scheduleAtFixedRate(
            () -> {
              long s = System.nanoTime();
              stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .check(
                      HealthCheckRequest.getDefaultInstance(),
                      new StreamObserver<HealthCheckResponse>() {
                        @Override
                        public void onNext(HealthCheckResponse v) {
                          long e = System.nanoTime();
                          if (s >= window[0] && window[0] > 0 && e <= window[1]) {
                            lat.add(e - s);
                          }
                        }

                        @Override
                        public void onError(Throwable t) {}

                        @Override
                        public void onCompleted() {}
                      });
            },
            ThreadLocalRandom.current().nextLong(interval.toMillis()),
            interval.toMillis(),
            TimeUnit.MILLISECONDS);
      }
      return measure(lat, window, measure, interval, pid, 0);
    } finally {
      timer.shutdownNow();
      for (ManagedChannel c : chans) {
        c.shutdownNow();
      }
    }
  }

  Result fanIn(
      List<Node> nodes,
      int port,
      X509Certificate ca,
      Duration interval,
      Duration measure,
      long cpPid,
      long etcdPid)
      throws Exception {
    System.out.printf(
        "fan-in: %d agents, one session each, heartbeat every %d s ...%n",
        nodes.size(), interval.toSeconds());
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
    List<ManagedChannel> chans = new ArrayList<>();
    ConcurrentLinkedQueue<Long> lat = new ConcurrentLinkedQueue<>();
    AtomicInteger welcomed = new AtomicInteger();
    long[] window = new long[2];
    List<ClientCallStreamObserver<AgentMessage>> streams = new ArrayList<>();
    try {
      for (Node n : nodes) {
        ManagedChannel ch = mtls(n, port, ca);
        chans.add(ch);
        Map<Long, Long> sent = new ConcurrentHashMap<>();
        Object lock = new Object();
        @SuppressWarnings("unchecked")
        ClientCallStreamObserver<AgentMessage>[] up = new ClientCallStreamObserver[1];
        NodeSessionGrpc.newStub(ch)
            .session(
                new ClientResponseObserver<AgentMessage, ControlMessage>() {
                  @Override
                  public void beforeStart(ClientCallStreamObserver<AgentMessage> r) {
                    up[0] = r;
                  }

                  @Override
                  public void onNext(ControlMessage m) {
                    if (m.hasWelcome()) {
                      welcomed.incrementAndGet();
                    } else if (m.hasHeartbeatAck()) {
                      Long s = sent.remove(m.getHeartbeatAck().getSequence());
                      long e = System.nanoTime();
                      if (s != null && window[0] > 0 && s >= window[0] && e <= window[1]) {
                        lat.add(e - s);
                      }
                    } else if (m.hasPing()) {
                      synchronized (lock) {
                        up[0].onNext(
                            AgentMessage.newBuilder()
                                .setPong(Pong.newBuilder().setNonce(m.getPing().getNonce()))
                                .build());
                      }
                    }
                  }

                  @Override
                  public void onError(Throwable t) {}

                  @Override
                  public void onCompleted() {}
                });
        streams.add(up[0]);
        up[0].onNext(
            AgentMessage.newBuilder()
                .setHello(SessionHello.newBuilder().setNodeId(n.id()))
                .build());
        long[] seq = {0};
        timer.scheduleAtFixedRate(
            () -> {
              long q;
              synchronized (lock) {
                q = ++seq[0];
                sent.put(q, System.nanoTime());
                up[0].onNext(
                    AgentMessage.newBuilder()
                        .setHeartbeat(
                            Heartbeat.newBuilder()
                                .setSequence(q)
                                .setCapacityBytes(1L << 40)
                                .setUsedBytes(0)
                                .setAgentTimeUnixMs(System.currentTimeMillis()))
                        .build());
              }
            },
            interval.toMillis() + ThreadLocalRandom.current().nextLong(interval.toMillis()),
            interval.toMillis(),
            TimeUnit.MILLISECONDS);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (welcomed.get() < nodes.size() && System.nanoTime() < deadline) {
        Thread.sleep(100); // progress poll of a benchmark, not test synchronisation
      }
      System.out.printf("  %d sessions open%n", welcomed.get());
      Result r = measure(lat, window, measure, interval, cpPid, etcdPid);
      heapWithSessions = heapAfterGc(cpPid);
      return r;
    } finally {
      timer.shutdownNow();
      for (ClientCallStreamObserver<AgentMessage> s : streams) {
        try {
          s.onCompleted();
        } catch (RuntimeException e) {
          // closing
        }
      }
      for (ManagedChannel c : chans) {
        c.shutdownNow();
      }
    }
  }

  /** Warm-up of two intervals, then a window of {@code measure}; CPU from /proc. */
  static Result measure(
      ConcurrentLinkedQueue<Long> lat,
      long[] window,
      Duration measure,
      Duration interval,
      long pid,
      long etcdPid)
      throws Exception {
    Thread.sleep(interval.toMillis() * 2);
    double cpu0 = cpuSeconds(pid);
    double etcd0 = etcdPid > 0 ? cpuSeconds(etcdPid) : 0;
    long start = System.nanoTime();
    window[1] = Long.MAX_VALUE;
    window[0] = start;
    Thread.sleep(measure.toMillis());
    long end = System.nanoTime();
    window[1] = end;
    double cpu = (cpuSeconds(pid) - cpu0) / ((end - start) / 1e9);
    double etcdCpu = etcdPid > 0 ? (cpuSeconds(etcdPid) - etcd0) / ((end - start) / 1e9) : 0;
    long[] v = lat.stream().mapToLong(Long::longValue).sorted().toArray();
    if (v.length == 0) {
      return new Result(0, Double.NaN, Double.NaN, cpu, etcdCpu);
    }
    return new Result(
        v.length,
        v[(int) (v.length * 0.50)] / 1e6,
        v[Math.min(v.length - 1, (int) (v.length * 0.99))] / 1e6,
        cpu,
        etcdCpu);
  }

  /** utime + stime of a process, seconds (/proc/PID/stat, clock ticks of 1/100 s). */
  static double cpuSeconds(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
    return ticks / 100.0;
  }

  static long rssBytes(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
      }
    }
    return -1;
  }

  static long etcdPid(EtcdCluster etcd) {
    // The etcd process is a child of this JVM.
    return ProcessHandle.current()
        .children()
        .filter(p -> p.info().command().orElse("").endsWith("etcd"))
        .mapToLong(ProcessHandle::pid)
        .findFirst()
        .orElse(0);
  }

  /** Heap used after a full GC, via jcmd (GC.run) and jstat. */
  static long heapAfterGc(long pid) throws Exception {
    String jdk = System.getProperty("java.home");
    run(List.of(jdk + "/bin/jcmd", Long.toString(pid), "GC.run"));
    String out = run(List.of(jdk + "/bin/jstat", "-gc", Long.toString(pid)));
    String[] lines = out.strip().split("\n");
    List<String> head = Arrays.asList(lines[0].strip().split("\\s+"));
    String[] vals = lines[1].strip().split("\\s+");
    double kb = 0;
    for (String col : List.of("S0U", "S1U", "EU", "OU")) {
      int i = head.indexOf(col);
      if (i >= 0) {
        kb += Double.parseDouble(vals[i]);
      }
    }
    return (long) (kb * 1024);
  }

  static String run(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor(60, TimeUnit.SECONDS);
    return out;
  }

  // ---- the agent's resident set ----

  void agentRss(
      Path work, String agentCp, String endpoints, EtcdCluster etcd, int sessionPort, int joinPort)
      throws Exception {
    Path token = Files.writeString(work.resolve("agent-token"), TOKEN + "\n");
    List<String> jvm =
        List.of("-Xmx64m", "-XX:+UseSerialGC", "-Xss512k", "-XX:TieredStopAtLevel=1");
    Process agent =
        startWith(
            agentCp,
            work.resolve("agent.log"),
            jvm,
            "io.mycnet.storage.agent.NodeAgentMain",
            "--node-id=rss-agent",
            "--topology=region=r/zone=z/rack=k/node=rss-agent",
            "--owner=bench",
            "--data-dir=" + work.resolve("agent-data"),
            "--capacity=1GiB",
            "--control-plane=127.0.0.1:" + sessionPort,
            "--join-address=127.0.0.1:" + joinPort,
            "--token-file=" + token,
            "--ca-file=" + work.resolve("ca").resolve("ca.crt"),
            "--listen=127.0.0.1:0");
    awaitLine(work.resolve("agent.log"), "session open as node rss-agent");
    Thread.sleep(10_000);
    long idle = rssBytes(agent.pid());
    EtcdStore store = new EtcdStore(etcd.client(), Duration.ofSeconds(5));
    CommandQueue queue = new CommandQueue(store, new EtcdKeys("/mycnet"));
    for (int i = 0; i < 100; i++) {
      queue.enqueue(
          "rss-agent",
          NodeCommand.newBuilder()
              .setCommandId("rss-create-" + i)
              .setCreateReplica(
                  CreateReplica.newBuilder()
                      .setVolumeId("vol-" + i)
                      .setEpoch(1)
                      .setSizeBytes(1 << 20))
              .build());
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!queue.pending("rss-agent").isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    Thread.sleep(5_000);
    long loaded = rssBytes(agent.pid());
    System.out.printf(
        "agent resident set (JVM %s): idle %.1f MiB, holding 100 replicas %.1f MiB (goal <= 256"
            + " MiB); %d commands left in the queue%n",
        String.join(" ", jvm),
        idle / 1048576.0,
        loaded / 1048576.0,
        queue.pending("rss-agent").size());
  }

  // ---- processes ----

  Process start(Path log, List<String> jvm, String main, String... args) throws IOException {
    return startWith(System.getProperty("java.class.path"), log, jvm, main, args);
  }

  Process startWith(String cp, Path log, List<String> jvm, String main, String... args)
      throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(jvm);
    cmd.add("-cp");
    cmd.add(cp);
    cmd.add(main);
    cmd.addAll(List.of(args));
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    processes.add(p);
    return p;
  }

  static String awaitLine(Path log, String text) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log)) {
        for (String l : Files.readAllLines(log)) {
          if (l.contains(text)) {
            return l;
          }
        }
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("no '" + text + "' in " + log + " within 60 s");
  }

  void stopAll() {
    for (Process p : processes) {
      ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroy);
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
