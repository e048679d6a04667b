package io.mycnet.storage.operator;

import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.mycnet.storage.common.process.ReadyLine;
import io.mycnet.storage.common.settings.SettingException;
import io.mycnet.storage.operator.runtime.ControlPlaneProcess;
import io.mycnet.storage.operator.runtime.NodeApiConfig;
import io.mycnet.storage.operator.runtime.OperatorSettings;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator process in a cluster: reads {@link OperatorSettings} from {@code MYCNET_*}
 * environment variables, connects to the Kubernetes API (in-cluster config or kubeconfig) and to
 * etcd, and runs the control plane ({@link ControlPlaneProcess}). With leader election on, one
 * replica leads through a Lease; it then campaigns for the etcd leadership whose fence guards every
 * allocation write, and it exits when it loses the Lease (Kubernetes restarts it as a standby).
 * With {@code MYCNET_CA_DIR} set it also serves the node API ({@link NodeApiConfig}): agents join
 * and report there, and what it measures feeds the trust engine. An invalid setting exits with code
 * 2 and a message naming the variable. Once serving it prints its ready line ({@link ReadyLine}):
 * {@code ready session=<port> join=<port> http=<port>} ({@code session} and {@code join} only with
 * the node API).
 *
 * <p>{@link #main} only reads the environment and builds the clients; the constructor takes them,
 * so that a test can run the same process in its own JVM.
 */
public final class OperatorMain implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OperatorMain.class);

  private final ControlPlaneProcess process;

  /**
   * Builds the control plane and serves the node API when {@code nodeApi} is given.
   *
   * @param nodeApi the node API, or null when it is off
   * @param heartbeatInterval the agents' heartbeat interval (told to them in the welcome)
   * @param identity this replica's name in the leader elections
   * @throws SettingException when the CA directory or the token file cannot be used
   */
  public OperatorMain(
      OperatorSettings settings,
      NodeApiConfig nodeApi,
      Duration heartbeatInterval,
      KubernetesClient kube,
      Client etcd,
      Clock clock,
      String identity) {
    ControlPlaneProcess.Builder b =
        ControlPlaneProcess.builder(settings, kube, etcd).clock(clock).identity(identity);
    if (nodeApi != null) {
      b.nodeApi(nodeApi, heartbeatInterval);
    }
    this.process = b.build();
  }

  /** Starts the reconcilers, the control plane's loop and the health endpoints. */
  public OperatorMain start() {
    process.start();
    return this;
  }

  /** The control plane this process runs. */
  public ControlPlaneProcess process() {
    return process;
  }

  /** The fields of the ready line. */
  public Map<String, Object> readyFields() {
    return process.readyFields();
  }

  @Override
  public void close() {
    process.close();
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    OperatorSettings settings;
    NodeApiConfig nodeApi;
    Duration heartbeat;
    try {
      settings = OperatorSettings.fromEnvironment(env);
      nodeApi = NodeApiConfig.fromEnvironment(env);
      heartbeat = NodeApiConfig.heartbeatInterval(env);
      settings.checkLiveness(heartbeat, NodeApiConfig.agentReconnectMax(env));
    } catch (SettingException e) {
      exitBadSetting(e);
      return;
    }
    String identity = env.getOrDefault("POD_NAME", InetAddress.getLocalHost().getHostName());
    Client etcd =
        Client.builder().endpoints(settings.etcdEndpoints().toArray(String[]::new)).build();
    KubernetesClient kube = new KubernetesClientBuilder().build();
    OperatorMain operator;
    try {
      operator =
          new OperatorMain(settings, nodeApi, heartbeat, kube, etcd, Clock.systemUTC(), identity);
    } catch (SettingException e) {
      exitBadSetting(e);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  operator.close();
                  kube.close();
                  etcd.close();
                  stopped.countDown();
                },
                "shutdown"));
    operator.start();
    LOG.info("mycnet operator started");
    ReadyLine.print(System.out, operator.readyFields());
    stopped.await();
  }

  private static void exitBadSetting(SettingException e) {
    System.err.println("mycnet operator: invalid setting " + e.getMessage());
    System.exit(2);
  }
}
