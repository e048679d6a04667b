/**
 * The NBD protocol server (docs/block-export.md): fixed newstyle handshake, options, transmission
 * with simple and structured replies, on a Unix socket and on TCP with forced mutual TLS. It knows
 * nothing of replicas: it serves the {@link io.mycnet.storage.agent.nbd.BlockDevice}s an {@link
 * io.mycnet.storage.agent.nbd.ExportDirectory} opens for a caller. It depends only on {@code
 * support}.
 */
package io.mycnet.storage.agent.nbd;
