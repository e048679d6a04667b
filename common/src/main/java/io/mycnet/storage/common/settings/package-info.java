/**
 * Settings declared once and read alike from flags, environment variables and a properties file: a
 * {@link io.mycnet.storage.common.settings.Setting} is a name, a {@link
 * io.mycnet.storage.common.settings.ValueType}, a default and checks; a {@link
 * io.mycnet.storage.common.settings.ProcessSettings} lists a process's settings and sources; {@link
 * io.mycnet.storage.common.settings.SettingValues} reads them with one precedence (flags,
 * environment, file) and one error type, {@link
 * io.mycnet.storage.common.settings.SettingException}; {@link
 * io.mycnet.storage.common.settings.SettingsReference} renders the configuration reference. The one
 * parser of durations ({@link io.mycnet.storage.common.settings.DurationText}), sizes ({@link
 * io.mycnet.storage.common.settings.ByteSize}) and {@code host:port} addresses ({@link
 * io.mycnet.storage.common.settings.HostPort}) of the product lives here too.
 */
package io.mycnet.storage.common.settings;
