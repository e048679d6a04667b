package io.mycnet.storage.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.csi.CsiNames;
import io.mycnet.storage.csi.UnixSocketGrpc;
import io.mycnet.storage.csi.v1.ControllerGrpc;
import io.mycnet.storage.csi.v1.GetPluginInfoRequest;
import io.mycnet.storage.csi.v1.IdentityGrpc;
import io.mycnet.storage.csi.v1.ListVolumesRequest;
import io.mycnet.storage.csi.v1.ProbeRequest;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.runtime.NodeApiConfig;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator process built through its constructor in the test's JVM (settings and clients in,
 * {@code start()}/{@code close()}), as {@code main} builds it from the environment: the node API
 * and the health endpoints listen on loopback ports the system picks and the ready line's fields
 * name them; a CA directory that cannot be used is a setting named as such.
 */
class OperatorMainIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  @TempDir Path dir;

  Map<String, String> env() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "abcdef.0123456789abcdef reusable\n");
    return Map.of(
        "MYCNET_ETCD_ENDPOINTS", String.join(",", ETCD.endpoints()),
        "MYCNET_ETCD_PREFIX", "/operator-main-it",
        "MYCNET_USE_SSA", "false",
        "MYCNET_LEADER_ELECTION", "false",
        "MYCNET_HTTP_ADDRESS", "127.0.0.1",
        "MYCNET_HTTP_PORT", "0",
        "MYCNET_CA_DIR", dir.resolve("ca").toString(),
        "MYCNET_TOKEN_FILE", tokens.toString(),
        "MYCNET_NODE_API_ADDRESS", "127.0.0.1",
        "MYCNET_SESSION_PORT", "0");
  }

  @Test
  void servesOnThePortsItsReadyLineNamesAndStopsCleanly() throws Exception {
    Map<String, String> env = new java.util.HashMap<>(env());
    env.put("MYCNET_JOIN_PORT", "0");
    OperatorSettings settings = OperatorSettings.fromEnvironment(env);
    NodeApiConfig nodeApi = NodeApiConfig.fromEnvironment(env);
    try (LocalApiServer api =
            new LocalApiServer(
                StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
        KubernetesClient kube = api.newClient();
        Client etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      OperatorMain operator =
          new OperatorMain(
              settings,
              nodeApi,
              NodeApiConfig.heartbeatInterval(env),
              kube,
              etcd,
              Clock.systemUTC(),
              "operator-main-it");
      int session;
      try {
        operator.start();
        Map<String, Object> ready = operator.readyFields();
        assertThat(ready).containsOnlyKeys("session", "join", "http");
        for (Object port : ready.values()) {
          assertThat((Integer) port).isPositive();
          try (Socket s = new Socket("127.0.0.1", (Integer) port)) {
            assertThat(s.isConnected()).isTrue();
          }
        }
        assertThat(operator.process().controlPlane().trustPersistence().restored()).isTrue();
        session = (Integer) ready.get("session");
      } finally {
        operator.close();
      }
      assertThatThrownBy(() -> new Socket("127.0.0.1", session).close())
          .isInstanceOf(java.net.ConnectException.class);
    }
  }

  @Test
  void servesTheCsiControllerOnItsSocketWhenSetAndRemovesItOnClose() throws Exception {
    Map<String, String> env = new java.util.HashMap<>(env());
    env.put("MYCNET_JOIN_PORT", "0");
    Path socket = dir.resolve("csi").resolve("controller.sock");
    env.put("MYCNET_CSI_CONTROLLER_SOCKET", socket.toString());
    OperatorSettings settings = OperatorSettings.fromEnvironment(env);
    NodeApiConfig nodeApi = NodeApiConfig.fromEnvironment(env);
    try (LocalApiServer api =
            new LocalApiServer(
                StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
        KubernetesClient kube = api.newClient();
        Client etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      OperatorMain operator =
          new OperatorMain(
              settings,
              nodeApi,
              NodeApiConfig.heartbeatInterval(env),
              kube,
              etcd,
              Clock.systemUTC(),
              "operator-main-it");
      try {
        operator.start();
        assertThat(operator.readyFields()).containsEntry("csi", socket);
        ManagedChannel ch = UnixSocketGrpc.channel(socket);
        try {
          IdentityGrpc.IdentityBlockingStub id = IdentityGrpc.newBlockingStub(ch);
          assertThat(id.getPluginInfo(GetPluginInfoRequest.getDefaultInstance()).getName())
              .isEqualTo(CsiNames.DRIVER_NAME);
          assertThat(id.probe(ProbeRequest.getDefaultInstance()).getReady().getValue()).isTrue();
          assertThat(
                  ControllerGrpc.newBlockingStub(ch)
                      .listVolumes(ListVolumesRequest.getDefaultInstance())
                      .getEntriesList())
              .isEmpty();
        } finally {
          ch.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
      } finally {
        operator.close();
      }
      assertThat(socket).doesNotExist();
    }
  }

  @Test
  void aCaDirectoryThatCannotBeUsedIsNamed() throws Exception {
    Map<String, String> env = new java.util.HashMap<>(env());
    Files.writeString(dir.resolve("ca"), "not a directory");
    OperatorSettings settings = OperatorSettings.fromEnvironment(env);
    NodeApiConfig nodeApi = NodeApiConfig.fromEnvironment(env);
    try (LocalApiServer api = new LocalApiServer(StoragePool.class);
        KubernetesClient kube = api.newClient();
        Client etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      assertThatThrownBy(
              () ->
                  new OperatorMain(
                      settings,
                      nodeApi,
                      Duration.ofSeconds(5),
                      kube,
                      etcd,
                      Clock.systemUTC(),
                      "operator-main-it"))
          .isInstanceOf(io.mycnet.storage.common.settings.SettingException.class)
          .hasMessageStartingWith("MYCNET_CA_DIR: ");
    }
  }
}
