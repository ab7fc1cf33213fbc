//! Create, read, list and update units, services and desks.

use super::{convert, parse};
use crate::Queue;
use crate::store;
use malha_api::malha::queue::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn create_unit(
    queue: &Queue,
    owner: &Owner,
    request: CreateUnitRequest,
) -> ServiceResult<CreateUnitResponse> {
    let mut v = Violations::new();
    let new = parse::new_unit(&mut v, request.unit.as_ref());
    let key = Key::new(
        owner,
        "CreateUnit",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("unit", "required"))?;
    key.once(&queue.pool, async |tx| {
        let id = store::units::insert(tx, &new).await?;
        Ok(CreateUnitResponse {
            unit: Some(convert::unit(store::units::get(tx, id).await?)),
        })
    })
    .await
}

pub(super) async fn get_unit(
    queue: &Queue,
    request: GetUnitRequest,
) -> ServiceResult<GetUnitResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.unit_id, "unit_id");
    v.finish()?;
    Ok(GetUnitResponse {
        unit: Some(convert::unit(store::units::get(&queue.pool, id).await?)),
    })
}

pub(super) async fn list_units(
    queue: &Queue,
    request: ListUnitsRequest,
) -> ServiceResult<ListUnitsResponse> {
    let mut v = Violations::new();
    let page = parse::page(&mut v, request.page_size, &request.page_token);
    v.finish()?;
    let rows = store::units::list(&queue.pool, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListUnitsResponse {
        units: rows.into_iter().map(convert::unit).collect(),
        next_page_token,
    })
}

pub(super) async fn update_unit(
    queue: &Queue,
    request: UpdateUnitRequest,
) -> ServiceResult<UpdateUnitResponse> {
    let mut v = Violations::new();
    let unit = request.unit.unwrap_or_else(|| {
        v.add("unit", "required");
        Unit::default()
    });
    let id = v.uuid(&unit.id, "unit.id");
    let mask = parse::UNIT_UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &unit);
    let patch = parse::unit_patch(&mut v, &unit, &mask);
    v.finish()?;
    store::units::update(&queue.pool, id, &patch).await?;
    Ok(UpdateUnitResponse {
        unit: Some(convert::unit(store::units::get(&queue.pool, id).await?)),
    })
}

pub(super) async fn create_service(
    queue: &Queue,
    owner: &Owner,
    request: CreateServiceRequest,
) -> ServiceResult<CreateServiceResponse> {
    let mut v = Violations::new();
    let new = parse::new_service(&mut v, request.service.as_ref());
    let key = Key::new(
        owner,
        "CreateService",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("service", "required"))?;
    key.once(&queue.pool, async |tx| {
        let id = store::services::insert(tx, &new).await?;
        Ok(CreateServiceResponse {
            service: Some(convert::service(store::services::get(tx, id).await?)),
        })
    })
    .await
}

pub(super) async fn list_services(
    queue: &Queue,
    request: ListServicesRequest,
) -> ServiceResult<ListServicesResponse> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    let page = parse::page(&mut v, request.page_size, &request.page_token);
    v.finish()?;
    // NOT_FOUND for a unit that is not there, rather than an empty list.
    store::units::get(&queue.pool, unit_id).await?;
    let rows = store::services::list(&queue.pool, unit_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.letter.clone());
    Ok(ListServicesResponse {
        services: rows.into_iter().map(convert::service).collect(),
        next_page_token,
    })
}

pub(super) async fn update_service(
    queue: &Queue,
    request: UpdateServiceRequest,
) -> ServiceResult<UpdateServiceResponse> {
    let mut v = Violations::new();
    let service = request.service.unwrap_or_else(|| {
        v.add("service", "required");
        Service::default()
    });
    let id = v.uuid(&service.id, "service.id");
    let mask = parse::SERVICE_UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &service);
    let patch = parse::service_patch(&mut v, &service, &mask);
    v.finish()?;
    store::services::update(&queue.pool, id, &patch).await?;
    Ok(UpdateServiceResponse {
        service: Some(convert::service(
            store::services::get(&queue.pool, id).await?,
        )),
    })
}

pub(super) async fn create_desk(
    queue: &Queue,
    owner: &Owner,
    request: CreateDeskRequest,
) -> ServiceResult<CreateDeskResponse> {
    let mut v = Violations::new();
    let new = parse::new_desk(&mut v, request.desk.as_ref());
    let key = Key::new(
        owner,
        "CreateDesk",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("desk", "required"))?;
    key.once(&queue.pool, async |tx| {
        let id = store::desks::insert(tx, &new).await?;
        Ok(CreateDeskResponse {
            desk: Some(convert::desk(store::desks::get(tx, id).await?)),
        })
    })
    .await
}

pub(super) async fn list_desks(
    queue: &Queue,
    request: ListDesksRequest,
) -> ServiceResult<ListDesksResponse> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    let page = parse::page(&mut v, request.page_size, &request.page_token);
    v.finish()?;
    store::units::get(&queue.pool, unit_id).await?;
    let rows = store::desks::list(&queue.pool, unit_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.name.clone());
    Ok(ListDesksResponse {
        desks: rows.into_iter().map(convert::desk).collect(),
        next_page_token,
    })
}

pub(super) async fn update_desk(
    queue: &Queue,
    request: UpdateDeskRequest,
) -> ServiceResult<UpdateDeskResponse> {
    let mut v = Violations::new();
    let desk = request.desk.unwrap_or_else(|| {
        v.add("desk", "required");
        Desk::default()
    });
    let id = v.uuid(&desk.id, "desk.id");
    let mask = parse::DESK_UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &desk);
    let patch = parse::desk_patch(&mut v, &desk, &mask);
    v.finish()?;
    let mut tx = queue.pool.begin().await?;
    store::desks::update(&mut tx, id, &patch).await?;
    let row = store::desks::get(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(UpdateDeskResponse {
        desk: Some(convert::desk(row)),
    })
}
