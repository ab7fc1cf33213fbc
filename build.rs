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
    // `prost::Name` on every message: event types are named by their full name.
    config.enable_type_names();

    let well_known = protoc_bin_vendored::include_path()?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("malha_descriptor.bin"))
        .emit_rerun_if_changed(false)
        .compile_with_config(config, &protos, &[proto_root.to_path_buf(), well_known])?;

    write_module_tree(&out_dir)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}

/// Writes nested `pub mod` blocks, one per package prost generated code for
/// (`<package>.rs` in OUT_DIR); so adding a `.proto` needs no Rust edit.
fn write_module_tree(out_dir: &Path) -> std::io::Result<()> {
    use std::collections::BTreeSet;
    let mut packages = BTreeSet::new();
    for entry in std::fs::read_dir(out_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(package) = name.strip_suffix(".rs")
            && package != "packages"
        {
            packages.insert(package.to_owned());
        }
    }
    #[derive(Default)]
    struct Node {
        children: std::collections::BTreeMap<String, Node>,
        package: Option<String>,
    }
    let mut root = Node::default();
    for package in &packages {
        let mut node = &mut root;
        for part in package.split('.') {
            node = node.children.entry(part.to_owned()).or_default();
        }
        node.package = Some(package.clone());
    }
    fn render(node: &Node, depth: usize, out: &mut String) {
        let pad = "    ".repeat(depth);
        if let Some(package) = &node.package {
            out.push_str(&format!(
                "{pad}include!(concat!(env!(\"OUT_DIR\"), \"/{package}.rs\"));\n"
            ));
        }
        for (name, child) in &node.children {
            out.push_str(&format!("{pad}pub mod {name} {{\n"));
            render(child, depth + 1, out);
            out.push_str(&format!("{pad}}}\n"));
        }
    }
    let mut text = String::new();
    render(&root, 0, &mut text);
    std::fs::write(out_dir.join("packages.rs"), text)
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
