//! Generates the prost + tonic code for Strait's protos with a vendored protoc, so that no system
//! protoc is needed. PROTOC is set for this build script only: raft-proto's own build needs protoc 3.x
//! and must not see it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let protos = [
        "proto/strait/v1/status.proto",
        "proto/strait/v1/cluster.proto",
        "proto/strait/v1/flows.proto",
        "proto/strait/v1/partitions.proto",
        "proto/strait/v1/offsets.proto",
        "proto/strait/v1/config.proto",
        "proto/strait/v1/verify.proto",
        "proto/strait/v1/cutover.proto",
        "proto/strait/raft/v1/raft.proto",
        "proto/strait/raft/v1/state.proto",
    ];
    let descriptor =
        std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("strait_descriptor.bin");
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor)
        // The CLI prints responses as JSON with `--output json`.
        .type_attribute(".strait.v1", "#[derive(serde::Serialize)]")
        .compile_protos(&protos, &["proto"])?;
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
