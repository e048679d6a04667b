package io.mycnet.storage.operator.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Watch;
import io.mycnet.storage.api.v1.DeleteReplica;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.testsupport.EtcdExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class CommandQueueIT {
  @RegisterExtension static final EtcdExtension ETCD = EtcdExtension.singleNode();

  private static EtcdStore store;
  private static CommandQueue queue;

  @BeforeAll
  static void setUp() {
    store = new EtcdStore(ETCD.client(), Duration.ofSeconds(5));
    queue = new CommandQueue(store, new EtcdKeys("/cq"));
  }

  @AfterAll
  static void tearDown() {
    store = null;
  }

  private static NodeCommand cmd(String id) {
    return NodeCommand.newBuilder()
        .setCommandId(id)
        .setDeleteReplica(DeleteReplica.newBuilder().setVolumeId("v").setReason(id))
        .build();
  }

  @Test
  void deliversInOrderOnceAndRemovesOnlyOnAck() {
    queue.enqueue("n1", cmd("a"));
    queue.enqueue("n1", cmd("b"));
    queue.enqueue("n1", cmd("a")); // a retried decision: no second copy
    queue.enqueue("n1", cmd("c"));
    List<NodeCommand> pending = queue.pending("n1");
    assertThat(pending).extracting(NodeCommand::getCommandId).containsExactly("a", "b", "c");
    assertThat(pending).extracting(NodeCommand::getSequence).isSorted().doesNotHaveDuplicates();

    assertThat(queue.ack("n1", "b")).isTrue();
    assertThat(queue.ack("n1", "b")).isFalse(); // a replayed ack does nothing
    assertThat(queue.pending("n1")).extracting(NodeCommand::getCommandId).containsExactly("a", "c");
    assertThat(queue.pending("n2")).isEmpty();
  }

  @Test
  void concurrentEnqueuersNeitherLoseNorDuplicate() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> fs = new java.util.ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int thread = t;
        fs.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 10; i++) {
                    // every id is enqueued by two threads
                    queue.enqueue("conc", cmd("c" + ((thread / 2) * 10 + i)));
                  }
                }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    List<NodeCommand> pending = queue.pending("conc");
    assertThat(pending).hasSize(40);
    assertThat(pending).extracting(NodeCommand::getCommandId).doesNotHaveDuplicates();
    assertThat(pending).extracting(NodeCommand::getSequence).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void watchSeesNewCommands() {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (Watch.Watcher w = queue.watch("w1", c -> seen.add(c.getCommandId()))) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                queue.enqueue("w1", cmd("w-" + seen.size()));
                return !seen.isEmpty();
              });
    }
    assertThat(seen.get(0)).startsWith("w-");
  }
}
