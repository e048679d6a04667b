package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeState;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.cli.local.LocalCluster;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Shares as a user sets them: local mode (etcd, the control plane with its reconcilers on the mock
 * API server, six agents, as processes; mutual TLS on every port) with the default topology and a
 * copy of the samples, where payments shares its claim {@code payments-config} read-only with
 * analytics. Analytics' client certificate (CN {@code client:mycnet-demo.analytics}) reads that
 * volume and cannot write, trim or flush it, and cannot touch payments' other volumes; the share is
 * then changed by editing the ServiceNamespace manifest, as GitOps would: ReadWrite lets analytics
 * write, back to ReadOnly refuses its next write within one assignment round while its reads go on,
 * and removing the share refuses its reads. No refused request changes a byte.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ShareIT {
  static final Path ROOT =
      Path.of(System.getProperty("mycnet.root", "..")).toAbsolutePath().normalize();
  static final Duration UP = Duration.ofSeconds(120);
  static final String PAYMENTS = "mycnet-demo.payments";
  static final String ANALYTICS = "mycnet-demo.analytics";
  static final String CONFIG = "mycnet-demo.payments-config";
  static final Duration ROUND = Duration.ofSeconds(60);
  static LocalState state;
  static LocalCluster cluster;
  static LocalClient client;
  static Path manifests;
  static final ByteArrayOutputStream log = new ByteArrayOutputStream();

  @BeforeAll
  static void up() throws Exception {
    Path dir = Path.of("target", "share-it-state").toAbsolutePath();
    manifests = Path.of("target", "share-it-samples").toAbsolutePath();
    state = new LocalState(dir);
    cluster = new LocalCluster(state, new PrintStream(log, true));
    if (Files.exists(dir)) {
      cluster.down(true);
    }
    copySamples();
    cluster.up(ROOT.resolve("config/local/topology.yaml"), manifests, UP);
    client = new LocalClient(state);
    await()
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .until(ShareIT::paymentsBound);
  }

  @AfterAll
  static void down() throws Exception {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.down(false);
      Path logs = Path.of("target", "share-it-logs");
      Files.createDirectories(logs);
      try (var files = Files.list(state.root().resolve("logs"))) {
        for (Path f : files.toList()) {
          Files.copy(f, logs.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      cluster.down(true);
    }
  }

  static void copySamples() throws IOException {
    if (Files.exists(manifests)) {
      try (Stream<Path> old = Files.list(manifests)) {
        for (Path p : old.toList()) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(manifests);
    try (Stream<Path> files = Files.list(ROOT.resolve("samples"))) {
      for (Path f : files.toList()) {
        Files.copy(f, manifests.resolve(f.getFileName()));
      }
    }
  }

  static boolean paymentsBound() {
    List<StorageClaim> claims =
        client.kube().resources(StorageClaim.class).inNamespace("mycnet-demo").list().getItems();
    return claims.stream().filter(c -> c.getSpec().getServiceNamespace().equals("payments")).count()
            == 5
        && claims.stream()
            .filter(c -> c.getSpec().getServiceNamespace().equals("payments"))
            .allMatch(
                c ->
                    c.getStatus() != null
                        && "Bound".equals(String.valueOf(c.getStatus().getPhase())))
        && client.volumes().stream()
            .filter(v -> v.getNamespace().equals(PAYMENTS))
            .allMatch(v -> v.getState() == VolumeState.VOLUME_STATE_BOUND);
  }

  /** Rewrites payments' ServiceNamespace manifest with {@code sharing} (YAML lines) and waits. */
  static void setSharing(String sharing) throws IOException {
    String text =
        Files.readString(ROOT.resolve("samples/30-servicenamespace-payments.yaml"))
            .replaceAll("(?s)  sharing:\n.*?(?=  deletionPolicy:)", sharing);
    Path file = manifests.resolve("30-servicenamespace-payments.yaml");
    Path tmp = manifests.resolve(".payments.tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(
            () -> {
              ServiceNamespace sn =
                  client
                      .kube()
                      .resources(ServiceNamespace.class)
                      .inNamespace("mycnet-demo")
                      .withName("payments")
                      .get();
              return String.valueOf(
                          sn.getSpec().getSharing() == null
                              ? List.of()
                              : sn.getSpec().getSharing().stream()
                                  .map(s -> s.getClaim() + ":" + s.getMode())
                                  .toList())
                      .equals(String.valueOf(expected(sharing)))
                  && sn.getStatus() != null
                  && sn.getMetadata()
                      .getGeneration()
                      .equals(sn.getStatus().getObservedGeneration());
            });
  }

  static List<String> expected(String sharing) {
    if (sharing.isBlank()) {
      return List.of();
    }
    String claim = sharing.replaceAll("(?s).*claim: (\\S+).*", "$1");
    String mode = sharing.replaceAll("(?s).*mode: (\\S+).*", "$1");
    return List.of(claim + ":" + mode);
  }

  static Allocation volume(String id) {
    return client.volume(id).orElseThrow();
  }

  static ReadRequest read(Allocation v, int length) {
    return ReadRequest.newBuilder()
        .setVolumeId(v.getVolumeId())
        .setEpoch(v.getEpoch())
        .setOffset(0)
        .setLength(length)
        .build();
  }

  static WriteRequest write(Allocation v, byte[] data) {
    return WriteRequest.newBuilder()
        .setVolumeId(v.getVolumeId())
        .setEpoch(v.getEpoch())
        .setOffset(0)
        .setData(ByteString.copyFrom(data))
        .build();
  }

  /** Analytics' client on the volume's primary (one channel, kept: one session). */
  static io.mycnet.storage.api.v1.VolumeIoGrpc.VolumeIoBlockingStub analytics(Allocation v) {
    return client.io(ANALYTICS, v.getPrimaryNodeId()).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  static byte[] ownerReads(Allocation v, int length) {
    return client.read(v, v.getPrimaryNodeId(), 0, length);
  }

  static byte[] bytes(String s) {
    byte[] b = new byte[4096];
    byte[] t = s.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(t, 0, b, 0, t.length);
    return b;
  }

  static void refused(Runnable call, String why) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
              assertThat(e.getStatus().getDescription()).contains(why);
            });
  }

  @Test
  @Order(1)
  void aReadOnlyShareReadsItsClaimOnlyAndWritesNothing() {
    Allocation config = volume(CONFIG);
    byte[] owners = bytes("payments configuration v1");
    client.write(config, 0, owners);
    // The sample shares payments-config read-only with analytics: it reads what payments wrote.
    assertThat(
            LocalClient.retrying(() -> analytics(config).read(read(config, 4096)))
                .getData()
                .toByteArray())
        .isEqualTo(owners);
    assertThat(analytics(config).stat(StatRequest.newBuilder().setVolumeId(CONFIG).build()))
        .satisfies(s -> assertThat(s.getNamespace()).isEqualTo(PAYMENTS));
    // Writes, trims and flushes are refused; the bytes stay payments'.
    refused(
        () -> analytics(config).write(write(config, bytes("forged by analytics"))),
        "read-only share");
    refused(
        () ->
            analytics(config)
                .trim(
                    TrimRequest.newBuilder()
                        .setVolumeId(CONFIG)
                        .setEpoch(config.getEpoch())
                        .setOffset(0)
                        .setLength(4096)
                        .build()),
        "read-only share");
    refused(
        () ->
            analytics(config)
                .flush(
                    FlushRequest.newBuilder()
                        .setVolumeId(CONFIG)
                        .setEpoch(config.getEpoch())
                        .build()),
        "read-only share");
    assertThat(ownerReads(config, 4096)).isEqualTo(owners);
  }

  @Test
  @Order(2)
  void theShareOfOneClaimOpensNoOtherVolumeOfTheOwner() {
    for (String other :
        List.of(
            "mycnet-demo.payments-ledger",
            "mycnet-demo.payments-cache",
            "mycnet-demo.payments-consensus",
            "mycnet-demo.payments-infrastructure")) {
      Allocation v = volume(other);
      byte[] before = bytes("owned by payments: " + other);
      client.write(v, 0, before);
      refused(() -> analytics(v).read(read(v, 4096)), "not shared with it");
      refused(() -> analytics(v).write(write(v, bytes("forged"))), "not shared with it");
      assertThat(ownerReads(v, 4096)).isEqualTo(before);
    }
  }

  @Test
  @Order(3)
  void readWriteThenReadOnlyMidSessionThenRemoved() throws Exception {
    String readWrite =
        "  sharing:\n    - claim: payments-config\n      with: [analytics]\n      mode: ReadWrite\n";
    String readOnly =
        "  sharing:\n    - claim: payments-config\n      with: [analytics]\n      mode: ReadOnly\n";
    Allocation config = volume(CONFIG);
    long epoch = config.getEpoch();

    setSharing(readWrite);
    byte[] first = bytes("written by analytics 0");
    await()
        .atMost(ROUND)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptionsMatching(
            e ->
                e instanceof StatusRuntimeException s
                    && s.getStatus().getCode() == Status.Code.PERMISSION_DENIED)
        .until(
            () -> {
              analytics(config).write(write(config, first));
              return true;
            });
    assertThat(ownerReads(config, 4096)).isEqualTo(first);

    // Narrowed while analytics keeps writing on its open channel: its next writes are refused
    // within one assignment round; reads go on; the last accepted bytes stay.
    long changed = System.nanoTime();
    setSharing(readOnly);
    byte[][] lastAccepted = {first};
    int[] n = {0};
    await()
        .atMost(ROUND)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              byte[] next = bytes("written by analytics " + (++n[0]));
              try {
                analytics(config).write(write(config, next));
                lastAccepted[0] = next;
                return false;
              } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(e.getStatus().getDescription()).contains("read-only share");
                return true;
              }
            });
    long narrowedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - changed);
    System.out.println(
        "ShareIT: ReadWrite -> ReadOnly refused a write "
            + narrowedMs
            + " ms after the manifest change");
    refused(() -> analytics(config).write(write(config, bytes("too late"))), "read-only share");
    assertThat(analytics(config).read(read(config, 4096)).getData().toByteArray())
        .isEqualTo(lastAccepted[0]);
    assertThat(ownerReads(config, 4096)).isEqualTo(lastAccepted[0]);
    // Same epoch: a share change moves no replica and fences nobody.
    assertThat(volume(CONFIG).getEpoch()).isEqualTo(epoch);

    // Removed: analytics' reads are refused within one assignment round.
    changed = System.nanoTime();
    setSharing("");
    await()
        .atMost(ROUND)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              try {
                analytics(config).read(read(config, 4096));
                return false;
              } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(e.getStatus().getDescription()).contains("not shared with it");
                return true;
              }
            });
    long removedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - changed);
    System.out.println(
        "ShareIT: share removed, read refused " + removedMs + " ms after the manifest change");
    refused(() -> analytics(config).write(write(config, bytes("after removal"))), "not shared");
    // Every replica refuses, not only the primary.
    for (var r : volume(CONFIG).getReplicasList()) {
      Allocation v = volume(CONFIG);
      await()
          .atMost(ROUND)
          .untilAsserted(
              () ->
                  refused(
                      () ->
                          client
                              .io(ANALYTICS, r.getNodeId())
                              .withDeadlineAfter(30, TimeUnit.SECONDS)
                              .read(read(v, 4096)),
                      "not shared with it"));
    }
    assertThat(Arrays.equals(ownerReads(config, 4096), lastAccepted[0])).isTrue();
  }
}
