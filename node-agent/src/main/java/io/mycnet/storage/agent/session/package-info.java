/**
 * The agent's side of its session with the control plane: what it measures about itself to report
 * ({@link io.mycnet.storage.agent.session.FactorProbe}) and, as the agent is split, the session
 * that carries heartbeats, inventory and command results. It may depend on every agent package
 * except the root.
 */
package io.mycnet.storage.agent.session;
