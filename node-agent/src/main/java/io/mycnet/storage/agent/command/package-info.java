/**
 * Commands from the control plane applied exactly once: the {@link
 * io.mycnet.storage.agent.command.CommandExecutor} that turns a command into replica-store and
 * replication actions, and the durable record of the commands already applied ({@link
 * io.mycnet.storage.agent.command.AppliedCommands}). It depends on the packages below it, never on
 * {@code session} or the agent root.
 */
package io.mycnet.storage.agent.command;
