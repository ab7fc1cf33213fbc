//! Compiles `proto/` into Rust (prost + tonic) and writes the descriptor set
//! (with imports and source info) that reflection, the edge, OpenAPI and
//! Envoy read. protoc comes from `protoc-bin-vendored`: no system protoc.
//! Servers decode requests with `crate::codec::CheckedCodec`, and every
//! message gets a generated `CheckFields` impl (`checks.rs` in OUT_DIR) that
//! walks its strings and timestamps, so no handler can forget to check them.

use std::path::{Path, PathBuf};

use prost::Message;

#[path = "build/checks.rs"]
mod checks;

/// Client stubs from one generator, server stubs from the other.
struct ClientsAndServers {
    clients: Box<dyn prost_build::ServiceGenerator>,
    servers: Box<dyn prost_build::ServiceGenerator>,
}

impl prost_build::ServiceGenerator for ClientsAndServers {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        self.clients.generate(service.clone(), buf);
        self.servers.generate(service, buf);
    }
    fn finalize(&mut self, buf: &mut String) {
        self.clients.finalize(buf);
        self.servers.finalize(buf);
    }
    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        self.clients.finalize_package(package, buf);
        self.servers.finalize_package(package, buf);
    }
}

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
    let descriptor_path = out_dir.join("malha_descriptor.bin");
    config.file_descriptor_set_path(&descriptor_path);
    config.type_attribute(".", "#[allow(clippy::all)]");
    // Clients decode responses as they come (plain prost); servers decode
    // requests with the checking codec. One tonic generator cannot do both,
    // so two write into the same files.
    config.service_generator(Box::new(ClientsAndServers {
        clients: tonic_prost_build::configure()
            .build_server(false)
            .emit_rerun_if_changed(false)
            .service_generator(),
        servers: tonic_prost_build::configure()
            .build_client(false)
            .emit_rerun_if_changed(false)
            .codec_path("crate::codec::CheckedCodec")
            .service_generator(),
    }));
    config.compile_protos(&protos, &[proto_root.to_path_buf(), well_known])?;

    write_module_tree(&out_dir)?;
    let set = prost_types::FileDescriptorSet::decode(&*std::fs::read(&descriptor_path)?)?;
    std::fs::write(out_dir.join("checks.rs"), checks::generate(&set))?;
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
            && package != "checks"
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
