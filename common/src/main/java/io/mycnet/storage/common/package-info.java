/**
 * What every process of the product shares and nothing else: settings declared once and read from
 * flags, environment or a file alike, and the launcher of child JVMs with the {@code ready} line
 * each process prints once it serves.
 */
package io.mycnet.storage.common;
