/**
 * The agent's one connection to the control plane: the join ({@link
 * io.mycnet.storage.agent.session.NodeJoin}), the session stream with its heartbeats, inventory and
 * reports ({@link io.mycnet.storage.agent.session.AgentSession}), certificate renewal ({@link
 * io.mycnet.storage.agent.session.CertificateRenewal}) and what the agent measures about itself
 * ({@link io.mycnet.storage.agent.session.FactorProbe}). What arrives over the session goes to a
 * {@link io.mycnet.storage.agent.session.SessionHandler}; the command package implements it. It
 * depends on the packages below it and, for the agent's settings, on {@code AgentConfig}.
 */
package io.mycnet.storage.agent.session;
