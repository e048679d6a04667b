package io.mycnet.storage.agent;

import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.NodeCommand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a command once: a command id already in {@link AppliedCommands} is answered with the
 * remembered result; otherwise the command is applied, its result recorded durably, then returned
 * (to be sent). A crash between the effect and the record redoes the effect on redelivery, which
 * create and delete tolerate (they are idempotent on their own).
 */
public final class CommandExecutor {
  private static final Logger LOG = LoggerFactory.getLogger(CommandExecutor.class);
  static final String NOT_SUPPORTED = "not supported by this agent version yet";

  private final ReplicaStore store;
  private final AppliedCommands applied;
  private final long capacityBytes;

  public CommandExecutor(ReplicaStore store, AppliedCommands applied, long capacityBytes) {
    this.store = store;
    this.applied = applied;
    this.capacityBytes = capacityBytes;
  }

  /** The result and whether the command was applied now (false for a repeat). */
  public record Applied(CommandResult result, boolean fresh) {}

  public synchronized Applied apply(NodeCommand c) {
    var prior = applied.get(c.getCommandId());
    if (prior.isPresent()) {
      LOG.info("command {} was already applied; answering with its result again", c.getCommandId());
      return new Applied(prior.get(), false);
    }
    ReplicaStore.Outcome o =
        switch (c.getKindCase()) {
          case CREATE_REPLICA ->
              store.create(
                  c.getCreateReplica().getVolumeId(),
                  c.getCreateReplica().getEpoch(),
                  c.getCreateReplica().getSizeBytes(),
                  capacityBytes);
          case DELETE_REPLICA ->
              store.delete(c.getDeleteReplica().getVolumeId(), c.getDeleteReplica().getEpoch());
          case REBUILD_REPLICA ->
              new ReplicaStore.Outcome(false, "rebuild_replica: " + NOT_SUPPORTED);
          case AUDIT_REPLICA -> new ReplicaStore.Outcome(false, "audit_replica: " + NOT_SUPPORTED);
          case KIND_NOT_SET -> new ReplicaStore.Outcome(false, "command has no kind");
        };
    CommandResult r =
        CommandResult.newBuilder()
            .setCommandId(c.getCommandId())
            .setOk(o.ok())
            .setMessage(o.message())
            .build();
    applied.record(r);
    LOG.info(
        "command {} ({}): {}{}",
        c.getCommandId(),
        c.getKindCase(),
        o.ok() ? "" : "FAILED ",
        o.message());
    return new Applied(r, true);
  }
}
