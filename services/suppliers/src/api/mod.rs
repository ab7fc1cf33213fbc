//! gRPC handlers of `malha.suppliers.v1.SuppliersService`: decode, validate,
//! call the domain and the store, map errors. Grouped by concern:
//! [`suppliers`] (create, read, list, update), [`lifecycle`] (activate,
//! deactivate, delete), [`supplied`] (the products a supplier supplies).

mod convert;
mod lifecycle;
mod parse;
mod supplied;
mod suppliers;

use tonic::Request;

use crate::Suppliers;
use malha_api::malha::suppliers::v1::suppliers_service_server::SuppliersService;
use malha_api::malha::suppliers::v1::*;
use malha_kit::ServiceError;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;

use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

/// Parses the page fields, recording their violations with the others.
fn page(v: &mut Violations, page_size: i32, page_token: &str) -> PageRequest {
    match PageRequest::parse(page_size, page_token) {
        Ok(page) => page,
        Err(error) => {
            if let ServiceError::InvalidArgument(violations) = error {
                for violation in violations {
                    v.add(violation.field, violation.description);
                }
            }
            // Never queried: the recorded violations fail the request first.
            PageRequest {
                size: 1,
                after: None,
            }
        }
    }
}

#[tonic::async_trait]
impl SuppliersService for Suppliers {
    async fn create_supplier(
        &self,
        r: Request<CreateSupplierRequest>,
    ) -> Reply<CreateSupplierResponse> {
        reply(suppliers::create(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_supplier(&self, r: Request<GetSupplierRequest>) -> Reply<GetSupplierResponse> {
        reply(suppliers::get(self, r.into_inner()).await)
    }
    async fn list_suppliers(
        &self,
        r: Request<ListSuppliersRequest>,
    ) -> Reply<ListSuppliersResponse> {
        reply(suppliers::list(self, r.into_inner()).await)
    }
    async fn update_supplier(
        &self,
        r: Request<UpdateSupplierRequest>,
    ) -> Reply<UpdateSupplierResponse> {
        reply(suppliers::update(self, r.into_inner()).await)
    }
    async fn delete_supplier(
        &self,
        r: Request<DeleteSupplierRequest>,
    ) -> Reply<DeleteSupplierResponse> {
        reply(lifecycle::delete(self, r.into_inner()).await)
    }
    async fn deactivate_supplier(
        &self,
        r: Request<DeactivateSupplierRequest>,
    ) -> Reply<DeactivateSupplierResponse> {
        reply(lifecycle::deactivate(self, r.into_inner()).await)
    }
    async fn activate_supplier(
        &self,
        r: Request<ActivateSupplierRequest>,
    ) -> Reply<ActivateSupplierResponse> {
        reply(lifecycle::activate(self, r.into_inner()).await)
    }
    async fn add_supplied_product(
        &self,
        r: Request<AddSuppliedProductRequest>,
    ) -> Reply<AddSuppliedProductResponse> {
        reply(supplied::add(self, r.into_inner()).await)
    }
    async fn remove_supplied_product(
        &self,
        r: Request<RemoveSuppliedProductRequest>,
    ) -> Reply<RemoveSuppliedProductResponse> {
        reply(supplied::remove(self, r.into_inner()).await)
    }
    async fn list_supplied_products(
        &self,
        r: Request<ListSuppliedProductsRequest>,
    ) -> Reply<ListSuppliedProductsResponse> {
        reply(supplied::list(self, r.into_inner()).await)
    }
}
