package io.mycnet.storage.operator.nodes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.InMemoryStore;
import io.mycnet.storage.operator.store.StoreWatch;
import io.mycnet.storage.operator.store.Txn;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Durable per-node command queues, on the in-memory store. */
class CommandQueueTest {
  final InMemoryStore store = new InMemoryStore();
  final EtcdKeys keys = new EtcdKeys("/t");
  final CommandQueue queue = new CommandQueue(store, keys);

  @AfterEach
  void close() {
    store.close();
  }

  static NodeCommand cmd(String id) {
    return NodeCommand.newBuilder().setCommandId(id).build();
  }

  static List<String> ids(List<NodeCommand> cs) {
    return cs.stream().map(NodeCommand::getCommandId).toList();
  }

  @Test
  void commandsAreDeliveredInTheOrderTheyWereQueuedWithRisingSequences() {
    queue.enqueue("n1", cmd("z-first"));
    queue.enqueue("n1", cmd("a-second"));
    queue.enqueue("n2", cmd("other-node"));
    queue.enqueue("n1", cmd("m-third"));
    List<NodeCommand> pending = queue.pending("n1");
    assertThat(ids(pending)).containsExactly("z-first", "a-second", "m-third");
    assertThat(pending).extracting(NodeCommand::getSequence).isSorted().doesNotHaveDuplicates();
    assertThat(pending.get(0).getSequence()).isPositive();
    assertThat(ids(queue.pending("n2"))).containsExactly("other-node");
    assertThat(queue.pending("n3")).isEmpty();
  }

  @Test
  void aCommandIdIsQueuedAtMostOnce() {
    queue.enqueue("n1", cmd("c1"));
    long seq = queue.pending("n1").get(0).getSequence();
    queue.enqueue("n1", cmd("c1"));
    assertThat(queue.pending("n1")).hasSize(1);
    assertThat(queue.pending("n1").get(0).getSequence()).isEqualTo(seq);
  }

  @Test
  void anAcknowledgedCommandLeavesTheQueueAndAcknowledgingTwiceIsHarmless() {
    queue.enqueue("n1", cmd("c1"));
    queue.enqueue("n1", cmd("c2"));
    assertThat(queue.ack("n1", "c1")).isTrue();
    assertThat(ids(queue.pending("n1"))).containsExactly("c2");
    assertThat(queue.ack("n1", "c1")).isFalse();
    assertThat(queue.ack("n1", "never")).isFalse();
    assertThat(queue.ack("n2", "c2")).isFalse(); // another node's queue is not touched
    assertThat(ids(queue.pending("n1"))).containsExactly("c2");
  }

  @Test
  void aWatchSeesNewCommandsOfItsNodeWithTheSequencePendingReports() {
    List<NodeCommand> seen = new CopyOnWriteArrayList<>();
    try (StoreWatch w = queue.watch("n1", seen::add)) {
      queue.enqueue("n1", cmd("c1"));
      queue.enqueue("n2", cmd("not-mine"));
      queue.enqueue("n1", cmd("c2"));
      queue.ack("n1", "c1"); // a removal is no new command
      await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() >= 2);
      queue.enqueue("n1", cmd("c3"));
      await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() >= 3);
    }
    assertThat(ids(seen)).containsExactly("c1", "c2", "c3");
    assertThat(seen.get(1)).isEqualTo(queue.pending("n1").get(0));
  }

  @Test
  void aBatchLandsExactlyWhenTheCallersTransactionDoes() {
    CommandQueue.Batch batch = queue.batch().add("n1", cmd("b1")).add("n2", cmd("b2"));
    assertThat(batch.isEmpty()).isFalse();
    assertThat(batch.commands()).containsOnlyKeys("n1", "n2");

    // the caller's guard fails: no command is queued
    Txn failing = store.txn().requireModRevision("/t/decision", 12345);
    batch.stage(failing);
    assertThat(failing.commit()).isFalse();
    assertThat(queue.pending("n1")).isEmpty();
    assertThat(queue.pending("n2")).isEmpty();

    Txn ok = store.txn().putString("/t/decision", "made");
    batch.stage(ok);
    assertThat(ok.commit()).isTrue();
    assertThat(ids(queue.pending("n1"))).containsExactly("b1");
    assertThat(ids(queue.pending("n2"))).containsExactly("b2");
    assertThat(queue.pending("n1").get(0).getSequence())
        .isEqualTo(queue.pending("n2").get(0).getSequence()); // one transaction, one revision
  }

  @Test
  void aBatchWithAnAlreadyQueuedIdFailsTheWholeTransaction() {
    queue.enqueue("n1", cmd("dup"));
    Txn txn = store.txn().putString("/t/decision", "made");
    queue.batch().add("n1", cmd("dup")).add("n1", cmd("fresh")).stage(txn);
    assertThat(txn.commit()).isFalse();
    assertThat(ids(queue.pending("n1"))).containsExactly("dup");
    assertThat(store.getString("/t/decision")).isEmpty();
  }

  @Test
  void badIdsAreRefusedBeforeAnythingIsWritten() {
    assertThatThrownBy(() -> queue.enqueue("n/1", cmd("c")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("node id");
    assertThatThrownBy(() -> queue.enqueue("n1", cmd("")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("command id");
    assertThat(store.keys("/t")).isEmpty();
  }
}
