//! Medicines and materials: create (idempotent), get, list, update by
//! mask, deactivate (never delete: the ledger references them).

use uuid::Uuid;

use super::{convert, page, parse};
use crate::Pharmacy;
use crate::domain::catalog;
use crate::store;
use crate::store::catalog::{MaterialFilter, MedicineFilter};
use malha_api::malha::pharmacy::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

fn id(raw: &str, field: &str) -> ServiceResult<Uuid> {
    let mut v = Violations::new();
    let id = v.uuid(raw, field);
    v.finish()?;
    Ok(id)
}

pub(super) async fn create_medicine(
    pharmacy: &Pharmacy,
    owner: &Owner,
    request: CreateMedicineRequest,
) -> ServiceResult<CreateMedicineResponse> {
    let mut v = Violations::new();
    let new = parse::new_medicine(&mut v, request.medicine.as_ref());
    let key = Key::new(
        owner,
        "CreateMedicine",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("medicine", "required"))?;
    key.once(&pharmacy.pool, async |tx| {
        let id = store::catalog::insert_medicine(tx, &new).await?;
        Ok(CreateMedicineResponse {
            medicine: Some(convert::medicine(
                store::catalog::medicine(&mut *tx, id).await?,
            )),
        })
    })
    .await
}

pub(super) async fn get_medicine(
    pharmacy: &Pharmacy,
    request: GetMedicineRequest,
) -> ServiceResult<GetMedicineResponse> {
    let id = id(&request.medicine_id, "medicine_id")?;
    Ok(GetMedicineResponse {
        medicine: Some(convert::medicine(
            store::catalog::medicine(&pharmacy.pool, id).await?,
        )),
    })
}

pub(super) async fn list_medicines(
    pharmacy: &Pharmacy,
    request: ListMedicinesRequest,
) -> ServiceResult<ListMedicinesResponse> {
    let mut v = Violations::new();
    let page = page(&mut v, request.page_size, &request.page_token);
    let query = parse::query(&mut v, &request.query, "query");
    v.finish()?;
    let filter = MedicineFilter {
        active: request.active,
        controlled: request.controlled,
        query,
    };
    let rows = store::catalog::list_medicines(&pharmacy.pool, &page, &filter).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListMedicinesResponse {
        medicines: rows.into_iter().map(convert::medicine).collect(),
        next_page_token,
    })
}

pub(super) async fn update_medicine(
    pharmacy: &Pharmacy,
    request: UpdateMedicineRequest,
) -> ServiceResult<UpdateMedicineResponse> {
    let mut v = Violations::new();
    let medicine = request.medicine.unwrap_or_else(|| {
        v.add("medicine", "required");
        Medicine::default()
    });
    let id = v.uuid(&medicine.id, "medicine.id");
    let mask = parse::MEDICINE_UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &medicine);
    let patch = parse::medicine_patch(&mut v, &medicine, &mask);
    v.finish()?;

    let mut tx = pharmacy.pool.begin().await?;
    store::catalog::update_medicine(&mut tx, id, &patch).await?;
    let row = store::catalog::medicine(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(UpdateMedicineResponse {
        medicine: Some(convert::medicine(row)),
    })
}

fn already_inactive(what: &str) -> ServiceError {
    ServiceError::precondition(
        "ALREADY_INACTIVE",
        format!("the {what} is already inactive"),
    )
}

pub(super) async fn deactivate_medicine(
    pharmacy: &Pharmacy,
    request: DeactivateMedicineRequest,
) -> ServiceResult<DeactivateMedicineResponse> {
    let id = id(&request.medicine_id, "medicine_id")?;
    let mut tx = pharmacy.pool.begin().await?;
    let active = store::catalog::lock_medicine(&mut tx, id).await?;
    catalog::deactivate(active).map_err(|_| already_inactive("medicine"))?;
    store::catalog::deactivate_medicine(&mut *tx, id).await?;
    let row = store::catalog::medicine(&mut *tx, id).await?;
    tx.commit().await?;
    tracing::info!(medicine = %id, "medicine deactivated");
    Ok(DeactivateMedicineResponse {
        medicine: Some(convert::medicine(row)),
    })
}

pub(super) async fn create_material(
    pharmacy: &Pharmacy,
    owner: &Owner,
    request: CreateMaterialRequest,
) -> ServiceResult<CreateMaterialResponse> {
    let mut v = Violations::new();
    let new = parse::new_material(&mut v, request.material.as_ref());
    let key = Key::new(
        owner,
        "CreateMaterial",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("material", "required"))?;
    key.once(&pharmacy.pool, async |tx| {
        let id = store::catalog::insert_material(tx, &new).await?;
        Ok(CreateMaterialResponse {
            material: Some(convert::material(
                store::catalog::material(&mut *tx, id).await?,
            )),
        })
    })
    .await
}

pub(super) async fn get_material(
    pharmacy: &Pharmacy,
    request: GetMaterialRequest,
) -> ServiceResult<GetMaterialResponse> {
    let id = id(&request.material_id, "material_id")?;
    Ok(GetMaterialResponse {
        material: Some(convert::material(
            store::catalog::material(&pharmacy.pool, id).await?,
        )),
    })
}

pub(super) async fn list_materials(
    pharmacy: &Pharmacy,
    request: ListMaterialsRequest,
) -> ServiceResult<ListMaterialsResponse> {
    let mut v = Violations::new();
    let page = page(&mut v, request.page_size, &request.page_token);
    let query = parse::query(&mut v, &request.query, "query");
    v.finish()?;
    let filter = MaterialFilter {
        active: request.active,
        query,
    };
    let rows = store::catalog::list_materials(&pharmacy.pool, &page, &filter).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListMaterialsResponse {
        materials: rows.into_iter().map(convert::material).collect(),
        next_page_token,
    })
}

pub(super) async fn update_material(
    pharmacy: &Pharmacy,
    request: UpdateMaterialRequest,
) -> ServiceResult<UpdateMaterialResponse> {
    let mut v = Violations::new();
    let material = request.material.unwrap_or_else(|| {
        v.add("material", "required");
        Material::default()
    });
    let id = v.uuid(&material.id, "material.id");
    let mask = parse::MATERIAL_UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &material);
    let patch = parse::material_patch(&mut v, &material, &mask);
    v.finish()?;

    let mut tx = pharmacy.pool.begin().await?;
    store::catalog::update_material(&mut tx, id, &patch).await?;
    let row = store::catalog::material(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(UpdateMaterialResponse {
        material: Some(convert::material(row)),
    })
}

pub(super) async fn deactivate_material(
    pharmacy: &Pharmacy,
    request: DeactivateMaterialRequest,
) -> ServiceResult<DeactivateMaterialResponse> {
    let id = id(&request.material_id, "material_id")?;
    let mut tx = pharmacy.pool.begin().await?;
    let active = store::catalog::lock_material(&mut tx, id).await?;
    catalog::deactivate(active).map_err(|_| already_inactive("material"))?;
    store::catalog::deactivate_material(&mut *tx, id).await?;
    let row = store::catalog::material(&mut *tx, id).await?;
    tx.commit().await?;
    tracing::info!(material = %id, "material deactivated");
    Ok(DeactivateMaterialResponse {
        material: Some(convert::material(row)),
    })
}
