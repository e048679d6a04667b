package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.common.process.ChildProcess;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The block export tests' cluster: {@link DataPathCluster} (a real etcd, the production control
 * plane as a child JVM, one agent process per node, every node vetted) with each agent's NBD
 * frontend on its Unix socket and on a TLS port on loopback, a Kubernetes {@code Node} object per
 * agent in the mock API server (where the operator's node actions are requested), and the tests'
 * volumes as {@code StorageClaim}s of {@code ServiceNamespace}s in the Kubernetes namespace the
 * control plane reconciles, applied as a user applies them. Attach, detach and fence go through the
 * Node annotations the operator handles, as {@code mycnet} and {@code kubectl annotate} request
 * them. The NBD clients (nbdinfo, nbdcopy, qemu-img, fio, nbdsh, nbdfuse) run as separate
 * processes, each bounded in time and stopped by PID in {@link #close}, also on failure.
 */
final class BlockExportCluster implements AutoCloseable {
  /** The Kubernetes namespace of the claims: the one the fixture's control plane reconciles. */
  static final String KNS = "mycnet-reconciled";

  static final String ATTACH = "storage.mycnet.io/attach";
  static final String DETACH = "storage.mycnet.io/detach";
  static final String FENCE = "storage.mycnet.io/fence";
  static final String REQUEST_ID = "storage.mycnet.io/request-id";
  static final String RESULT = "storage.mycnet.io/result";

  /** The NBD clients these tests run; CI installs them (.ci/run). */
  static final List<String> CLIENTS = List.of("nbdinfo", "nbdcopy", "nbdsh", "qemu-img", "fio");

  final DataPathCluster dp;
  final ControlPlaneFixture cp;
  final Path dir;
  private final KubernetesClient kube;
  private final List<ChildProcess> tools = new CopyOnWriteArrayList<>();
  private final AtomicInteger runs = new AtomicInteger();
  private final String logDir;

  /**
   * Starts the cluster ({@code nodes}, each agent with an NBD TLS port on loopback besides its Unix
   * socket, plus {@code agentFlags}) and registers a Kubernetes Node per agent.
   */
  BlockExportCluster(
      Path dir,
      EtcdExtension etcd,
      String token,
      List<String> nodes,
      String logDir,
      String... flags)
      throws Exception {
    this.dir = dir;
    this.logDir = logDir;
    List<String> agentFlags = new ArrayList<>();
    agentFlags.add("--nbd-address=127.0.0.1:0");
    agentFlags.addAll(List.of(flags));
    // A replication pass at least every 2 s (production: 30 s): whatever a node's silence
    // starts (the primary's handover, a rebuild once it is DOWN) is not left to a 30 s tick.
    dp =
        new DataPathCluster(
            dir,
            etcd,
            token,
            nodes,
            Duration.ofSeconds(10),
            logDir,
            n -> agentFlags,
            List.of("MYCNET_REPLICATION_INTERVAL=2s"));
    cp = dp.cp;
    kube = cp.kube();
    for (String n : nodes) {
      kubeNode(n);
    }
  }

  /** The Debian packages of the clients these tests run (CI installs them: .ci/run). */
  static final String INSTALL =
      "apt-get install -y libnbd-bin python3-libnbd nbdkit fio qemu-utils (.ci/run does)";

  /**
   * Fails (never skips) when a client is missing, with the command that installs it: CI installs
   * them, so a missing one is a broken machine, not a reason to test less.
   */
  static void requireClients(List<String> programs) {
    assertThat(missing(programs)).as("NBD clients missing; install them: " + INSTALL).isEmpty();
  }

  /** Whether every program is on the PATH (the tests assume it, with a message naming them). */
  static List<String> missing(List<String> programs) {
    List<String> out = new ArrayList<>();
    for (String p : programs) {
      boolean found = false;
      for (String d : searchPath().split(File.pathSeparator)) {
        if (new File(d, p).canExecute()) {
          found = true;
          break;
        }
      }
      if (!found) {
        out.add(p);
      }
    }
    return out;
  }

  /**
   * The PATH the clients run with: the system's directories first, so that {@code nbdsh} finds the
   * Python that has the libnbd bindings (not a Python of a version manager earlier on PATH).
   */
  static String searchPath() {
    return "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:"
        + System.getenv().getOrDefault("PATH", "");
  }

  /** True when {@code command} runs and exits 0 within 30 s (e.g. to probe a client's features). */
  static boolean run0(String... command) {
    try {
      ProcessBuilder pb =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD);
      pb.environment().put("PATH", searchPath());
      Process p = pb.start();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
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

  /**
   * The Kubernetes Node of an agent (its name is the node id), where node actions are requested.
   */
  void kubeNode(String node) {
    if (kube.nodes().withName(node).get() == null) {
      kube.nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(node).endMetadata().build())
          .create();
    }
  }

  // ---- resources, as a user applies them ----

  /**
   * Applies the ServiceNamespace {@code name} (every classification, the pool {@code default});
   * {@code extraSpec}: further lines of its spec (two-space indented, e.g. a {@code sharing:}
   * list). Waits until it is Ready. Returns its store id (the client certificates' namespace).
   */
  String serviceNamespace(String name, String... extraSpec) {
    List<String> y = new ArrayList<>();
    y.add("apiVersion: storage.mycnet.io/v1alpha1");
    y.add("kind: ServiceNamespace");
    y.add("metadata:");
    y.add("  name: " + name);
    y.add("  namespace: " + KNS);
    y.add("spec:");
    y.add("  quota:");
    y.add("    bytes: 8Gi");
    y.add("    volumes: 20");
    y.add("  allowedClassifications: [CRITICAL, SENSITIVE, STANDARD, PUBLIC]");
    y.add("  pools: [default]");
    y.add("  deletionPolicy: Delete");
    for (String l : extraSpec) {
      y.add("  " + l);
    }
    apply(ServiceNamespace.class, name, String.join("\n", y) + "\n");
    return KNS + "." + name;
  }

  /**
   * Applies a StorageClaim of {@code serviceNamespace} and waits until it is Ready and its volume
   * BOUND; returns the volume id (the export name).
   */
  String claim(
      String name,
      String serviceNamespace,
      String size,
      String storageType,
      String classification,
      int replicas,
      String consistency) {
    String yaml =
        String.join(
            "\n",
            "apiVersion: storage.mycnet.io/v1alpha1",
            "kind: StorageClaim",
            "metadata:",
            "  name: " + name,
            "  namespace: " + KNS,
            "spec:",
            "  serviceNamespace: " + serviceNamespace,
            "  pool: default",
            "  size: " + size,
            "  storageType: " + storageType,
            "  classification: " + classification,
            "  replication:",
            "    replicas: " + replicas,
            "    consistency: " + consistency,
            "");
    apply(StorageClaim.class, name, yaml);
    String volume = volumeId(name);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                dp.manager
                    .get(volume)
                    .map(a -> a.getState() == VolumeState.VOLUME_STATE_BOUND)
                    .orElse(false));
    return volume;
  }

  /** The volume id of a claim of {@link #KNS}: {@code <namespace>.<claim>}. */
  static String volumeId(String claim) {
    return KNS + "." + claim;
  }

  Allocation allocation(String volume) {
    return dp.manager.get(volume).orElseThrow();
  }

  private <T extends HasMetadata> void apply(Class<T> type, String name, String yaml) {
    kube.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).createOrReplace();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> ready(type, name));
  }

  private <T extends HasMetadata> boolean ready(Class<T> type, String name) throws Exception {
    T r = kube.resources(type).inNamespace(KNS).withName(name).get();
    if (r == null) {
      return false;
    }
    Object status = type.getMethod("getStatus").invoke(r);
    if (status == null) {
      return false;
    }
    @SuppressWarnings("unchecked")
    List<Condition> conditions =
        (List<Condition>) status.getClass().getMethod("getConditions").invoke(status);
    return conditions != null
        && conditions.stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  // ---- node actions (annotations on the Kubernetes Node, handled by the operator) ----

  /**
   * Requests {@code action=value} on {@code node} with a fresh request id and waits for the
   * operator's result annotation of that request: {@code "<id> <action> <ok|unchanged|refused>:
   * <message>"}; returns it without the id.
   */
  String nodeAction(String node, String action, String value) {
    String id = "t-" + UUID.randomUUID().toString().substring(0, 8);
    kube.nodes()
        .withName(node)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editMetadata()
                    .addToAnnotations(action, value)
                    .addToAnnotations(REQUEST_ID, id)
                    .endMetadata()
                    .build());
    String[] result = new String[1];
    await()
        .atMost(Duration.ofSeconds(45))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              Map<String, String> a =
                  kube.nodes().withName(node).get().getMetadata().getAnnotations();
              String r = a == null ? null : a.get(RESULT);
              if (r != null && r.startsWith(id + " ")) {
                result[0] = r.substring(id.length() + 1);
                return true;
              }
              return false;
            });
    return result[0];
  }

  /** {@code mycnet volume attach CLAIM --node NODE [--read-only]}: the operator's answer. */
  String attach(String node, String claim, boolean readOnly) {
    return nodeAction(node, ATTACH, KNS + "/" + claim + (readOnly ? ":ro" : ""));
  }

  /**
   * Attaches and waits until the node's frontend serves the export on its Unix socket (nbdinfo can
   * open it).
   */
  void attached(String node, String claim, boolean readOnly) {
    String r = attach(node, claim, readOnly);
    assertThat(r).as("attach %s on %s", claim, node).matches("attach (ok|unchanged): .*");
    String volume = volumeId(claim);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> run(Duration.ofSeconds(20), "nbdinfo", "--size", unixUri(node, volume)).ok());
  }

  String detach(String node, String claim) {
    return nodeAction(node, DETACH, KNS + "/" + claim);
  }

  String fence(String node, String reason) {
    return nodeAction(node, FENCE, reason);
  }

  // ---- where the frontends listen ----

  /** The key=value fields of {@code node}'s newest ready line. */
  Map<String, String> readyFields(String node) {
    List<String> lines =
        dp.agents.get(node).stdout().lines().filter(l -> l.startsWith("ready ")).toList();
    assertThat(lines).as("ready lines of %s", node).isNotEmpty();
    Map<String, String> out = new LinkedHashMap<>();
    for (String kv : lines.get(lines.size() - 1).substring("ready ".length()).split(" ")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        out.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    return out;
  }

  /** The node's own NBD socket (the ready line's {@code nbd=}). */
  Path socket(String node) {
    String s = readyFields(node).get("nbd");
    assertThat(s).as("nbd= in the ready line of %s", node).isNotNull();
    return Path.of(s);
  }

  /** The node's NBD TLS address (the ready line's {@code nbd-tls=}), host:port. */
  String tlsAddress(String node) {
    String s = readyFields(node).get("nbd-tls");
    assertThat(s).as("nbd-tls= in the ready line of %s", node).isNotNull();
    return s;
  }

  int tlsPort(String node) {
    String a = tlsAddress(node);
    return Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
  }

  /** The export on the node's own socket, as libnbd names it. */
  String unixUri(String node, String volume) {
    return "nbd+unix:///" + volume + "?socket=" + socket(node);
  }

  /**
   * The export over TLS with the client certificates in {@code certs}. The agent presents its node
   * certificate, which carries the node id: libnbd checks the server's name against the URI's host,
   * so the URI dials the node by its id (the tests that speak TLS name a node {@code localhost}).
   */
  String tlsUri(String node, String volume, Path certs) {
    return "nbds://" + node + ":" + tlsPort(node) + "/" + volume + "?tls-certificates=" + certs;
  }

  /** The same address without TLS (which the agent must refuse). */
  String plainUri(String node, String volume) {
    return "nbd://127.0.0.1:" + tlsPort(node) + "/" + volume;
  }

  /**
   * A directory of client credentials as libnbd reads them ({@code ca-cert.pem}, {@code
   * client-cert.pem}, {@code client-key.pem}): a certificate {@code client:<namespace>} signed by
   * the control plane's CA, as {@code mycnet volume export} hands out.
   */
  Path clientCertificates(String namespace) {
    try {
      Path d = dir.resolve("client-certs").resolve(namespace);
      Files.createDirectories(d);
      KeyPair kp = CertificateAuthority.generateEcKeyPair();
      X509Certificate cert = dp.ca.signClient(kp.getPublic(), namespace);
      Files.writeString(d.resolve("ca-cert.pem"), dp.ca.bundlePem());
      Files.writeString(d.resolve("client-cert.pem"), pem("CERTIFICATE", cert.getEncoded()));
      Files.writeString(d.resolve("client-key.pem"), ecKeyPem(kp));
      return d;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * An EC key pair as SEC 1 {@code EC PRIVATE KEY} with its public key: GnuTLS (libnbd's TLS)
   * refuses the PKCS#8 encoding the JDK writes, which leaves the optional public key out ("ASN1
   * parser: Element was not found").
   */
  static String ecKeyPem(KeyPair kp) throws IOException {
    java.security.interfaces.ECPrivateKey k =
        (java.security.interfaces.ECPrivateKey) kp.getPrivate();
    org.bouncycastle.asn1.pkcs.PrivateKeyInfo info =
        org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(k.getEncoded());
    org.bouncycastle.asn1.x509.SubjectPublicKeyInfo pub =
        org.bouncycastle.asn1.x509.SubjectPublicKeyInfo.getInstance(kp.getPublic().getEncoded());
    org.bouncycastle.asn1.sec.ECPrivateKey sec1 =
        new org.bouncycastle.asn1.sec.ECPrivateKey(
            k.getParams().getOrder().bitLength(),
            k.getS(),
            pub.getPublicKeyData(),
            info.getPrivateKeyAlgorithm().getParameters());
    return pem("EC PRIVATE KEY", sec1.getEncoded());
  }

  static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  // ---- the clients, as processes ----

  /** One finished client run. */
  record Run(List<String> command, int code, String out, String err) {
    boolean ok() {
      return code == 0;
    }

    @Override
    public String toString() {
      return String.join(" ", command) + " -> " + code + "\nstdout: " + out + "\nstderr: " + err;
    }
  }

  /**
   * Runs a client to its end, at most {@code timeout} (then it and its children are killed by PID
   * and the run fails).
   */
  Run run(Duration timeout, String... command) {
    return run(timeout, List.of(command));
  }

  Run run(Duration timeout, List<String> command) {
    int n = runs.incrementAndGet();
    Path logs = dir.resolve("client-logs");
    try {
      Files.createDirectories(logs);
      Path out = logs.resolve(n + ".out");
      Path err = logs.resolve(n + ".err");
      ProcessBuilder pb =
          new ProcessBuilder(command)
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      pb.environment().put("PATH", searchPath());
      pb.environment().put("LC_ALL", "C");
      Process p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.toHandle().descendants().forEach(ChildProcess::kill);
        ChildProcess.kill(p.toHandle());
        throw new AssertionError(
            "not ended within "
                + timeout
                + ": "
                + String.join(" ", command)
                + "\n"
                + Files.readString(out)
                + Files.readString(err));
      }
      return new Run(command, p.exitValue(), Files.readString(out), Files.readString(err));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** As {@link #run}, and the run must succeed. */
  Run ok(Duration timeout, String... command) {
    Run r = run(timeout, command);
    assertThat(r.code()).as("%s", r).isZero();
    return r;
  }

  /**
   * Starts a long-running client ({@code name} names its logs); it is stopped by PID in {@link
   * #close} if it still runs.
   */
  ChildProcess start(String name, List<String> command) {
    ChildProcess p =
        ChildProcess.program(command)
            .name(name)
            .env(Map.of("PATH", searchPath(), "LC_ALL", "C"))
            .log(dir.resolve("client-logs").resolve(name + ".out"))
            .stderr(dir.resolve("client-logs").resolve(name + ".err"))
            .start();
    tools.add(p);
    return p;
  }

  /**
   * An nbdsh script against {@code uri} (connected as {@code h}). libnbd reads the certificate
   * directory of a URI only when the handle allows local files, which {@code nbdsh -u} does not:
   * the script connects itself.
   */
  Run nbdsh(Duration timeout, String uri, String script) {
    String connect = "h.set_uri_allow_local_file(True)\nh.connect_uri(" + pythonString(uri) + ")\n";
    return run(timeout, "nbdsh", "-c", connect + script);
  }

  static String pythonString(String s) {
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
  }

  static String sha256(Path file) {
    try (var in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 20];
      int r;
      while ((r = in.read(buf)) > 0) {
        md.update(buf, 0, r);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Stops the clients still running (by PID), then the cluster; keeps the logs. */
  @Override
  public void close() throws Exception {
    for (ChildProcess p : tools) {
      p.stop(Duration.ofSeconds(5));
    }
    Path logs = Path.of("target", logDir, "clients");
    Path clientLogs = dir.resolve("client-logs");
    if (Files.isDirectory(clientLogs)) {
      Files.createDirectories(logs);
      try (var files = Files.list(clientLogs)) {
        for (Path f : files.toList()) {
          Files.copy(
              f, logs.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    kube.close();
    dp.close();
  }
}
