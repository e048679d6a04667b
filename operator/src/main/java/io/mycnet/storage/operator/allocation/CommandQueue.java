package io.mycnet.storage.operator.allocation;

import io.etcd.jetcd.Watch;
import io.etcd.jetcd.watch.WatchEvent;
import io.mycnet.storage.api.v1.NodeCommand;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable per-node command queues in etcd. A command is written under {@code
 * commands/<node>/<sequence>} together with a marker {@code command-ids/<node>/<id>} and the node's
 * sequence counter, in the same transaction as the decision that causes it (see {@link Batch}); it
 * is delivered in sequence order and removed only when the agent acknowledges it. Enqueuing an id
 * that is already queued does nothing, so a retried decision never queues a command twice.
 */
public final class CommandQueue {
  private static final Logger LOG = LoggerFactory.getLogger(CommandQueue.class);
  private static final int MAX_ATTEMPTS = 50;

  private final EtcdStore store;
  private final EtcdKeys keys;

  public CommandQueue(EtcdStore store, EtcdKeys keys) {
    this.store = store;
    this.keys = keys;
  }

  /** The node's queued commands, oldest first. */
  public List<NodeCommand> pending(String nodeId) {
    List<NodeCommand> out = new ArrayList<>();
    for (Versioned<NodeCommand> v : store.list(keys.commands(nodeId), NodeCommand.parser())) {
      out.add(v.value());
    }
    return out;
  }

  /** Enqueues one command in a transaction of its own. Idempotent by command id. */
  public void enqueue(String nodeId, NodeCommand command) {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      Batch batch = batch();
      batch.add(nodeId, command);
      EtcdStore.Txn txn = store.txn();
      batch.stage(txn);
      if (txn.isEmpty() || txn.commit()) {
        return;
      }
    }
    throw new StoreUnavailableException(
        "enqueue of " + command.getCommandId() + " for " + nodeId + " kept conflicting", null);
  }

  /**
   * Removes an acknowledged command. Returns false when it is not queued (already acknowledged or
   * never queued): acknowledging twice is harmless.
   */
  public boolean ack(String nodeId, String commandId) {
    String marker = keys.commandId(nodeId, commandId);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      var seq = store.getString(marker);
      if (seq.isEmpty()) {
        return false;
      }
      String commandKey = keys.command(nodeId, Long.parseLong(seq.get()));
      Versioned<NodeCommand> cmd = store.get(commandKey, NodeCommand.parser());
      EtcdStore.Txn txn = store.txn().delete(marker);
      if (cmd.exists()) {
        txn.requireUnchanged(cmd).delete(commandKey);
      }
      if (txn.commit()) {
        return true;
      }
    }
    throw new StoreUnavailableException("ack of " + commandId + " kept conflicting", null);
  }

  /**
   * Calls {@code onEnqueued} for every command written to the node's queue from now on. Combine
   * with {@link #pending} (read after the watch is open) to miss nothing.
   */
  public Watch.Watcher watch(String nodeId, Consumer<NodeCommand> onEnqueued) {
    return store.watchPrefix(
        keys.commands(nodeId),
        e -> {
          if (e.getEventType() == WatchEvent.EventType.PUT) {
            try {
              onEnqueued.accept(NodeCommand.parseFrom(e.getKeyValue().getValue().getBytes()));
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
   * Commands for several nodes, staged into a caller's transaction: {@link #stage} reads each
   * node's sequence counter, guards the transaction on it and adds the writes, so the commands land
   * exactly when the caller's decision does.
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

    /** Reads the counters and markers now, and adds guards and writes to {@code txn}. */
    public void stage(EtcdStore.Txn txn) {
      for (Map.Entry<String, List<NodeCommand>> e : byNode.entrySet()) {
        String node = e.getKey();
        String seqKey = keys.commandSequence(node);
        var seq = readSequence(seqKey);
        long next = seq.value();
        boolean any = false;
        for (NodeCommand c : e.getValue()) {
          String marker = keys.commandId(node, c.getCommandId());
          if (store.getString(marker).isPresent()) {
            continue; // already queued by an earlier attempt of the same decision
          }
          next++;
          txn.requireAbsent(marker);
          txn.put(keys.command(node, next), c.toBuilder().setSequence(next).build());
          txn.putString(marker, Long.toString(next));
          any = true;
        }
        if (any) {
          txn.requireModRevision(seqKey, seq.modRevision());
          txn.putString(seqKey, Long.toString(next));
        }
      }
    }

    private Versioned<Long> readSequence(String seqKey) {
      Versioned<String> raw = store.getVersionedString(seqKey);
      return new Versioned<>(
          seqKey,
          raw.exists() ? Long.parseLong(raw.value()) : 0L,
          raw.modRevision(),
          raw.createRevision());
    }
  }
}
