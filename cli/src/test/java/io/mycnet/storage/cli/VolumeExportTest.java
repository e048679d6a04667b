package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.Attachment;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.cli.local.LocalState;
import io.mycnet.storage.operator.security.CertificateAuthority;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What `mycnet volume export` prints from an allocation and the endpoints local mode recorded. */
class VolumeExportTest {
  @TempDir Path tmp;

  private final Attachment rw =
      Attachment.newBuilder().setNodeId("core-1").setGeneration(4).build();
  private final Attachment ro =
      Attachment.newBuilder().setNodeId("edge-2").setReadOnly(true).setGeneration(5).build();
  private final Allocation volume =
      Allocation.newBuilder()
          .setVolumeId("mycnet-demo.payments-cache")
          .setNamespace("payments")
          .setSizeBytes(2L << 30)
          .addReplicas(Replica.newBuilder().setNodeId("core-1"))
          .addReplicas(Replica.newBuilder().setNodeId("core-3"))
          .build();

  private String print(LocalState st, Allocation a, List<Attachment> shown) throws Exception {
    CertificateAuthority ca =
        CertificateAuthority.openOrCreate(st.caDir(), Clock.systemUTC(), Duration.ofDays(7));
    var certs =
        NbdClientCertificates.write(
            ca, a.getNamespace(), st.nbdTlsDir(a.getNamespace()), Duration.ofDays(1), c -> {});
    StringWriter out = new StringWriter();
    VolumeAttachment.print(
        new PrintWriter(out, true), st, a, "mycnet-demo", "payments-cache", shown, certs);
    return out.toString();
  }

  @Test
  void eachAttachmentGetsItsUnixAndTlsUriAndTheExamplesUseAWritableOne() throws Exception {
    LocalState st = new LocalState(tmp.resolve("state"));
    Properties p = new Properties();
    p.setProperty("node.core-1.nbd.socket", st.nbdSocket("core-1").toString());
    p.setProperty("node.core-1.nbd.tls", "127.0.0.1:19394");
    p.setProperty("node.edge-2.nbd.socket", st.nbdSocket("edge-2").toString());
    p.setProperty("node.edge-2.nbd.tls", "127.0.0.1:29184");
    java.nio.file.Files.createDirectories(st.root());
    st.save(p);
    Allocation a = volume.toBuilder().addAttachments(ro).addAttachments(rw).build();

    String text = print(st, a, a.getAttachmentsList());

    Path certs = st.nbdTlsDir("payments");
    String core1Unix = "nbd+unix:///mycnet-demo.payments-cache?socket=" + st.nbdSocket("core-1");
    assertThat(text)
        .contains("volume mycnet-demo.payments-cache (claim mycnet-demo/payments-cache, 2.0 GiB")
        .contains("attached: edge-2  read-only  generation 5")
        .contains("attached: core-1  read-write  generation 4")
        .contains("  unix: " + core1Unix)
        .contains(
            "  tls:  nbds://127.0.0.1:19394/mycnet-demo.payments-cache?tls-certificates=" + certs)
        .contains("  unix: nbd+unix:///mycnet-demo.payments-cache?socket=" + st.nbdSocket("edge-2"))
        .contains(
            "  tls:  nbds://127.0.0.1:29184/mycnet-demo.payments-cache?tls-certificates=" + certs)
        .contains("CN client:payments")
        .contains(certs + "/{ca-cert.pem,client-cert.pem,client-key.pem} (owner only)")
        // The examples use the read-write attachment, so that writing into the volume is shown.
        .contains("  nbdinfo '" + core1Unix + "'")
        .contains("  nbdcopy disk.img '" + core1Unix + "'")
        .contains("  nbdcopy '" + core1Unix + "' copy.img")
        .contains("  qemu-img info '" + core1Unix + "'")
        .contains("  nbdinfo 'nbds://127.0.0.1:19394/");
  }

  @Test
  void aReadOnlyAttachmentGetsNoWriteExampleAndANodeWithoutEndpointsARestartHint()
      throws Exception {
    LocalState st = new LocalState(tmp.resolve("state"));
    Properties p = new Properties();
    p.setProperty("node.edge-2.nbd.socket", st.nbdSocket("edge-2").toString());
    java.nio.file.Files.createDirectories(st.root());
    st.save(p);
    Allocation a = volume.toBuilder().addAttachments(rw).addAttachments(ro).build();

    String text = print(st, a, a.getAttachmentsList());

    assertThat(text)
        .contains(
            "the agent of core-1 named no NBD endpoint when it started; restart it: mycnet node"
                + " restart core-1")
        .contains("  unix: nbd+unix:///mycnet-demo.payments-cache?socket=")
        .doesNotContain("tls:")
        .doesNotContain("nbdcopy disk.img")
        .contains("nbdcopy 'nbd+unix:///mycnet-demo.payments-cache");
  }

  @Test
  void anUnattachedVolumeSaysHowToAttachIt() {
    assertThat(VolumeAttachment.notAttached(volume, "payments-cache", "mycnet-demo", null))
        .isEqualTo(
            "volume mycnet-demo.payments-cache is not attached to any node; attach it with:"
                + " mycnet volume attach payments-cache -n mycnet-demo --node NODE (e.g. a node"
                + " holding a replica: core-1, core-3)");
    Allocation fenced = volume.toBuilder().setAttachmentNote("core-2 fenced: lost").build();
    assertThat(VolumeAttachment.notAttached(fenced, "payments-cache", "mycnet-demo", "core-3"))
        .isEqualTo(
            "volume mycnet-demo.payments-cache is not attached to any node; attach it with:"
                + " mycnet volume attach payments-cache -n mycnet-demo --node core-3; last:"
                + " core-2 fenced: lost");
    Allocation elsewhere = volume.toBuilder().addAttachments(rw).build();
    assertThat(VolumeAttachment.notAttached(elsewhere, "payments-cache", "mycnet-demo", "core-3"))
        .isEqualTo(
            "volume mycnet-demo.payments-cache is not attached to core-3 (it is attached to"
                + " core-1 (read-write)); attach it there with: mycnet volume attach"
                + " payments-cache -n mycnet-demo --node core-3");
  }
}
