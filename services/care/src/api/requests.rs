//! Creating, reading and listing requests. A create checks its items
//! against pharmacy and its requester against identity first (both over
//! gRPC, concurrently, within care's deadline); only then does one
//! transaction write the request, its items, its first history entry and
//! `care.request.created`, under the caller's idempotency key.

use super::{actor, convert, parse};
use crate::Care;
use crate::domain::request::requester_role;
use crate::peers::check_items;
use crate::record::{self, What};
use crate::store::requests::{self, NewItem, NewRequest};
use malha_api::malha::care::v1::*;
use malha_kit::ServiceResult;
use malha_kit::auth::Principal;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::page::PageRequest;
use malha_kit::stored::{StoredName, readable_rows};
use malha_kit::validate::Violations;

pub(super) async fn create(
    service: &Care,
    request: CreateRequestRequest,
    caller: &Principal,
) -> ServiceResult<CreateRequestResponse> {
    let mut v = Violations::new();
    let new = parse::new_request(&mut v, request.request.as_ref());
    let key = Key::new(
        &Owner::principal(caller),
        "CreateRequest",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let Some(new) = new else {
        unreachable!("a request without violations parses")
    };

    let ids: Vec<uuid::Uuid> = new.lines.iter().map(|(id, _)| *id).collect();
    let (requester, found) = tokio::try_join!(service.peers.requester(&caller.subject), async {
        if new.kind.has_items() {
            service.peers.items(new.kind, &ids).await
        } else {
            Ok(Default::default())
        }
    })?;
    let catalog = if new.kind.has_items() {
        check_items(new.kind, &ids, &found)?
    } else {
        Vec::new()
    };
    let role = requester_role(&requester.roles);
    let actor = actor(caller);

    key.once(&service.pool, async |tx| {
        let id = requests::insert(
            tx,
            &NewRequest {
                kind: new.kind.as_str(),
                priority: new.priority.as_str(),
                ward: &new.ward,
                bed: &new.bed,
                note: &new.note,
                requester_id: &caller.subject,
                requester_name: &requester.name,
                requester_role: &role,
                items: new
                    .lines
                    .iter()
                    .zip(&catalog)
                    .map(|((item_id, quantity), item)| NewItem {
                        item_id: *item_id,
                        name: &item.name,
                        unit: &item.unit,
                        quantity: *quantity,
                    })
                    .collect(),
            },
        )
        .await?;
        let row = requests::get(&mut *tx, id, false).await?;
        let created = record::change(tx, &row, What::Created, &actor, "").await?;
        tracing::debug!(request = %id, kind = new.kind.as_str(), ward = %new.ward, "care request created");
        Ok(CreateRequestResponse {
            request: Some(created),
        })
    })
    .await
}

pub(super) async fn get(
    service: &Care,
    request: GetRequestRequest,
) -> ServiceResult<GetRequestResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.care_request_id, "care_request_id");
    v.finish()?;
    let row = requests::get(&service.pool, id, false).await?;
    Ok(GetRequestResponse {
        request: Some(convert::request(&row)?),
    })
}

pub(super) async fn list(
    service: &Care,
    request: ListRequestsRequest,
) -> ServiceResult<ListRequestsResponse> {
    let mut v = Violations::new();
    let filter = parse::filter(&mut v, &request.ward, request.kind, request.status);
    let page = PageRequest::parse_into(&mut v, request.page_size, &request.page_token);
    v.finish()?;
    let rows = requests::list(&service.pool, &filter, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListRequestsResponse {
        requests: readable_rows(
            "care request",
            rows,
            |r| r.id.to_string(),
            |r| convert::request(&r),
        ),
        next_page_token,
    })
}
