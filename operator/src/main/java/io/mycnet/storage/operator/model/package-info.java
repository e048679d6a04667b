/**
 * The shared domain vocabulary of docs/architecture.md (Vocabulary) as plain Java types: data
 * classifications, trust tiers, trust factors, storage types, replication strategies, consistency
 * levels, node states and topology paths. Everything here is pure: no Kubernetes, etcd or gRPC
 * imports, so that the {@code trust} and {@code placement} packages can depend on it freely. The
 * protobuf enums in {@code grpc-api} and the CRD enums mirror these names one to one; adapters map
 * between them at the edges.
 */
package io.mycnet.storage.operator.model;
