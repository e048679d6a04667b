package io.mycnet.storage.agent.session;

import io.mycnet.storage.api.v1.AgentMessage;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.RevocationList;
import java.util.List;

/** What the agent does with what the control plane sends over the session. */
public interface SessionHandler {
  /**
   * Applies one command, on the agent thread, in delivery order: the messages to send back (its
   * result first).
   */
  List<AgentMessage> command(NodeCommand c);

  /** Takes the revocation list at once, on the gRPC thread (not queued behind commands). */
  void revocations(RevocationList l);
}
