/**
 * The control plane's node security: its certificate authority ({@link
 * io.mycnet.storage.operator.security.CertificateAuthority}, BouncyCastle, key and certificate on
 * disk), the bootstrap tokens agents join with ({@link
 * io.mycnet.storage.operator.security.BootstrapTokens}), and the durable record of issued
 * certificates, spent tokens and revocations in etcd ({@link
 * io.mycnet.storage.operator.security.SecurityStore}). The gRPC side that uses them lives in {@code
 * nodeapi}; see {@code docs/node-protocol.md}.
 */
package io.mycnet.storage.operator.security;
