//! Cabinets and their pockets: create (idempotent), get, list, update by
//! mask (a retired cabinet stays retired), SetPocket, and the QR code that
//! names a cabinet: its image and reading it back.

use uuid::Uuid;

use super::{convert, page, parse};
use crate::Pharmacy;
use crate::domain::{DispenserStatus, catalog, qr, stock};
use crate::qr_image::{self, QrFormat};
use crate::store::{self, dispensers::Filter};
use malha_api::google::api::HttpBody;
use malha_api::malha::pharmacy::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::stored::StoredName;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// The cabinet `id` with its pockets, as answered.
pub(super) async fn read(
    pharmacy: &Pharmacy,
    db: &mut sqlx::PgConnection,
    id: Uuid,
) -> ServiceResult<Dispenser> {
    let dispenser = store::dispensers::get(&mut *db, id).await?;
    let pockets = store::dispensers::pockets_of(&mut *db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(convert::dispenser(
        dispenser,
        pockets,
        &pharmacy.qr_base_url,
    ))
}

fn dispenser_id(raw: &str) -> ServiceResult<Uuid> {
    let mut v = Violations::new();
    let id = v.uuid(raw, "dispenser_id");
    v.finish()?;
    Ok(id)
}

pub(super) async fn create(
    pharmacy: &Pharmacy,
    owner: &Owner,
    request: CreateDispenserRequest,
) -> ServiceResult<CreateDispenserResponse> {
    let mut v = Violations::new();
    let new = parse::new_dispenser(&mut v, request.dispenser.as_ref());
    let key = Key::new(
        owner,
        "CreateDispenser",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let new = new.ok_or_else(|| ServiceError::invalid("dispenser", "required"))?;
    let created = key
        .once(&pharmacy.pool, async |tx| {
            let id = store::dispensers::insert(tx, &new).await?;
            Ok(CreateDispenserResponse {
                dispenser: Some(read(pharmacy, tx, id).await?),
            })
        })
        .await?;
    Ok(created)
}

pub(super) async fn get(
    pharmacy: &Pharmacy,
    request: GetDispenserRequest,
) -> ServiceResult<GetDispenserResponse> {
    let id = dispenser_id(&request.dispenser_id)?;
    let mut db = pharmacy.pool.acquire().await?;
    Ok(GetDispenserResponse {
        dispenser: Some(read(pharmacy, &mut db, id).await?),
    })
}

pub(super) async fn list(
    pharmacy: &Pharmacy,
    request: ListDispensersRequest,
) -> ServiceResult<ListDispensersResponse> {
    let mut v = Violations::new();
    let page = page(&mut v, request.page_size, &request.page_token);
    let ward = parse::query(&mut v, &request.ward, "ward");
    let status = parse::status_filter(&mut v, request.status);
    v.finish()?;
    let filter = Filter { ward, status };
    let mut db = pharmacy.pool.acquire().await?;
    let rows = store::dispensers::list(&mut *db, &page, &filter).await?;
    let (rows, next_page_token) = page.finish(rows, |d| d.code.clone());
    let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let mut pockets = store::dispensers::pockets_of(&mut *db, &ids).await?;
    Ok(ListDispensersResponse {
        dispensers: rows
            .into_iter()
            .map(|d| {
                let held = pockets.remove(&d.id).unwrap_or_default();
                convert::dispenser(d, held, &pharmacy.qr_base_url)
            })
            .collect(),
        next_page_token,
    })
}

pub(super) async fn update(
    pharmacy: &Pharmacy,
    request: UpdateDispenserRequest,
) -> ServiceResult<UpdateDispenserResponse> {
    let mut v = Violations::new();
    let dispenser = request.dispenser.unwrap_or_else(|| {
        v.add("dispenser", "required");
        Dispenser::default()
    });
    let id = v.uuid(&dispenser.id, "dispenser.id");
    let mask = parse::DISPENSER_UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), &dispenser);
    let patch = parse::dispenser_patch(&mut v, &dispenser, &mask);
    v.finish()?;

    let mut tx = pharmacy.pool.begin().await?;
    let current = store::dispensers::lock(&mut tx, id).await?;
    if let Some(next) = patch.status
        && !current.may_become(next)
    {
        return Err(ServiceError::precondition(
            "DISPENSER_RETIRED",
            format!(
                "a retired dispenser stays retired (asked: {})",
                next.as_str()
            ),
        ));
    }
    store::dispensers::update(&mut tx, id, &patch).await?;
    let answer = read(pharmacy, &mut tx, id).await?;
    tx.commit().await?;
    if let Some(next) = patch.status
        && next != current
    {
        tracing::info!(dispenser = %id, from = current.as_str(), to = next.as_str(), "dispenser status changed");
    }
    Ok(UpdateDispenserResponse {
        dispenser: Some(answer),
    })
}

pub(super) async fn set_pocket(
    pharmacy: &Pharmacy,
    request: SetPocketRequest,
) -> ServiceResult<SetPocketResponse> {
    let mut v = Violations::new();
    let dispenser_id = v.uuid(&request.dispenser_id, "dispenser_id");
    let code = parse::pocket_code(&mut v, &request.pocket, "pocket");
    let item_id = v.uuid(&request.item_id, "item_id");
    let minimum = parse::minimum(&mut v, request.minimum);
    v.finish()?;
    let code = code.ok_or_else(|| ServiceError::invalid("pocket", "required"))?;

    let mut tx = pharmacy.pool.begin().await?;
    let status = store::dispensers::lock(&mut tx, dispenser_id).await?;
    if status == DispenserStatus::Retired {
        return Err(ServiceError::precondition(
            "DISPENSER_RETIRED",
            "a retired dispenser takes no pockets",
        ));
    }
    let item = store::catalog::item(&mut *tx, item_id).await?;
    let current = store::dispensers::lock_pocket(&mut tx, dispenser_id, &code).await?;
    let changes_item = current.as_ref().is_some_and(|p| p.item.id != item.id);
    if (current.is_none() || changes_item) && !catalog::may_be_stocked(item.active) {
        return Err(ServiceError::precondition(
            "ITEM_INACTIVE",
            "a deactivated item is not assigned to pockets",
        ));
    }
    let (held, quantity) = current
        .as_ref()
        .map_or((None, 0), |p| (Some(&p.item.id), p.quantity));
    if !stock::pocket_may_hold(held, quantity, &item.id) {
        return Err(ServiceError::precondition(
            "POCKET_NOT_EMPTY",
            format!(
                "pocket {} holds {quantity} of another item: empty it first",
                code.as_str()
            ),
        ));
    }
    store::dispensers::upsert_pocket(&mut tx, dispenser_id, &code, &item, minimum).await?;
    let pocket = store::dispensers::lock_pocket(&mut tx, dispenser_id, &code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the pocket just written is gone"))?;
    tx.commit().await?;
    Ok(SetPocketResponse {
        pocket: Some(convert::pocket(pocket)),
    })
}

pub(super) async fn qr_image(
    pharmacy: &Pharmacy,
    request: GetDispenserQrRequest,
) -> ServiceResult<HttpBody> {
    let mut v = Violations::new();
    let id = v.uuid(&request.dispenser_id, "dispenser_id");
    let format = QrFormat::from_file_name(&request.qr_file)
        .map_err(|expected| v.add("qr_file", expected))
        .ok();
    v.finish()?;
    let format = format.ok_or_else(|| ServiceError::invalid("qr_file", "qr.png or qr.svg"))?;
    let dispenser = store::dispensers::get(&pharmacy.pool, id).await?;
    let payload = qr::payload(&pharmacy.qr_base_url, dispenser.id);
    let data = qr_image::render(payload, format).await?;
    Ok(HttpBody {
        content_type: format.content_type().to_owned(),
        data,
        extensions: Vec::new(),
    })
}

pub(super) async fn resolve_qr(
    pharmacy: &Pharmacy,
    request: ResolveQrRequest,
) -> ServiceResult<ResolveQrResponse> {
    let mut v = Violations::new();
    let id = if request.payload.trim().is_empty() {
        v.add("payload", "required");
        None
    } else {
        qr::resolve(&request.payload)
            .map_err(|problem| v.add("payload", problem))
            .ok()
    };
    v.finish()?;
    let id = id.ok_or_else(|| ServiceError::invalid("payload", "required"))?;
    let mut db = pharmacy.pool.acquire().await?;
    Ok(ResolveQrResponse {
        dispenser: Some(read(pharmacy, &mut db, id).await?),
    })
}
