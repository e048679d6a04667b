/**
 * The CSI node plugin (docs/csi.md, "Node plugin"): the CSI Identity and Node services the agent
 * serves on its Unix socket ({@code csi-socket}). A staged volume is the node's own NBD export of
 * the volume turned into a block device (kernel {@code nbd} where the node has it, else {@code
 * nbdfuse} with a loop device), formatted when blank and mounted on the staging path; a published
 * volume is a bind mount of it. What is staged and published is recorded under {@code <data
 * dir>/csi/}, so an agent that restarts finds it and serves it again. Above {@code command} (it
 * reads the attachments of {@code frontend}), below the agent itself.
 */
package io.mycnet.storage.agent.csi;
