/**
 * Commands from the control plane applied exactly once: the {@link
 * io.mycnet.storage.agent.command.CommandExecutor} that turns a command into replica-store and
 * replication actions, the durable record of the commands already applied ({@link
 * io.mycnet.storage.agent.command.AppliedCommands}), and {@link
 * io.mycnet.storage.agent.command.CommandDispatch}, the session's handler. It depends on the
 * packages below it (the session among them), never on the agent root.
 */
package io.mycnet.storage.agent.command;
