package io.mycnet.storage.testsupport;

import io.etcd.jetcd.Client;
import io.mycnet.storage.local.EtcdCluster;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension that runs a real etcd for a test class:
 *
 * <pre>{@code
 * @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();
 * ...
 * ETCD.client().getKVClient().put(...);
 * }</pre>
 *
 * The processes start before the first test of the class and are stopped by PID after the last one,
 * also when tests fail. When etcd is not installed, {@code beforeAll} fails with a message that
 * says how to install it: tests never skip silently.
 */
public final class EtcdExtension implements BeforeAllCallback, AfterAllCallback {
  private final int size;
  private EtcdCluster cluster;

  private EtcdExtension(int size) {
    this.size = size;
  }

  /** One etcd process. */
  public static EtcdExtension singleNode() {
    return new EtcdExtension(1);
  }

  /** A cluster of {@code size} members (3 for failure tests). */
  public static EtcdExtension cluster(int size) {
    return new EtcdExtension(size);
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    cluster = EtcdCluster.start(size);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }

  public EtcdCluster etcd() {
    if (cluster == null) {
      throw new IllegalStateException("etcd is not running: register the extension as static");
    }
    return cluster;
  }

  public Client client() {
    return etcd().client();
  }

  public List<String> endpoints() {
    return etcd().endpoints();
  }
}
