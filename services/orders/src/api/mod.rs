//! gRPC handlers of `malha.orders.v1.OrdersService`.

mod categories;
mod convert;
mod place;
mod products;
mod read;
mod status;
mod watch;

use tonic::Request;

use crate::Orders;
use crate::domain::visibility::{Placed, Viewer};
use crate::store::orders::OrderRow;
use malha_api::malha::orders::v1::orders_service_server::OrdersService;
use malha_api::malha::orders::v1::*;
use malha_kit::auth::{self, Principal};
use malha_kit::{ServiceError, ServiceResult};

use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

/// How the history names a caller: `customer:<id>`, `user:<id>`...
fn actor(principal: &Principal) -> String {
    format!("{}:{}", principal.kind.as_str(), principal.subject)
}

/// Staff see and move every order.
fn is_staff(principal: &Principal) -> bool {
    crate::PERMISSIONS.allows(&principal.roles, "orders.manage")
}

/// The caller as the visibility rules see it.
fn viewer(principal: &Principal) -> Viewer<'_> {
    Viewer::of(
        is_staff(principal),
        &principal.subject,
        &principal.roles,
        &principal.session_id,
    )
}

/// An order the caller may not see is NOT_FOUND to them (see
/// [`crate::domain::visibility`]).
fn ensure_visible(principal: &Principal, order: &OrderRow) -> ServiceResult<()> {
    let placed = Placed {
        customer: &order.customer_id,
        session: order.session_id.as_deref(),
    };
    if viewer(principal).may_see(placed) {
        Ok(())
    } else {
        Err(ServiceError::NotFound { resource: "order" })
    }
}

#[tonic::async_trait]
impl OrdersService for Orders {
    async fn create_category(
        &self,
        r: Request<CreateCategoryRequest>,
    ) -> Reply<CreateCategoryResponse> {
        reply(categories::create(self, &Owner::of(&r), r.into_inner()).await)
    }

    async fn list_categories(
        &self,
        _r: Request<ListCategoriesRequest>,
    ) -> Reply<ListCategoriesResponse> {
        reply(categories::list(self).await)
    }

    async fn update_category(
        &self,
        r: Request<UpdateCategoryRequest>,
    ) -> Reply<UpdateCategoryResponse> {
        reply(categories::update(self, r.into_inner()).await)
    }

    async fn delete_category(
        &self,
        r: Request<DeleteCategoryRequest>,
    ) -> Reply<DeleteCategoryResponse> {
        reply(categories::delete(self, r.into_inner()).await)
    }

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

    async fn set_product_availability(
        &self,
        r: Request<SetProductAvailabilityRequest>,
    ) -> Reply<SetProductAvailabilityResponse> {
        reply(products::set_availability(self, r.into_inner()).await)
    }

    async fn get_menu(&self, _r: Request<GetMenuRequest>) -> Reply<GetMenuResponse> {
        reply(products::menu(self).await)
    }

    async fn create_order(&self, r: Request<CreateOrderRequest>) -> Reply<CreateOrderResponse> {
        let caller = auth::caller(&r)?;
        reply(place::create(self, r.into_inner(), &caller).await)
    }

    async fn get_order(&self, r: Request<GetOrderRequest>) -> Reply<GetOrderResponse> {
        let caller = auth::caller(&r)?;
        reply(read::get(self, r.into_inner(), &caller).await)
    }

    async fn list_orders(&self, r: Request<ListOrdersRequest>) -> Reply<ListOrdersResponse> {
        let caller = auth::caller(&r)?;
        reply(read::list(self, r.into_inner(), &caller).await)
    }

    async fn request_payment(
        &self,
        r: Request<RequestPaymentRequest>,
    ) -> Reply<RequestPaymentResponse> {
        let caller = auth::caller(&r)?;
        reply(place::request_payment(self, r.into_inner(), &caller).await)
    }

    async fn update_order_status(
        &self,
        r: Request<UpdateOrderStatusRequest>,
    ) -> Reply<UpdateOrderStatusResponse> {
        let caller = auth::caller(&r)?;
        reply(status::update(self, r.into_inner(), &caller).await)
    }

    async fn cancel_order(&self, r: Request<CancelOrderRequest>) -> Reply<CancelOrderResponse> {
        let caller = auth::caller(&r)?;
        reply(status::cancel(self, r.into_inner(), &caller).await)
    }

    type WatchOrderStream = watch::WatchStream;

    async fn watch_order(&self, r: Request<WatchOrderRequest>) -> Reply<Self::WatchOrderStream> {
        let caller = auth::caller(&r)?;
        reply(watch::open(self, r.into_inner(), &caller).await)
    }

    async fn list_kitchen_orders(
        &self,
        r: Request<ListKitchenOrdersRequest>,
    ) -> Reply<ListKitchenOrdersResponse> {
        reply(read::kitchen(self, r.into_inner()).await)
    }
}
