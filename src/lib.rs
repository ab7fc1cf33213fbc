//! The Malha contract: Rust types and gRPC stubs generated from `proto/`, and
//! the descriptor set (with imports and comments) that server reflection, the
//! authorization rules, the JSON edge, OpenAPI and Envoy are derived from.

pub use prost;
pub use tonic;

/// The `FileDescriptorSet` of every `.proto` in `proto/`, imports included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/malha_descriptor.bin"));

/// `google.api` HTTP annotations, written in-house.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

/// Malha's own packages, one module per `malha.<service>.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod malha {
    pub mod auth {
        pub mod v1 {
            tonic::include_proto!("malha.auth.v1");
        }
    }
    pub mod identity {
        pub mod v1 {
            tonic::include_proto!("malha.identity.v1");
        }
    }
}

pub use malha::identity::v1 as identity;

#[cfg(test)]
mod tests {
    use prost::Message;

    #[test]
    fn descriptor_set_decodes_and_holds_every_service_with_its_imports() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set written by build.rs decodes");
        let files: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        for needed in [
            "google/api/annotations.proto",
            "google/api/http.proto",
            "google/protobuf/descriptor.proto",
            "google/protobuf/timestamp.proto",
            "malha/auth/v1/options.proto",
            "malha/identity/v1/identity.proto",
            "google/rpc/status.proto",
            "google/rpc/error_details.proto",
        ] {
            assert!(files.contains(&needed), "{needed} missing from {files:?}");
        }
        let identity = set
            .file
            .iter()
            .find(|f| f.name() == "malha/identity/v1/identity.proto")
            .unwrap();
        assert_eq!(identity.service[0].name(), "IdentityService");
        assert!(
            identity.source_code_info.is_some(),
            "comments are kept for OpenAPI and reflection"
        );
    }
}
