//! gRPC handlers of `malha.queue.v1.QueueService`: decode, validate, call
//! the domain and the store, map errors. [`places`] holds the admin CRUD of
//! units, services and desks.

mod convert;
mod parse;
mod places;

use tonic::Request;

use crate::Queue;
use malha_api::malha::queue::v1::queue_service_server::QueueService;
use malha_api::malha::queue::v1::*;
use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

#[tonic::async_trait]
impl QueueService for Queue {
    async fn create_unit(&self, r: Request<CreateUnitRequest>) -> Reply<CreateUnitResponse> {
        reply(places::create_unit(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_unit(&self, r: Request<GetUnitRequest>) -> Reply<GetUnitResponse> {
        reply(places::get_unit(self, r.into_inner()).await)
    }
    async fn list_units(&self, r: Request<ListUnitsRequest>) -> Reply<ListUnitsResponse> {
        reply(places::list_units(self, r.into_inner()).await)
    }
    async fn update_unit(&self, r: Request<UpdateUnitRequest>) -> Reply<UpdateUnitResponse> {
        reply(places::update_unit(self, r.into_inner()).await)
    }
    async fn create_service(
        &self,
        r: Request<CreateServiceRequest>,
    ) -> Reply<CreateServiceResponse> {
        reply(places::create_service(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn list_services(&self, r: Request<ListServicesRequest>) -> Reply<ListServicesResponse> {
        reply(places::list_services(self, r.into_inner()).await)
    }
    async fn update_service(
        &self,
        r: Request<UpdateServiceRequest>,
    ) -> Reply<UpdateServiceResponse> {
        reply(places::update_service(self, r.into_inner()).await)
    }
    async fn create_desk(&self, r: Request<CreateDeskRequest>) -> Reply<CreateDeskResponse> {
        reply(places::create_desk(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn list_desks(&self, r: Request<ListDesksRequest>) -> Reply<ListDesksResponse> {
        reply(places::list_desks(self, r.into_inner()).await)
    }
    async fn update_desk(&self, r: Request<UpdateDeskRequest>) -> Reply<UpdateDeskResponse> {
        reply(places::update_desk(self, r.into_inner()).await)
    }
}
