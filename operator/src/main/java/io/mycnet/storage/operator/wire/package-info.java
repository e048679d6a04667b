/**
 * The edge between the domain model ({@code operator.model}) and the wire types generated from
 * {@code grpc-api}'s protos: one mapping per vocabulary type, total in both directions, with an
 * {@code UNSPECIFIED} wire value rejected by a message a caller can act on.
 */
package io.mycnet.storage.operator.wire;
