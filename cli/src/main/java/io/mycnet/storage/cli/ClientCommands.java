package io.mycnet.storage.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mycnet client}: volume client certificates (CN {@code client:<namespace>}). */
@Command(
    name = "client",
    mixinStandardHelpOptions = true,
    description = "Volume client certificates of service namespaces.",
    subcommands = {ClientCommands.Revoke.class})
final class ClientCommands extends CommandGroup {

  @Command(
      name = "revoke",
      mixinStandardHelpOptions = true,
      description = {
        "Revoke volume client certificates: every one recorded for --namespace (local mode records"
            + " those `mycnet volume` makes), or the one with hex SERIAL.",
        "Every agent refuses them on its data port within one heartbeat interval while its session"
            + " is up. Certificates signed later are not affected."
      })
  static final class Revoke implements Callable<Integer> {
    @Mixin Mycnet.StateDir state;

    @Spec CommandSpec spec;

    @Parameters(
        index = "0",
        arity = "0..1",
        paramLabel = "SERIAL",
        description = "the certificate's serial, lower-case hex")
    String serial;

    @Option(
        names = {"-n", "--namespace"},
        paramLabel = "NS",
        description = "the service namespace id (e.g. payments.ledger)")
    String namespace;

    @Option(
        names = "--reason",
        defaultValue = "revoked with mycnet client revoke",
        description = "recorded with the revocation")
    String reason;

    @Override
    public Integer call() {
      if ((serial == null) == (namespace == null)) {
        throw Mycnet.badInput("client revoke", "name either a SERIAL or --namespace NS");
      }
      if (reason.isBlank()) {
        throw Mycnet.badInput("--reason", "must not be empty");
      }
      if (serial != null && !serial.matches("[0-9a-f]{1,40}")) {
        throw Mycnet.badInput(
            "SERIAL", "'" + serial + "' is not a certificate serial (lower-case hex)");
      }
      if (namespace != null
          && !namespace.matches(
              "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")) {
        throw Mycnet.badInput(
            "--namespace", "'" + namespace + "' is not a service namespace id (DNS-1123)");
      }
      try (LocalClient c = new LocalClient(state.state())) {
        if (serial != null) {
          c.security().revokeSerial(serial, reason);
          spec.commandLine()
              .getOut()
              .printf(
                  "revoked certificate %s; agents refuse it within one heartbeat interval%n",
                  serial);
          return 0;
        }
        List<String> revoked = c.security().revokeClients(namespace, reason);
        if (revoked.isEmpty()) {
          throw new CliException(
              "no unexpired client certificate of namespace "
                  + namespace
                  + " is recorded (only those signed by `mycnet volume` are); nothing revoked");
        }
        spec.commandLine()
            .getOut()
            .printf(
                "revoked %d client certificate(s) of namespace %s: %s%n"
                    + "agents refuse them within one heartbeat interval%n",
                revoked.size(), namespace, String.join(", ", revoked));
      }
      return 0;
    }
  }
}
