/**
 * The node agent ({@link io.mycnet.storage.agent.NodeAgentMain}): joins the control plane with a
 * bootstrap token, keeps one mutual-TLS session to it (heartbeats, inventory, measured factors,
 * command results up; commands down), applies each command once ({@link
 * io.mycnet.storage.agent.command.AppliedCommands}) to its {@link
 * io.mycnet.storage.agent.replica.ReplicaStore}, and measures what it can about itself ({@link
 * io.mycnet.storage.agent.session.FactorProbe}). See {@code docs/node-protocol.md}.
 */
package io.mycnet.storage.agent;
