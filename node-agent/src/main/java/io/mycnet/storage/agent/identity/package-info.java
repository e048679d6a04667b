/**
 * Who this node is and whom it believes: its certificate and key on disk ({@link
 * io.mycnet.storage.agent.identity.NodeIdentity}), the live key and trust managers of every TLS
 * endpoint ({@link io.mycnet.storage.agent.identity.IdentityKeys}) and the revocation list ({@link
 * io.mycnet.storage.agent.identity.Revocations}). It depends only on {@code support}, except for
 * two names it still reads from {@code data.DataServer} (listed in the agent's {@code
 * ArchitectureTest}).
 */
package io.mycnet.storage.agent.identity;
