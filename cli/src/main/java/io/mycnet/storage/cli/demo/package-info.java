/**
 * The guided demo ({@link io.mycnet.storage.cli.demo.Demo}, {@code mycnet demo}): starts a local
 * cluster and walks through trust-aware placement, failure and rebuild. It uses {@code cli.local}
 * and the client of the {@code cli} package; nothing uses it but the {@code mycnet} command.
 */
package io.mycnet.storage.cli.demo;
