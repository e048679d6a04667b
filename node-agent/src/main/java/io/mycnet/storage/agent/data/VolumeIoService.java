package io.mycnet.storage.agent.data;

import static io.mycnet.storage.agent.data.DataCalls.run;

import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.FlushRequest;
import io.mycnet.storage.api.v1.FlushResponse;
import io.mycnet.storage.api.v1.MapRequest;
import io.mycnet.storage.api.v1.MapResponse;
import io.mycnet.storage.api.v1.ReadRequest;
import io.mycnet.storage.api.v1.ReadResponse;
import io.mycnet.storage.api.v1.StatRequest;
import io.mycnet.storage.api.v1.TrimRequest;
import io.mycnet.storage.api.v1.VolumeIoGrpc;
import io.mycnet.storage.api.v1.VolumeStat;
import io.mycnet.storage.api.v1.WriteRequest;
import io.mycnet.storage.api.v1.WriteResponse;

/**
 * {@code VolumeIo} on the data port: the caller is the connection's verified certificate ({@code
 * client:<namespace>}, or an attached node's agent), the calls are {@link VolumeIoCalls}.
 */
final class VolumeIoService extends VolumeIoGrpc.VolumeIoImplBase {
  private final VolumeIoCalls io;

  VolumeIoService(DataCalls calls) {
    this.io = new VolumeIoCalls(calls);
  }

  private static VolumeIoCalls.Caller caller() {
    return VolumeIoCalls.Caller.of(CallerIdentity.PEER.get());
  }

  @Override
  public void read(ReadRequest r, StreamObserver<ReadResponse> out) {
    run(out, () -> io.read(caller(), r));
  }

  @Override
  public void write(WriteRequest r, StreamObserver<WriteResponse> out) {
    run(out, () -> io.write(caller(), r));
  }

  @Override
  public void trim(TrimRequest r, StreamObserver<WriteResponse> out) {
    run(out, () -> io.trim(caller(), r));
  }

  @Override
  public void flush(FlushRequest r, StreamObserver<FlushResponse> out) {
    run(out, () -> io.flush(caller(), r));
  }

  @Override
  public void map(MapRequest r, StreamObserver<MapResponse> out) {
    run(out, () -> io.map(caller(), r));
  }

  @Override
  public void stat(StatRequest r, StreamObserver<VolumeStat> out) {
    run(out, () -> io.stat(caller(), r));
  }
}
