//! Compiles `proto/` into Rust (prost + tonic) and writes the descriptor set
//! (with imports and source info) that reflection, the edge, OpenAPI and
//! Envoy read. protoc comes from `protoc-bin-vendored`: no system protoc.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new("proto");
    let mut protos = Vec::new();
    collect_protos(&proto_root.join("malha"), &mut protos)?;
    // Error-model types go into the descriptor set so grpcurl, the edge and
    // Envoy can decode error details.
    collect_protos(&proto_root.join("google/rpc"), &mut protos)?;
    protos.sort();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    let well_known = protoc_bin_vendored::include_path()?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("malha_descriptor.bin"))
        .emit_rerun_if_changed(false)
        .compile_with_config(config, &protos, &[proto_root.to_path_buf(), well_known])?;

    println!("cargo:rerun-if-changed=proto");
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
