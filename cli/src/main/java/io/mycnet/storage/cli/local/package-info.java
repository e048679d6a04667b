/**
 * Local mode's supervision: the state directory ({@link io.mycnet.storage.cli.local.LocalState}),
 * the topology ({@link io.mycnet.storage.cli.local.LocalTopology}, {@link
 * io.mycnet.storage.cli.local.TrustHistory}), the child processes ({@link
 * io.mycnet.storage.cli.local.LocalProcesses}, {@link io.mycnet.storage.cli.local.LocalCluster})
 * and the in-process control plane with its manifest watcher ({@link
 * io.mycnet.storage.cli.local.LocalControlPlane}, {@link
 * io.mycnet.storage.cli.local.ManifestWatcher}). The commands and the demo use it; it uses none of
 * them (only {@code CliException}).
 */
package io.mycnet.storage.cli.local;
