package io.mycnet.storage.agent.data;

import static io.mycnet.storage.agent.data.VolumeIoServiceTest.bytes;
import static io.mycnet.storage.agent.data.VolumeIoServiceTest.refused;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc.ReplicaPeerBlockingStub;
import io.mycnet.storage.api.v1.RevocationList;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc.VolumeIoBlockingStub;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.operator.security.CertificateAuthority;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data port's interceptor on real gRPC calls (in-process transport): the caller's identity is
 * its connection's certificate, a connection without one is UNAUTHENTICATED, and the revocation
 * list is checked on every call, so a connection opened before a revocation is refused from its
 * next call on, and a re-admitted node is served again.
 */
class CallerIdentityTest {
  static final String VOLUME = "app.data";
  @TempDir Path dir;
  InProcessDataPort port;

  @BeforeEach
  void start() throws Exception {
    port = new InProcessDataPort(dir, "n2", RevocationList.getDefaultInstance());
    port.replica(VOLUME, InProcessDataPort.assignment(VOLUME, "app", 1, "n2", "n1", "n2").build());
  }

  @AfterEach
  void stop() throws Exception {
    port.close();
  }

  static StatRequest stat() {
    return StatRequest.newBuilder().setVolumeId(VOLUME).build();
  }

  static ReadIndexRequest readIndex() {
    return ReadIndexRequest.newBuilder().setVolumeId(VOLUME).setEpoch(1).build();
  }

  @Test
  void aConnectionWithoutCertificateIsUnauthenticatedOnBothServices() throws Exception {
    refused(() -> port.io(null).stat(stat()), Status.Code.UNAUTHENTICATED, "no client certificate");
    refused(
        () -> port.peer(null).readIndex(readIndex()),
        Status.Code.UNAUTHENTICATED,
        "no client certificate");
  }

  @Test
  void aClientRevokedWhileConnectedIsRefusedFromItsNextCallAndOnlyThatCertificate()
      throws Exception {
    X509Certificate revoked = port.client("app");
    VolumeIoBlockingStub connected = port.io(revoked);
    VolumeIoBlockingStub other = port.io(port.client("app"));
    assertThat(connected.stat(stat()).getNamespace()).isEqualTo("app");

    String serial = CertificateAuthority.serialHex(revoked);
    port.revocations.update(RevocationList.newBuilder().addSerials(serial).setRevision(5).build());
    WriteRequest w =
        WriteRequest.newBuilder()
            .setVolumeId(VOLUME)
            .setEpoch(1)
            .setData(ByteString.copyFrom(bytes(4096, 3)))
            .build();
    refused(
        () -> connected.write(w), Status.Code.PERMISSION_DENIED, serial, "client:app", "revoked");
    refused(() -> connected.stat(stat()), Status.Code.PERMISSION_DENIED, "revoked");
    assertThat(port.store.volume(VOLUME).replica().read(0, 4096)).isEqualTo(bytes(4096, 0));
    assertThat(other.stat(stat()).getNamespace()).isEqualTo("app");
  }

  @Test
  void aRevokedNodeIsRefusedWhateverItsCertificateUntilReadmitted() throws Exception {
    ReplicaPeerBlockingStub first = port.peer(port.node("n1"));
    ReplicaPeerBlockingStub renewed = port.peer(port.node("n1"));
    assertThat(first.readIndex(readIndex()).getPrimaryNodeId()).isEqualTo("n2");

    port.revocations.update(RevocationList.newBuilder().addNodeIds("n1").setRevision(6).build());
    refused(
        () -> first.readIndex(readIndex()), Status.Code.PERMISSION_DENIED, "node n1 is revoked");
    refused(
        () -> renewed.readIndex(readIndex()), Status.Code.PERMISSION_DENIED, "node n1 is revoked");
    // A client whose namespace spells the node id is another identity: past the interceptor, the
    // volume's grants decide (it has none).
    refused(
        () -> port.io(port.client("n1")).stat(stat()), Status.Code.PERMISSION_DENIED, "not shared");

    port.revocations.update(RevocationList.newBuilder().setRevision(7).build());
    assertThat(first.readIndex(readIndex()).getPrimary()).isTrue();
  }
}
