package io.mycnet.storage.agent.data;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.agent.replica.ReplicaStore;
import io.mycnet.storage.agent.replica.VolumeReplica;
import io.mycnet.storage.agent.replication.Rebuilder;
import io.mycnet.storage.agent.replication.ReplicatedVolume;
import io.mycnet.storage.api.v1.AssignReplica;
import io.mycnet.storage.api.v1.AttachRequest;
import io.mycnet.storage.api.v1.AttachResponse;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.FlushResponse;
import io.mycnet.storage.api.v1.ReadChunkRequest;
import io.mycnet.storage.api.v1.ReadChunkResponse;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReadResponse;
import io.mycnet.storage.api.v1.ReplicaAck;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import io.mycnet.storage.api.v1.ReplicaReport;
import io.mycnet.storage.api.v1.ReplicaRole;
import io.mycnet.storage.api.v1.ReplicaWrite;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;
import io.mycnet.storage.common.settings.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's data port: mutual TLS (certificates of the control plane's CA only), serving {@code
 * VolumeIo} to clients (CN {@code client:<namespace>}) and {@code ReplicaPeer} to other agents (CN
 * = node id). The identity comes from the verified certificate, never from a message. Every call is
 * checked against the control plane's revocation list ({@link Revocations}): a revoked certificate
 * serial, or a node certificate of a revoked node id, is refused with PERMISSION_DENIED, also on
 * connections opened before the revocation (every RPC here is unary, so the per-call check ends a
 * revoked client's stream of calls at its next call).
 */
public final class DataServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DataServer.class);
  public static final int MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
  static final int MAX_IO_BYTES = 4 * 1024 * 1024;
  public static final String CLIENT_PREFIX = "client:";
  static final Context.Key<String> PEER = Context.key("mycnet-peer-cn");

  private final ReplicaStore store;
  private final String nodeId;
  private final ReplicaReporter reporter;
  private final Revocations revocations;
  private final ExecutorService executor;
  private Server server;

  /** Where reports of integrity faults go. */
  public interface ReplicaReporter {
    void report(ReplicaReport r);
  }

  public DataServer(
      ReplicaStore store, String nodeId, ReplicaReporter reporter, Revocations revocations) {
    this.store = store;
    this.nodeId = nodeId;
    this.reporter = reporter;
    this.revocations = revocations;
    this.executor =
        Executors.newFixedThreadPool(
            32,
            r -> {
              Thread t = new Thread(r, "data-port");
              t.setDaemon(true);
              return t;
            });
  }

  public DataServer start(String listen, IdentityKeys keys) throws IOException {
    HostPort at = HostPort.parseListen(listen);
    var tls =
        GrpcSslContexts.configure(SslContextBuilder.forServer(keys.keyManager()))
            .trustManager(keys.trustManager())
            .clientAuth(ClientAuth.REQUIRE)
            .build();
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress(at.host(), at.port()))
            .sslContext(tls)
            .executor(executor)
            .maxInboundMessageSize(MAX_MESSAGE_BYTES)
            .permitKeepAliveTime(10, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true)
            .addService(ServerInterceptors.intercept(new Io(), new Identity(revocations)))
            .addService(ServerInterceptors.intercept(new Peer(), new Identity(revocations)))
            .build()
            .start();
    return this;
  }

  public int port() {
    return server.getPort();
  }

  public static String commonName(X509Certificate cert) {
    var rdns =
        X500Name.getInstance(cert.getSubjectX500Principal().getEncoded()).getRDNs(BCStyle.CN);
    return rdns.length == 1 ? IETFUtils.valueToString(rdns[0].getFirst().getValue()) : null;
  }

  /**
   * The decision on one call's peer certificate: null to admit it, else the status to refuse it
   * with (UNAUTHENTICATED without a usable certificate, PERMISSION_DENIED when revoked).
   */
  static Status refusal(X509Certificate cert, Revocations revocations) {
    String cn = cert == null ? null : commonName(cert);
    if (cn == null) {
      return Status.UNAUTHENTICATED.withDescription("no client certificate");
    }
    String revoked = revocations.problem(cert, cn);
    if (revoked != null) {
      return Status.PERMISSION_DENIED.withDescription(
          revoked + ": the control plane revoked it; this data port refuses it");
    }
    return null;
  }

  /**
   * Refuses revoked identities and puts the CN of the verified peer certificate into the call's
   * context.
   */
  private static final class Identity implements ServerInterceptor {
    private final Revocations revocations;
    private final java.util.Set<String> logged = java.util.concurrent.ConcurrentHashMap.newKeySet();

    Identity(Revocations revocations) {
      this.revocations = revocations;
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
      SSLSession ssl = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
      X509Certificate cert = null;
      try {
        if (ssl != null && ssl.getPeerCertificates().length > 0) {
          cert = (X509Certificate) ssl.getPeerCertificates()[0];
        }
      } catch (SSLPeerUnverifiedException e) {
        cert = null;
      }
      Status refused = refusal(cert, revocations);
      if (refused != null) {
        if (refused.getCode() == Status.Code.PERMISSION_DENIED
            && logged.size() < 10_000
            && logged.add(refused.getDescription())) {
          // Once per refused identity: a revoked client retrying in a loop logs one line.
          LOG.warn(
              "refused {} on the data port: {}",
              call.getMethodDescriptor().getFullMethodName(),
              refused.getDescription());
        }
        call.close(refused, new Metadata());
        return new ServerCall.Listener<>() {};
      }
      return Contexts.interceptCall(
          Context.current().withValue(PEER, commonName(cert)), call, headers, next);
    }
  }

  private ReplicatedVolume volume(String volumeId) {
    if (ReplicaStore.volumeIdProblem(volumeId) != null) {
      throw Status.INVALID_ARGUMENT
          .withDescription("volume_id: " + ReplicaStore.volumeIdProblem(volumeId))
          .asRuntimeException();
    }
    ReplicatedVolume v = store.volume(volumeId);
    if (v == null) {
      throw ReplicatedVolume.notFound(volumeId);
    }
    return v;
  }

  private static void range(ReplicatedVolume v, long offset, long length) {
    String p = v.replica().rangeProblem(offset, length);
    if (p != null) {
      throw Status.INVALID_ARGUMENT.withDescription(p).asRuntimeException();
    }
    if (length > MAX_IO_BYTES) {
      throw Status.INVALID_ARGUMENT
          .withDescription("length " + length + " is more than the maximum of " + MAX_IO_BYTES)
          .asRuntimeException();
    }
  }

  /** The namespace of a client identity; PERMISSION_DENIED for anything else. */
  private static String clientNamespace() {
    String cn = PEER.get();
    if (cn == null || !cn.startsWith(CLIENT_PREFIX) || cn.length() == CLIENT_PREFIX.length()) {
      throw Status.PERMISSION_DENIED
          .withDescription(
              "volume I/O needs a client certificate (CN client:<namespace>); presented: " + cn)
          .asRuntimeException();
    }
    return cn.substring(CLIENT_PREFIX.length());
  }

  private static void access(ReplicatedVolume v, boolean write) {
    String ns = clientNamespace();
    String p = ReplicatedVolume.accessProblem(v.assignment(), ns, write);
    if (p != null) {
      throw (v.assignment() == null ? Status.UNAVAILABLE : Status.PERMISSION_DENIED)
          .withDescription(p)
          .asRuntimeException();
    }
  }

  private static <T> void run(StreamObserver<T> out, IoCall<T> call) {
    try {
      out.onNext(call.call());
      out.onCompleted();
    } catch (StatusRuntimeException e) {
      out.onError(e);
    } catch (VolumeReplica.CorruptBlockException e) {
      out.onError(Status.DATA_LOSS.withDescription(e.getMessage()).asRuntimeException());
    } catch (IOException e) {
      LOG.warn("I/O error: {}", e.toString());
      if (outOfSpace(e)) {
        // Overcommit is a promise about written bytes: when the file system holding the sparse
        // replicas really is full, the write is refused, nothing else breaks.
        out.onError(
            Status.RESOURCE_EXHAUSTED
                .withDescription("the node's data directory is full: " + e.getMessage())
                .asRuntimeException());
        return;
      }
      out.onError(
          Status.INTERNAL.withDescription("I/O error: " + e.getMessage()).asRuntimeException());
    }
  }

  /** True when {@code e} says the file system ran out of space (ENOSPC, EDQUOT). */
  static boolean outOfSpace(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null
          && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
        return true;
      }
    }
    return false;
  }

  private interface IoCall<T> {
    T call() throws IOException;
  }

  private void corrupt(ReplicatedVolume v, VolumeReplica.CorruptBlockException e) {
    reporter.report(
        ReplicaReport.newBuilder()
            .setVolumeId(v.replica().volumeId())
            .setEpoch(v.epoch())
            .setKind(ReplicaReport.Kind.INTEGRITY_FAULT)
            .setOffset(e.offset())
            .setMessage("read: " + e.getMessage())
            .build());
  }

  private final class Io extends VolumeIoGrpc.VolumeIoImplBase {
    @Override
    public void read(ReadRequest r, StreamObserver<ReadResponse> out) {
      run(
          out,
          () -> {
            ReplicatedVolume v = volume(r.getVolumeId());
            access(v, false);
            range(v, r.getOffset(), r.getLength());
            v.checkEpoch(r.getEpoch());
            // Never bytes older than an acknowledged write: a replica not in sync refuses.
            v.checkReadable();
            try {
              return ReadResponse.newBuilder()
                  .setData(
                      ByteString.copyFrom(v.replica().read(r.getOffset(), (int) r.getLength())))
                  .build();
            } catch (VolumeReplica.CorruptBlockException e) {
              corrupt(v, e);
              throw e;
            }
          });
    }

    @Override
    public void write(WriteRequest r, StreamObserver<WriteResponse> out) {
      run(
          out,
          () -> {
            ReplicatedVolume v = volume(r.getVolumeId());
            access(v, true);
            range(v, r.getOffset(), r.getData().size());
            v.checkEpoch(r.getEpoch());
            ReplicatedVolume.Written w =
                v.primaryWrite(r.getOffset(), r.getData().toByteArray(), 0);
            return WriteResponse.newBuilder()
                .setSequence(w.sequence())
                .setDurableReplicas(w.durable())
                .build();
          });
    }

    @Override
    public void trim(TrimRequest r, StreamObserver<WriteResponse> out) {
      run(
          out,
          () -> {
            ReplicatedVolume v = volume(r.getVolumeId());
            access(v, true);
            String p = v.replica().rangeProblem(r.getOffset(), r.getLength());
            if (p != null) {
              throw Status.INVALID_ARGUMENT.withDescription(p).asRuntimeException();
            }
            v.checkEpoch(r.getEpoch());
            ReplicatedVolume.Written w =
                r.getLength() == 0
                    ? new ReplicatedVolume.Written(v.appliedSequence(), 1)
                    : v.primaryWrite(r.getOffset(), null, r.getLength());
            return WriteResponse.newBuilder()
                .setSequence(w.sequence())
                .setDurableReplicas(w.durable())
                .build();
          });
    }

    @Override
    public void flush(FlushRequest r, StreamObserver<FlushResponse> out) {
      run(
          out,
          () -> {
            ReplicatedVolume v = volume(r.getVolumeId());
            access(v, true);
            v.checkEpoch(r.getEpoch());
            v.replica().sync();
            return FlushResponse.getDefaultInstance();
          });
    }

    @Override
    public void stat(StatRequest r, StreamObserver<VolumeStat> out) {
      run(
          out,
          () -> {
            ReplicatedVolume v = volume(r.getVolumeId());
            access(v, false);
            if (r.getEpoch() != 0) {
              v.checkEpoch(r.getEpoch());
            }
            AssignReplica a = v.assignment();
            Rebuilder rb = v.rebuild;
            VolumeStat.Builder b =
                VolumeStat.newBuilder()
                    .setVolumeId(r.getVolumeId())
                    .setEpoch(v.epoch())
                    .setSizeBytes(v.replica().sizeBytes())
                    .setPrimaryNodeId(a == null ? "" : a.getPrimaryNodeId())
                    .setRole(
                        rb != null
                            ? ReplicaRole.REPLICA_ROLE_REBUILDING
                            : v.isPrimary()
                                ? ReplicaRole.REPLICA_ROLE_PRIMARY
                                : ReplicaRole.REPLICA_ROLE_FOLLOWER)
                    .setConsistency(
                        a == null
                            ? io.mycnet.storage.api.v1.ConsistencyLevel
                                .CONSISTENCY_LEVEL_UNSPECIFIED
                            : a.getConsistency())
                    .setNamespace(a == null ? "" : a.getNamespace())
                    .setAppliedSequence(v.appliedSequence())
                    .addAllOutOfSync(v.outOfSync());
            if (rb != null) {
              b.setRebuildBytesDone(rb.bytesDone()).setRebuildBytesTotal(rb.bytesTotal());
            }
            return b.build();
          });
    }
  }

  private String peerNode() {
    String cn = PEER.get();
    if (cn == null || cn.startsWith(CLIENT_PREFIX)) {
      throw Status.PERMISSION_DENIED
          .withDescription("the replica protocol is for agents (node certificates) only")
          .asRuntimeException();
    }
    return cn;
  }

  private static void member(ReplicatedVolume v, String caller) {
    AssignReplica a = v.assignment();
    if (a == null
        || (!a.getPrimaryNodeId().equals(caller)
            && a.getPeersList().stream().noneMatch(m -> m.getNodeId().equals(caller)))) {
      throw Status.PERMISSION_DENIED
          .withDescription(
              "node " + caller + " holds no replica of " + v.replica().volumeId() + " here known")
          .asRuntimeException();
    }
  }

  private final class Peer extends ReplicaPeerGrpc.ReplicaPeerImplBase {
    @Override
    public void readIndex(ReadIndexRequest r, StreamObserver<ReadIndexResponse> out) {
      run(
          out,
          () -> {
            String caller = peerNode();
            ReplicatedVolume v = volume(r.getVolumeId());
            member(v, caller);
            return v.readIndex(caller);
          });
    }

    @Override
    public void apply(ReplicaWrite w, StreamObserver<ReplicaAck> out) {
      run(
          out,
          () -> {
            String caller = peerNode();
            ReplicatedVolume v = volume(w.getVolumeId());
            long len = w.getZeroLength() > 0 ? w.getZeroLength() : w.getData().size();
            String p = v.replica().rangeProblem(w.getOffset(), len);
            if (p != null) {
              throw Status.INVALID_ARGUMENT.withDescription(p).asRuntimeException();
            }
            return ReplicaAck.newBuilder().setAppliedSequence(v.apply(caller, w)).build();
          });
    }

    @Override
    public void attach(AttachRequest r, StreamObserver<AttachResponse> out) {
      run(
          out,
          () -> {
            String caller = peerNode();
            ReplicatedVolume v = volume(r.getVolumeId());
            if (r.getEpoch() < v.epoch()) {
              v.checkEpoch(r.getEpoch());
            }
            if (r.getEpoch() > v.epoch()) {
              throw Status.UNAVAILABLE
                  .withDescription(
                      "the primary has not learned epoch " + r.getEpoch() + " yet; retry shortly")
                  .asRuntimeException();
            }
            return AttachResponse.newBuilder().setFromSequence(v.attach(caller)).build();
          });
    }

    @Override
    public void readChunk(ReadChunkRequest r, StreamObserver<ReadChunkResponse> out) {
      run(
          out,
          () -> {
            String caller = peerNode();
            ReplicatedVolume v = volume(r.getVolumeId());
            member(v, caller);
            String p = v.replica().rangeProblem(r.getOffset(), r.getLength());
            if (p != null || r.getOffset() % VolumeReplica.BLOCK != 0) {
              throw Status.INVALID_ARGUMENT
                  .withDescription(p != null ? p : "offset must be a multiple of 4096")
                  .asRuntimeException();
            }
            v.awaitApplied(r.getMinSequence(), 10_000);
            int len = (int) Math.min(r.getLength(), VolumeReplica.CHUNK * 4L);
            if (!r.getHaveDigest().isEmpty()
                && Arrays.equals(
                    r.getHaveDigest().toByteArray(), v.replica().chunkDigest(r.getOffset(), len))) {
              return ReadChunkResponse.newBuilder().setUnchanged(true).build();
            }
            long[] entries = new long[(len + VolumeReplica.BLOCK - 1) / VolumeReplica.BLOCK];
            byte[] data;
            try {
              data = v.replica().readChunk(r.getOffset(), len, entries);
            } catch (VolumeReplica.CorruptBlockException e) {
              corrupt(v, e);
              throw e;
            }
            ReadChunkResponse.Builder b =
                ReadChunkResponse.newBuilder().setData(ByteString.copyFrom(data));
            for (long e : entries) {
              b.addBlockChecksums(e);
            }
            return b.build();
          });
    }
  }

  String nodeId() {
    return nodeId;
  }

  @Override
  public void close() {
    if (server != null) {
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    executor.shutdownNow();
  }
}
