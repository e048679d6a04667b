package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mycnet.storage.api.v1.Attachment;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The NBD URIs `mycnet volume export` prints, and the words for attachments. */
class BlockExportTest {

  @Test
  void theUnixUriNamesTheVolumeAsExportAndTheSocketAsQuery() {
    assertThat(BlockExport.unixUri("payments.ledger", "/srv/.mycnet/nodes/core-1/nbd.sock"))
        .isEqualTo("nbd+unix:///payments.ledger?socket=/srv/.mycnet/nodes/core-1/nbd.sock");
  }

  @Test
  void theTlsUriNamesLoopbackThePortTheVolumeAndTheCertificateDirectory() {
    assertThat(
            BlockExport.tlsUri(
                "payments.ledger",
                "127.0.0.1",
                10809,
                Path.of("/srv/.mycnet/nbd-tls/payments.ledger")))
        .isEqualTo(
            "nbds://127.0.0.1:10809/payments.ledger"
                + "?tls-certificates=/srv/.mycnet/nbd-tls/payments.ledger");
    assertThat(BlockExport.tlsUri("a.b", "::1", 1, Path.of("/c")))
        .isEqualTo("nbds://[::1]:1/a.b?tls-certificates=/c");
  }

  @Test
  void pathsWithSpacesAmpersandsOrPercentSignsStayOneQueryValue() {
    assertThat(BlockExport.unixUri("v.x", "/home/a b/&x=%/nbd.sock"))
        .isEqualTo("nbd+unix:///v.x?socket=/home/a%20b/%26x%3D%25/nbd.sock");
    assertThat(BlockExport.escape("/é")).isEqualTo("/%C3%A9");
  }

  @Test
  void badPartsAreRefusedNotPrinted() {
    assertThatThrownBy(() -> BlockExport.unixUri("", "/s")).hasMessageContaining("volume id");
    assertThatThrownBy(() -> BlockExport.unixUri("a/b", "/s")).hasMessageContaining("volume id");
    assertThatThrownBy(() -> BlockExport.unixUri("a.b", "relative.sock"))
        .hasMessageContaining("absolute");
    assertThatThrownBy(() -> BlockExport.tlsUri("a.b", "127.0.0.1", 0, Path.of("/c")))
        .hasMessageContaining("port");
    assertThatThrownBy(() -> BlockExport.tlsUri("a.b", "127.0.0.1", 65536, Path.of("/c")))
        .hasMessageContaining("port");
    assertThatThrownBy(() -> BlockExport.tlsUri("a.b", "127.0.0.1", 1, Path.of("c")))
        .hasMessageContaining("absolute");
  }

  @Test
  void shellQuotingKeepsAUriOneWord() {
    assertThat(BlockExport.shellQuote("nbd+unix:///v?socket=/s"))
        .isEqualTo("'nbd+unix:///v?socket=/s'");
    assertThat(BlockExport.shellQuote("it's")).isEqualTo("'it'\\''s'");
    assertThat(BlockExport.shellQuote("plain.img")).isEqualTo("plain.img");
  }

  @Test
  void theAttachAnnotationValueIsNamespaceSlashClaimWithRoForReadOnly() {
    assertThat(BlockExport.attachValue("payments", "ledger", false)).isEqualTo("payments/ledger");
    assertThat(BlockExport.attachValue("payments", "ledger", true)).isEqualTo("payments/ledger:ro");
    assertThat(BlockExport.nameProblem("ledger")).isNull();
    assertThat(BlockExport.nameProblem("Ledger")).contains("not a Kubernetes name");
    assertThat(BlockExport.nameProblem("a".repeat(64))).contains("not a Kubernetes name");
    assertThat(BlockExport.nameProblem("")).isEqualTo("is empty");
  }

  @Test
  void attachmentsAreDescribedWithNodeModeGenerationAndTime() {
    Attachment rw =
        Attachment.newBuilder()
            .setNodeId("core-1")
            .setGeneration(3)
            .setAttachedAtUnixMs(1_700_000_000_000L)
            .setRequestedBy("mycnet volume attach")
            .build();
    Attachment ro = Attachment.newBuilder().setNodeId("edge-2").setReadOnly(true).build();
    assertThat(BlockExport.describe(rw))
        .isEqualTo(
            "core-1  read-write  generation 3  attached 2023-11-14T22:13:20Z"
                + "  by mycnet volume attach");
    assertThat(BlockExport.describe(ro)).isEqualTo("edge-2  read-only  generation 0  attached -");
    assertThat(BlockExport.shortList(List.of(rw, ro))).isEqualTo("core-1(rw),edge-2(ro)");
  }
}
