package io.mycnet.storage.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import io.mycnet.storage.local.LocalApiServer;
import io.mycnet.storage.operator.runtime.ControlPlane;
import io.mycnet.storage.operator.runtime.OperatorRuntime;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import io.mycnet.storage.operator.trust.TrustEngine;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** /livez, /readyz and /metrics answer from the runtime's real state. */
class HealthEndpointsIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  @Test
  void probesAndMetricsAreServed() throws Exception {
    try (LocalApiServer server =
            new LocalApiServer(
                StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
        KubernetesClient client = server.newClient();
        Client etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      OperatorSettings settings =
          OperatorSettings.forMockServer(ETCD.endpoints(), "/health").withHttpPort(0);
      Clock clock = Clock.systemUTC();
      try (ControlPlane cp =
              ControlPlane.builder(etcd, settings)
                  .clock(clock)
                  .trustEngine(
                      new TrustEngine(
                          io.mycnet.storage.operator.trust.TrustPolicy.defaults(), clock))
                  .build();
          OperatorRuntime runtime = new OperatorRuntime(client, cp, settings, clock, null)) {
        runtime.start();
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + runtime.healthPort();
        assertThat(get(http, base + "/livez").statusCode()).isEqualTo(200);
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> get(http, base + "/readyz").statusCode() == 200);
        assertThat(get(http, base + "/readyz").body()).isEqualTo("ok\n");
        HttpResponse<String> metrics = get(http, base + "/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type").orElse(""))
            .startsWith("text/plain");
        assertThat(metrics.body()).contains("# TYPE jvm_memory_used_bytes gauge");

        // etcd gone: not ready, still live.
        ETCD.etcd().member(0).kill();
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> get(http, base + "/readyz").statusCode() == 503);
        assertThat(get(http, base + "/readyz").body()).startsWith("etcd: unreachable");
        assertThat(get(http, base + "/livez").statusCode()).isEqualTo(200);
        ETCD.etcd().member(0).start();
      }
    }
  }

  /**
   * Trust explanations name each node's weaknesses: they are never served on an address other than
   * loopback. Bound to every interface (cluster mode), the probes' port has no /trust and a
   * loopback listener of its own serves it; bound to loopback (local mode), one port serves all.
   */
  @Test
  void trustIsServedOnLoopbackOnly() throws Exception {
    try (LocalApiServer server =
            new LocalApiServer(
                StoragePool.class, TrustPolicy.class, ServiceNamespace.class, StorageClaim.class);
        KubernetesClient client = server.newClient();
        Client etcd = Client.builder().endpoints(ETCD.endpoints().toArray(String[]::new)).build()) {
      OperatorSettings base = OperatorSettings.forMockServer(ETCD.endpoints(), "/health-trust");
      HttpClient http = HttpClient.newHttpClient();
      Clock clock = Clock.systemUTC();
      TrustEngine trust =
          new TrustEngine(io.mycnet.storage.operator.trust.TrustPolicy.defaults(), clock);

      OperatorSettings cluster = base.withHttp("0.0.0.0", 0, 0);
      try (ControlPlane cp =
              ControlPlane.builder(etcd, cluster).clock(clock).trustEngine(trust).build();
          OperatorRuntime runtime = new OperatorRuntime(client, cp, cluster, clock, null)) {
        runtime.start();
        assertThat(runtime.healthAddress().getAddress().isAnyLocalAddress()).isTrue();
        String probes = "http://127.0.0.1:" + runtime.healthPort();
        assertThat(get(http, probes + "/livez").statusCode()).isEqualTo(200);
        assertThat(get(http, probes + "/metrics").statusCode()).isEqualTo(200);
        assertThat(get(http, probes + "/trust").statusCode()).isEqualTo(404);
        assertThat(runtime.trustAddress().getAddress().isLoopbackAddress()).isTrue();
        assertThat(runtime.trustAddress().getPort()).isNotEqualTo(runtime.healthPort());
        HttpResponse<String> list =
            get(http, "http://127.0.0.1:" + runtime.trustAddress().getPort() + "/trust");
        assertThat(list.statusCode()).isEqualTo(200);
        // A node without a record: the trust handler's own answer, not "no such context".
        assertThat(
                get(http, "http://127.0.0.1:" + runtime.trustAddress().getPort() + "/trust/n1")
                    .body())
            .isEqualTo("no trust record for node 'n1'\n");
      }

      OperatorSettings local = base.withHttp("127.0.0.1", 0, -1);
      try (ControlPlane cp =
              ControlPlane.builder(etcd, local).clock(clock).trustEngine(trust).build();
          OperatorRuntime runtime = new OperatorRuntime(client, cp, local, clock, null)) {
        runtime.start();
        assertThat(runtime.healthAddress().getAddress().isLoopbackAddress()).isTrue();
        assertThat(runtime.trustAddress()).isEqualTo(runtime.healthAddress());
        String one = "http://127.0.0.1:" + runtime.healthPort();
        assertThat(get(http, one + "/trust").statusCode()).isEqualTo(200);
        assertThat(get(http, one + "/livez").statusCode()).isEqualTo(200);
      }
    }
  }

  private static HttpResponse<String> get(HttpClient http, String url) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
