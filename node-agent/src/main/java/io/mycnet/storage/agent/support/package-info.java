/**
 * Small helpers every part of the agent uses: crash-safe file writes ({@link
 * io.mycnet.storage.agent.support.DurableFiles}), rate-limited warnings ({@link
 * io.mycnet.storage.agent.support.LogOnce}) and jittered retry delays ({@link
 * io.mycnet.storage.agent.support.Backoff}). It depends on no other agent package.
 */
package io.mycnet.storage.agent.support;
