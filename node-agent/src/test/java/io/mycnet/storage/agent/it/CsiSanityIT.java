package io.mycnet.storage.agent.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.testsupport.EtcdExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The CSI community's conformance suite (csi-sanity, kubernetes-csi/csi-test v5.2.0, CSI 1.9.0)
 * against the driver: the controller served by a real control plane (child JVM) and the node plugin
 * of one of three agents (child JVMs), over their Unix sockets, with 1 GiB three-replica volumes of
 * a ServiceNamespace, once with {@code mount} and once with {@code block} volumes. Every spec must
 * pass; the summary line is printed and the failed specs are listed. The suite's output and JUnit
 * report are kept under {@code target/csi-sanity/}. The binary is {@code
 * <repo>/../shared/tools/csi-sanity} (where CI has it); without it the test says so and is skipped.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CsiSanityIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
  static final String TOKEN = "sanity.0123456789abcdef";
  static final List<String> NODES = List.of("s1", "s2", "s3");

  /** Each run of the suite is bounded: about 60 specs, each a few volume lifecycles. */
  static final long RUN_MINUTES = 25;

  static final Pattern SUMMARY =
      Pattern.compile(
          "Ran (\\d+) of (\\d+) Specs.*?(\\d+) Passed \\| (\\d+) Failed \\| (\\d+) Pending \\|"
              + " (\\d+) Skipped",
          Pattern.DOTALL);

  @TempDir static Path dir;
  static Path binary;
  static CsiCluster csi;
  static final Path OUT = Path.of("target", "csi-sanity");

  @BeforeAll
  static void start() throws Exception {
    binary = sanityBinary();
    Assumptions.assumeTrue(
        Files.isExecutable(binary),
        "csi-sanity is not at " + binary + " (CI has it there): the conformance suite is skipped");
    Files.createDirectories(OUT);
    csi =
        new CsiCluster(
            dir,
            ETCD,
            TOKEN,
            NODES,
            "csi-sanity-logs",
            // Room for the suite's volumes: 1-2 GiB each, a few alive at a time, 3 replicas.
            List.of("--capacity=40GiB"),
            List.of(),
            "60Gi");
  }

  @AfterAll
  static void stop() throws Exception {
    if (csi != null) {
      csi.close();
    }
  }

  /**
   * {@code <repo>/../shared/tools/csi-sanity}; the tests run in the module's directory, whose
   * parent is the repository.
   */
  static Path sanityBinary() {
    Path cwd = Path.of("").toAbsolutePath();
    Path repo = Files.exists(cwd.resolve("node-agent")) ? cwd : cwd.getParent();
    return repo.getParent().resolve("shared").resolve("tools").resolve("csi-sanity").normalize();
  }

  @Test
  @Order(1)
  void mountVolumesPassEverySpec() throws Exception {
    runSuite("mount");
  }

  @Test
  @Order(2)
  void blockVolumesPassEverySpec() throws Exception {
    runSuite("block");
  }

  private void runSuite(String accessType) throws Exception {
    Path work = dir.resolve("sanity-" + accessType);
    Files.createDirectories(work);
    Path params = work.resolve("parameters.yaml");
    StringBuilder yaml = new StringBuilder();
    for (Map.Entry<String, String> e : CsiCluster.parameters("3", "STRONG").entrySet()) {
      yaml.append(e.getKey()).append(": \"").append(e.getValue()).append("\"\n");
    }
    Files.writeString(params, yaml.toString());
    Path log = OUT.resolve(accessType + ".log").toAbsolutePath();
    Path junit = OUT.resolve(accessType + "-junit.xml").toAbsolutePath();
    Files.deleteIfExists(junit);
    // The suite creates the staging and mount directories itself before every spec (and removes
    // them after): they must not exist beforehand.
    List<String> command =
        List.of(
            binary.toString(),
            "--csi.endpoint",
            "unix://" + csi.nodeSocket(NODES.get(0)),
            "--csi.controllerendpoint",
            "unix://" + csi.controllerSocket,
            "--csi.testvolumesize",
            "1073741824",
            "--csi.testvolumeaccesstype",
            accessType,
            "--csi.testvolumeparameters",
            params.toString(),
            "--csi.stagingdir",
            work.resolve("staging").toString(),
            "--csi.mountdir",
            work.resolve("mount").toString(),
            "--ginkgo.v",
            "--ginkgo.no-color",
            "--ginkgo.junit-report",
            junit.toString(),
            "--ginkgo.timeout",
            RUN_MINUTES + "m");
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean ended;
    try {
      ended = p.waitFor(RUN_MINUTES + 2, TimeUnit.MINUTES);
    } finally {
      if (p.isAlive()) {
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
      // What a failed spec left mounted under the suite's directories.
      CsiCluster.releaseHost(work);
    }
    String output = Files.readString(log, StandardCharsets.UTF_8);
    Matcher m = SUMMARY.matcher(output);
    boolean found = m.find();
    String summary = found ? m.group().replaceAll("\\s*\\n\\s*", " ") : "(no summary line)";
    System.out.println("csi-sanity " + accessType + ": " + summary);
    List<String> failed = failedSpecs(junit);
    assertThat(ended)
        .as("csi-sanity (%s) ended within %d min; output: %s", accessType, RUN_MINUTES + 2, log)
        .isTrue();
    assertThat(failed)
        .as("csi-sanity (%s) failed specs (%s; output: %s)", accessType, summary, log)
        .isEmpty();
    assertThat(found)
        .as("csi-sanity (%s) printed its summary; output: %s", accessType, log)
        .isTrue();
    assertThat(Integer.parseInt(m.group(4))).as("failed specs in %s", summary).isZero();
    assertThat(Integer.parseInt(m.group(3))).as("passed specs in %s", summary).isPositive();
    assertThat(p.exitValue()).as("csi-sanity (%s) exit code; output: %s", accessType, log).isZero();
  }

  /** The names of the failed specs in the suite's JUnit report, with their first message line. */
  static List<String> failedSpecs(Path junit) {
    List<String> out = new ArrayList<>();
    if (!Files.exists(junit)) {
      out.add("(no JUnit report at " + junit + ")");
      return out;
    }
    try {
      var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(junit.toFile());
      NodeList cases = doc.getElementsByTagName("testcase");
      for (int i = 0; i < cases.getLength(); i++) {
        Element c = (Element) cases.item(i);
        NodeList failures = c.getElementsByTagName("failure");
        NodeList errors = c.getElementsByTagName("error");
        Element f =
            failures.getLength() > 0
                ? (Element) failures.item(0)
                : errors.getLength() > 0 ? (Element) errors.item(0) : null;
        if (f != null) {
          String msg = f.getAttribute("message");
          out.add(c.getAttribute("name") + " -- " + msg.lines().findFirst().orElse(""));
        }
      }
    } catch (Exception e) {
      out.add("(unreadable JUnit report " + junit + ": " + e + ")");
    }
    out.forEach(f -> System.out.println("  FAILED: " + f));
    return out;
  }
}
