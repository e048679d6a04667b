package io.mycnet.storage.operator.placement;

/** A rebuild planned but held back by throttling; {@code reason} names the limit reached. */
public record DeferredRebuild(RebuildTask task, String reason) {}
