package io.mycnet.storage.csi;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import java.util.concurrent.TimeUnit;

/** A channel that also shuts down the event loop it alone uses. */
final class OwningChannel extends ManagedChannel {
  private final ManagedChannel delegate;
  private final EventLoopGroup group;

  OwningChannel(ManagedChannel delegate, EventLoopGroup group) {
    this.delegate = delegate;
    this.group = group;
  }

  @Override
  public ManagedChannel shutdown() {
    delegate.shutdown();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    return this;
  }

  @Override
  public boolean isShutdown() {
    return delegate.isShutdown();
  }

  @Override
  public boolean isTerminated() {
    return delegate.isTerminated();
  }

  @Override
  public ManagedChannel shutdownNow() {
    delegate.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    return this;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return delegate.awaitTermination(timeout, unit);
  }

  @Override
  public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
    return delegate.newCall(method, options);
  }

  @Override
  public String authority() {
    return delegate.authority();
  }
}
