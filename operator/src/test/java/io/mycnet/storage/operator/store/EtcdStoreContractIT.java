package io.mycnet.storage.operator.store;

import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The etcd store passes the store contract against a real etcd process. */
class EtcdStoreContractIT extends StoreContract {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private final EtcdStore store = new EtcdStore(ETCD.client(), Duration.ofSeconds(3));

  @Override
  KeyValueStore store() {
    return store;
  }

  @Override
  KeyValueStore secondClient() {
    return new EtcdStore(ETCD.client(), Duration.ofSeconds(3));
  }

  @Override
  void passTime(Duration d) {
    // etcd's leases run on real time; the contract waits for their expiry
  }

  @Override
  void compact(long revision) {
    try {
      ETCD.client().getKVClient().compact(revision).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("etcd compaction failed", e);
    }
  }

  @Override
  void startOutage() {
    ETCD.etcd().member(0).stop();
  }

  @Override
  void endOutage() {
    ETCD.etcd().member(0).start();
  }
}
