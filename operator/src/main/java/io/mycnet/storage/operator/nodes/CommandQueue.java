package io.mycnet.storage.operator.nodes;

import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable per-node command queues in etcd. A command lives under {@code commands/<node>/<id>},
 * written in the same transaction as the decision that causes it (see {@link Batch}) and guarded on
 * the key being absent, so a command id is queued at most once. Its place in the queue is etcd's
 * create revision of the key — strictly increasing, assigned by the transaction that queued it — so
 * no counter has to be read or contended on. It is delivered in that order (the revision is
 * reported as {@link NodeCommand#getSequence()}) and removed only when the agent acknowledges it.
 */
public final class CommandQueue {
  private static final Logger LOG = LoggerFactory.getLogger(CommandQueue.class);

  private final EtcdStore store;
  private final EtcdKeys keys;

  public CommandQueue(EtcdStore store, EtcdKeys keys) {
    this.store = store;
    this.keys = keys;
  }

  /** The node's queued commands, oldest first, each with its sequence (create revision). */
  public List<NodeCommand> pending(String nodeId) {
    List<Versioned<NodeCommand>> all = store.list(keys.commands(nodeId), NodeCommand.parser());
    all.sort(Comparator.comparingLong(Versioned::createRevision));
    List<NodeCommand> out = new ArrayList<>(all.size());
    for (Versioned<NodeCommand> v : all) {
      out.add(v.value().toBuilder().setSequence(v.createRevision()).build());
    }
    return out;
  }

  /** Enqueues one command in a transaction of its own. Idempotent by command id. */
  public void enqueue(String nodeId, NodeCommand command) {
    EtcdStore.Txn txn = store.txn();
    batch().add(nodeId, command).stage(txn);
    txn.commit(); // false: the id is already queued, which is what was asked
  }

  /**
   * Removes an acknowledged command. Returns false when it is not queued (already acknowledged or
   * never queued): acknowledging twice is harmless.
   */
  public boolean ack(String nodeId, String commandId) {
    String key = keys.command(nodeId, commandId);
    Versioned<NodeCommand> cmd = store.get(key, NodeCommand.parser());
    if (!cmd.exists()) {
      return false;
    }
    return store.txn().requireUnchanged(cmd).delete(key).commit();
  }

  /**
   * Calls {@code onEnqueued} for every command written to the node's queue from now on. Combine
   * with {@link #pending} (read after the watch is open) to miss nothing. The callback runs on the
   * etcd client's event thread: it must not block or call etcd synchronously.
   */
  public Watch.Watcher watch(String nodeId, Consumer<NodeCommand> onEnqueued) {
    return store.watchPrefix(
        keys.commands(nodeId),
        e -> {
          if (e.getEventType() == WatchEvent.EventType.PUT) {
            try {
              onEnqueued.accept(
                  NodeCommand.parseFrom(e.getKeyValue().getValue().getBytes()).toBuilder()
                      .setSequence(e.getKeyValue().getCreateRevision())
                      .build());
            } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
              LOG.error("unreadable command in the queue of {}", nodeId, ex);
            }
          }
        });
  }

  /** Starts a set of commands to be written inside another transaction. */
  public Batch batch() {
    return new Batch();
  }

  /**
   * Commands for several nodes, staged into a caller's transaction: each is written with a guard
   * that its key is absent, so the commands land exactly when the caller's decision does, and a
   * command id already queued makes the whole transaction fail (the caller re-reads and finds its
   * decision already made).
   */
  public final class Batch {
    private final Map<String, List<NodeCommand>> byNode = new LinkedHashMap<>();

    public Batch add(String nodeId, NodeCommand command) {
      EtcdKeys.id("command id", command.getCommandId());
      byNode.computeIfAbsent(EtcdKeys.id("node id", nodeId), n -> new ArrayList<>()).add(command);
      return this;
    }

    public boolean isEmpty() {
      return byNode.isEmpty();
    }

    public Map<String, List<NodeCommand>> commands() {
      return byNode;
    }

    /** Adds guards and writes to {@code txn}; reads nothing. */
    public void stage(EtcdStore.Txn txn) {
      for (Map.Entry<String, List<NodeCommand>> e : byNode.entrySet()) {
        for (NodeCommand c : e.getValue()) {
          String key = keys.command(e.getKey(), c.getCommandId());
          txn.requireAbsent(key);
          txn.put(key, c.toBuilder().clearSequence().build());
        }
      }
    }
  }
}
