package io.mycnet.storage.cli;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.common.settings.HostPort;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mycnet volume attach|detach|export}: a claim's volume as a block device (NBD) on a node
 * (docs/block-export.md). Attach and detach go through annotations on the Kubernetes Node, as in a
 * cluster, and wait for the operator's result; export prints the NBD URIs of the volume's
 * attachments and writes the namespace's client certificate for the TLS port.
 */
final class VolumeAttachment {
  private VolumeAttachment() {}

  @Command(
      name = "attach",
      mixinStandardHelpOptions = true,
      description = {
        "Attach the claim's volume to NODE: that node's agent then serves it as an NBD export"
            + " (export name = the volume id). Read-write by at most one node at a time,"
            + " read-only (--read-only) by any number; a node whose trust tier does not admit the"
            + " volume's classification is refused, with the trust explanation. Idempotent.",
        "Goes through the annotation storage.mycnet.io/attach on the Kubernetes Node of that"
            + " name, as in a cluster, and waits until the operator has applied it."
      })
  static final class Attach implements Callable<Integer> {
    @Mixin Mycnet.StateDir state;

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "CLAIM")
    String name;

    @Option(
        names = "--node",
        required = true,
        paramLabel = "NODE",
        description = "the node that will use the volume")
    String node;

    @Option(names = "--read-only", description = "attach read-only")
    boolean readOnly;

    @Option(
        names = {"-n", "--namespace"},
        paramLabel = "NS",
        description = "the claim's Kubernetes namespace (default: the only claim of that name)")
    String namespace;

    @Mixin Mycnet.OperatorWait operatorWait;

    @Override
    public Integer call() {
      Mycnet.claimArguments(name, namespace);
      String id = Mycnet.nodeId("--node", node);
      Duration t = operatorWait.timeout();
      try (LocalClient c = new LocalClient(state.state())) {
        StorageClaim claim = c.claim(name, namespace);
        String ns = claim.getMetadata().getNamespace();
        PrintWriter out = spec.commandLine().getOut();
        out.println(
            c.nodeAction(id, BlockExport.ATTACH, BlockExport.attachValue(ns, name, readOnly), t));
        out.println(
            "its NBD URIs and client certificate: mycnet volume export "
                + name
                + " -n "
                + ns
                + " --node "
                + id);
        return 0;
      }
    }
  }

  @Command(
      name = "detach",
      mixinStandardHelpOptions = true,
      description = {
        "Detach the claim's volume from NODE cleanly: the node's frontend flushes, then the"
            + " attachment is released and the node may no longer open the volume. Idempotent.",
        "Goes through the annotation storage.mycnet.io/detach on the Kubernetes Node of that"
            + " name, as in a cluster, and waits until the operator has applied it."
      })
  static final class Detach implements Callable<Integer> {
    @Mixin Mycnet.StateDir state;

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "CLAIM")
    String name;

    @Option(
        names = "--node",
        required = true,
        paramLabel = "NODE",
        description = "the node the volume is attached to")
    String node;

    @Option(
        names = {"-n", "--namespace"},
        paramLabel = "NS",
        description = "the claim's Kubernetes namespace (default: the only claim of that name)")
    String namespace;

    @Mixin Mycnet.OperatorWait operatorWait;

    @Override
    public Integer call() {
      Mycnet.claimArguments(name, namespace);
      String id = Mycnet.nodeId("--node", node);
      Duration t = operatorWait.timeout();
      try (LocalClient c = new LocalClient(state.state())) {
        StorageClaim claim = c.claim(name, namespace);
        String ns = claim.getMetadata().getNamespace();
        spec.commandLine()
            .getOut()
            .println(
                c.nodeAction(id, BlockExport.DETACH, BlockExport.attachValue(ns, name, false), t));
        return 0;
      }
    }
  }

  @Command(
      name = "export",
      mixinStandardHelpOptions = true,
      description = {
        "How to reach the claim's volume as a block device: for each node it is attached to (or"
            + " --node), the nbd+unix:// URI of that node's Unix socket and the nbds:// URI of its"
            + " TLS port, with example nbdinfo, nbdcopy and qemu-img commands.",
        "Writes the client certificate of the volume's service namespace (CN"
            + " client:<namespace>, signed by local mode's CA, recorded for mycnet client revoke)"
            + " into <state dir>/nbd-tls/<namespace>/ as ca-cert.pem, client-cert.pem and"
            + " client-key.pem, owner-only; a certificate there with more than a day left is"
            + " kept."
      })
  static final class Export implements Callable<Integer> {
    @Mixin Mycnet.StateDir state;

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "CLAIM")
    String name;

    @Option(
        names = "--node",
        paramLabel = "NODE",
        description = "only this node's attachment (default: every attachment)")
    String node;

    @Option(
        names = {"-n", "--namespace"},
        paramLabel = "NS",
        description = "the claim's Kubernetes namespace (default: the only claim of that name)")
    String namespace;

    @Override
    public Integer call() {
      Mycnet.claimArguments(name, namespace);
      if (node != null) {
        Mycnet.nodeId("--node", node);
      }
      LocalState st = state.state();
      try (LocalClient c = new LocalClient(st)) {
        StorageClaim claim = c.claim(name, namespace);
        String ns = claim.getMetadata().getNamespace();
        Allocation a = c.volumeOf(claim);
        List<Attachment> shown = new ArrayList<>();
        for (Attachment at : a.getAttachmentsList()) {
          if (node == null || at.getNodeId().equals(node)) {
            shown.add(at);
          }
        }
        if (shown.isEmpty()) {
          throw new CliException(notAttached(a, name, ns, node));
        }
        NbdClientCertificates.Written certs = c.nbdClientCertificates(a.getNamespace());
        print(spec.commandLine().getOut(), st, a, ns, name, shown, certs);
        return 0;
      }
    }
  }

  /** Why there is nothing to export, and the command that attaches the volume. */
  static String notAttached(Allocation a, String claim, String namespace, String node) {
    String attach =
        "mycnet volume attach "
            + claim
            + " -n "
            + namespace
            + " --node "
            + (node != null ? node : "NODE");
    if (a.getAttachmentsCount() == 0) {
      List<String> replicas = new ArrayList<>();
      for (Replica r : a.getReplicasList()) {
        replicas.add(r.getNodeId());
      }
      return "volume "
          + a.getVolumeId()
          + " is not attached to any node; attach it with: "
          + attach
          + (node == null && !replicas.isEmpty()
              ? " (e.g. a node holding a replica: " + String.join(", ", replicas) + ")"
              : "")
          + (a.getAttachmentNote().isEmpty() ? "" : "; last: " + a.getAttachmentNote());
    }
    List<String> on = new ArrayList<>();
    for (Attachment at : a.getAttachmentsList()) {
      on.add(at.getNodeId() + " (" + BlockExport.mode(at) + ")");
    }
    return "volume "
        + a.getVolumeId()
        + " is not attached to "
        + node
        + " (it is attached to "
        + String.join(", ", on)
        + "); attach it there with: "
        + attach;
  }

  /** The URIs of each attachment, the certificate files, and example commands. */
  static void print(
      PrintWriter out,
      LocalState st,
      Allocation a,
      String namespace,
      String claim,
      List<Attachment> attachments,
      NbdClientCertificates.Written certs) {
    out.printf(
        "volume %s (claim %s/%s, %s, %d bytes)%n",
        a.getVolumeId(), namespace, claim, StatusView.bytes(a.getSizeBytes()), a.getSizeBytes());
    String exampleUri = null;
    String exampleTls = null;
    boolean exampleWritable = false;
    for (Attachment at : attachments) {
      out.println("attached: " + BlockExport.describe(at));
      LocalState.NbdEndpoints e = st.nbdEndpoints(at.getNodeId());
      String unix = e.socket() == null ? null : BlockExport.unixUri(a.getVolumeId(), e.socket());
      String tls = null;
      if (e.tlsAddress() != null) {
        try {
          HostPort hp = HostPort.parse(e.tlsAddress());
          tls = BlockExport.tlsUri(a.getVolumeId(), BlockExport.LOOPBACK, hp.port(), certs.dir());
        } catch (IllegalArgumentException bad) {
          out.println("  (recorded TLS address '" + e.tlsAddress() + "' is unusable)");
        }
      }
      if (unix == null && tls == null) {
        out.println(
            "  the agent of "
                + at.getNodeId()
                + " named no NBD endpoint when it started; restart it: mycnet node restart "
                + at.getNodeId());
        continue;
      }
      if (unix != null) {
        out.println("  unix: " + unix);
      }
      if (tls != null) {
        out.println("  tls:  " + tls);
      }
      if (exampleUri == null || (!exampleWritable && !at.getReadOnly())) {
        exampleUri = unix != null ? unix : tls;
        exampleTls = tls;
        exampleWritable = !at.getReadOnly();
      }
    }
    out.printf(
        "client certificate of namespace %s (CN %s%s, serial %s, valid until %s%s):%n"
            + "  %s/{%s,%s,%s} (owner only)%n",
        a.getNamespace(),
        io.mycnet.storage.operator.security.CertificateAuthority.CLIENT_PREFIX,
        a.getNamespace(),
        io.mycnet.storage.operator.security.CertificateAuthority.serialHex(certs.certificate()),
        certs.certificate().getNotAfter().toInstant(),
        certs.reused() ? ", kept" : ", new",
        certs.dir(),
        NbdClientCertificates.CA_FILE,
        NbdClientCertificates.CERT_FILE,
        NbdClientCertificates.KEY_FILE);
    if (exampleUri == null) {
      return;
    }
    String q = BlockExport.shellQuote(exampleUri);
    out.println("try:");
    out.println("  nbdinfo " + q);
    out.println("  nbdinfo --map " + q);
    if (exampleWritable) {
      out.println("  nbdcopy disk.img " + q + "      # a file into the volume");
    }
    out.println("  nbdcopy " + q + " copy.img      # the volume into a file");
    if (exampleUri.startsWith("nbd+unix:")) {
      out.println("  qemu-img info " + q);
    }
    if (exampleTls != null) {
      out.println("  nbdinfo " + BlockExport.shellQuote(exampleTls) + "      # over TLS");
    }
  }
}
