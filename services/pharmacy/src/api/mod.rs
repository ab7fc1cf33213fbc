//! gRPC handlers of `malha.pharmacy.v1.PharmacyService`: decode, validate,
//! call the domain and the store, map errors. Grouped by concern:
//! [`catalog`] (medicines, materials), [`dispensers`] (cabinets, pockets,
//! QR codes), [`stock`] (movements, where an item is, the audit).

mod catalog;
pub(crate) mod convert;
mod dispensers;
mod parse;
mod stock;

use tonic::Request;

use crate::Pharmacy;
use malha_api::google::api::HttpBody;
use malha_api::malha::pharmacy::v1::pharmacy_service_server::PharmacyService;
use malha_api::malha::pharmacy::v1::*;
use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;

/// Parses the page fields, recording their violations with the others.
fn page(v: &mut Violations, page_size: i32, page_token: &str) -> PageRequest {
    PageRequest::parse_into(v, page_size, page_token)
}

#[tonic::async_trait]
impl PharmacyService for Pharmacy {
    async fn create_medicine(
        &self,
        r: Request<CreateMedicineRequest>,
    ) -> Reply<CreateMedicineResponse> {
        reply(catalog::create_medicine(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_medicine(&self, r: Request<GetMedicineRequest>) -> Reply<GetMedicineResponse> {
        reply(catalog::get_medicine(self, r.into_inner()).await)
    }
    async fn list_medicines(
        &self,
        r: Request<ListMedicinesRequest>,
    ) -> Reply<ListMedicinesResponse> {
        reply(catalog::list_medicines(self, r.into_inner()).await)
    }
    async fn update_medicine(
        &self,
        r: Request<UpdateMedicineRequest>,
    ) -> Reply<UpdateMedicineResponse> {
        reply(catalog::update_medicine(self, r.into_inner()).await)
    }
    async fn deactivate_medicine(
        &self,
        r: Request<DeactivateMedicineRequest>,
    ) -> Reply<DeactivateMedicineResponse> {
        reply(catalog::deactivate_medicine(self, r.into_inner()).await)
    }
    async fn create_material(
        &self,
        r: Request<CreateMaterialRequest>,
    ) -> Reply<CreateMaterialResponse> {
        reply(catalog::create_material(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_material(&self, r: Request<GetMaterialRequest>) -> Reply<GetMaterialResponse> {
        reply(catalog::get_material(self, r.into_inner()).await)
    }
    async fn list_materials(
        &self,
        r: Request<ListMaterialsRequest>,
    ) -> Reply<ListMaterialsResponse> {
        reply(catalog::list_materials(self, r.into_inner()).await)
    }
    async fn update_material(
        &self,
        r: Request<UpdateMaterialRequest>,
    ) -> Reply<UpdateMaterialResponse> {
        reply(catalog::update_material(self, r.into_inner()).await)
    }
    async fn deactivate_material(
        &self,
        r: Request<DeactivateMaterialRequest>,
    ) -> Reply<DeactivateMaterialResponse> {
        reply(catalog::deactivate_material(self, r.into_inner()).await)
    }
    async fn create_dispenser(
        &self,
        r: Request<CreateDispenserRequest>,
    ) -> Reply<CreateDispenserResponse> {
        reply(dispensers::create(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_dispenser(&self, r: Request<GetDispenserRequest>) -> Reply<GetDispenserResponse> {
        reply(dispensers::get(self, r.into_inner()).await)
    }
    async fn list_dispensers(
        &self,
        r: Request<ListDispensersRequest>,
    ) -> Reply<ListDispensersResponse> {
        reply(dispensers::list(self, r.into_inner()).await)
    }
    async fn update_dispenser(
        &self,
        r: Request<UpdateDispenserRequest>,
    ) -> Reply<UpdateDispenserResponse> {
        reply(dispensers::update(self, r.into_inner()).await)
    }
    async fn set_pocket(&self, r: Request<SetPocketRequest>) -> Reply<SetPocketResponse> {
        reply(dispensers::set_pocket(self, r.into_inner()).await)
    }
    async fn record_movement(
        &self,
        r: Request<RecordMovementRequest>,
    ) -> Reply<RecordMovementResponse> {
        reply(stock::record(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn list_movements(
        &self,
        r: Request<ListMovementsRequest>,
    ) -> Reply<ListMovementsResponse> {
        reply(stock::list(self, r.into_inner()).await)
    }
    async fn find_item(&self, r: Request<FindItemRequest>) -> Reply<FindItemResponse> {
        reply(stock::find_item(self, r.into_inner()).await)
    }
    async fn get_dispenser_qr(&self, r: Request<GetDispenserQrRequest>) -> Reply<HttpBody> {
        reply(dispensers::qr_image(self, r.into_inner()).await)
    }
    async fn resolve_qr(&self, r: Request<ResolveQrRequest>) -> Reply<ResolveQrResponse> {
        reply(dispensers::resolve_qr(self, r.into_inner()).await)
    }
    async fn verify_audit(&self, _r: Request<VerifyAuditRequest>) -> Reply<VerifyAuditResponse> {
        reply(stock::verify_audit(self).await)
    }
}
