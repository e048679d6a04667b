package io.mycnet.storage.agent.command;

import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.session.SessionHandler;
import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.RevocationList;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the control plane's session messages do on this node: a command is applied once ({@link
 * CommandExecutor}) and answered with its result, followed by the new inventory when it created,
 * rebuilt or deleted a replica; the revocation list is stored and in effect at once.
 */
public final class CommandDispatch implements SessionHandler {
  private static final Logger LOG = LoggerFactory.getLogger(CommandDispatch.class);

  private final CommandExecutor executor;
  private final ReplicaStore store;
  private final Revocations revocations;
  private final Clock clock;

  public CommandDispatch(
      CommandExecutor executor, ReplicaStore store, Revocations revocations, Clock clock) {
    this.executor = executor;
    this.store = store;
    this.revocations = revocations;
    this.clock = clock;
  }

  @Override
  public List<AgentMessage> command(NodeCommand c) {
    CommandExecutor.Applied a = executor.apply(c);
    AgentMessage result = AgentMessage.newBuilder().setCommandResult(a.result()).build();
    if (a.fresh()
        && (c.getKindCase() == NodeCommand.KindCase.CREATE_REPLICA
            || c.getKindCase() == NodeCommand.KindCase.REBUILD_REPLICA
            || c.getKindCase() == NodeCommand.KindCase.DELETE_REPLICA)) {
      return List.of(
          result, AgentMessage.newBuilder().setInventory(store.inventory(clock.millis())).build());
    }
    return List.of(result);
  }

  /**
   * Takes the control plane's revocation list at once (on the gRPC thread, not queued behind
   * commands): stored durably, then refused on the data port and as peers.
   */
  @Override
  public void revocations(RevocationList l) {
    try {
      revocations.update(l);
    } catch (IOException e) {
      LOG.error(
          "the revocation list is in effect but could not be stored (a restart before the next"
              + " list would forget it): {}",
          e.toString());
    }
  }
}
