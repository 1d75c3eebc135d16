//! Strait's wire contracts, generated from `proto/` by prost + tonic.
//!
//! These types stay at the edge: handlers convert them to the domain types of `strait-coordinator`
//! and back, nothing deeper uses them.

/// The public control API, version 1.
pub mod v1 {
    tonic::include_proto!("strait.v1");
}

/// The node-to-node Raft transport.
pub mod raft {
    pub mod v1 {
        tonic::include_proto!("strait.raft.v1");
    }
}

/// The encoded `FileDescriptorSet` of every proto above, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("strait_descriptor");
