//! gRPC handlers of `malha.inventory.v1.InventoryService`.

mod convert;
mod movements;
mod products;

use tonic::Request;

use crate::Inventory;
use malha_api::malha::inventory::v1::inventory_service_server::InventoryService;
use malha_api::malha::inventory::v1::*;
use malha_kit::auth;

use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

#[tonic::async_trait]
impl InventoryService for Inventory {
    async fn create_product(
        &self,
        r: Request<CreateProductRequest>,
    ) -> Reply<CreateProductResponse> {
        reply(products::create(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_product(&self, r: Request<GetProductRequest>) -> Reply<GetProductResponse> {
        reply(products::get(self, r.into_inner()).await)
    }
    async fn list_products(&self, r: Request<ListProductsRequest>) -> Reply<ListProductsResponse> {
        reply(products::list(self, r.into_inner()).await)
    }
    async fn update_product(
        &self,
        r: Request<UpdateProductRequest>,
    ) -> Reply<UpdateProductResponse> {
        reply(products::update(self, r.into_inner()).await)
    }
    async fn delete_product(
        &self,
        r: Request<DeleteProductRequest>,
    ) -> Reply<DeleteProductResponse> {
        reply(products::delete(self, r.into_inner()).await)
    }
    async fn record_movement(
        &self,
        r: Request<RecordMovementRequest>,
    ) -> Reply<RecordMovementResponse> {
        let actor = auth::caller(&r)
            .map(|p| format!("user:{}", p.subject))
            .unwrap_or_default();
        reply(movements::record(self, &Owner::of(&r), r.into_inner(), &actor).await)
    }
    async fn list_movements(
        &self,
        r: Request<ListMovementsRequest>,
    ) -> Reply<ListMovementsResponse> {
        reply(movements::list(self, r.into_inner()).await)
    }
    async fn list_shortages(
        &self,
        r: Request<ListShortagesRequest>,
    ) -> Reply<ListShortagesResponse> {
        reply(movements::shortages(self, r.into_inner()).await)
    }
}
