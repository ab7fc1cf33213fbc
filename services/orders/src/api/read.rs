//! Reading orders: one, a page, the kitchen's queue.

use uuid::Uuid;

use super::{convert, ensure_visible, viewer};
use crate::Orders;
use crate::store::orders::{self, ItemRow, OrderRow, TransitionRow};
use malha_api::malha::orders::v1::*;
use malha_kit::ServiceResult;
use malha_kit::auth::Principal;
use malha_kit::page::PageRequest;
use malha_kit::stored::readable_rows;
use malha_kit::validate::Violations;

/// The lines and status history of the orders `rows`, in two queries.
async fn lines_and_history(
    service: &Orders,
    rows: &[OrderRow],
) -> ServiceResult<(Vec<ItemRow>, Vec<TransitionRow>)> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let items = orders::items(&service.pool, &ids).await?;
    let history = orders::history(&service.pool, &ids).await?;
    Ok((items, history))
}

/// A list of orders with their details; an order that cannot be read (a
/// stored status this build does not know) is logged and left out.
pub(super) async fn with_details(
    service: &Orders,
    rows: Vec<OrderRow>,
) -> ServiceResult<Vec<Order>> {
    let (items, history) = lines_and_history(service, &rows).await?;
    Ok(readable_rows(
        "order",
        rows,
        |r| r.id.to_string(),
        |row| convert::order(row, &items, &history),
    ))
}

/// One order with its lines and history.
pub(super) async fn full(service: &Orders, id: Uuid) -> ServiceResult<Order> {
    let row = orders::get(&service.pool, id, false).await?;
    detailed(service, row).await
}

/// The order of `row` with its lines and history: INTERNAL when a stored
/// status is one this build does not know.
async fn detailed(service: &Orders, row: OrderRow) -> ServiceResult<Order> {
    let (items, history) = lines_and_history(service, std::slice::from_ref(&row)).await?;
    Ok(convert::order(row, &items, &history)?)
}

pub(super) async fn get(
    service: &Orders,
    request: GetOrderRequest,
    caller: &Principal,
) -> ServiceResult<GetOrderResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.order_id, "order_id");
    v.finish()?;
    let row = orders::get(&service.pool, id, false).await?;
    ensure_visible(caller, &row)?;
    Ok(GetOrderResponse {
        order: Some(detailed(service, row).await?),
    })
}

pub(super) async fn list(
    service: &Orders,
    request: ListOrdersRequest,
    caller: &Principal,
) -> ServiceResult<ListOrdersResponse> {
    let status = match OrderStatus::try_from(request.status) {
        Ok(OrderStatus::Unspecified) => None,
        Ok(status) => convert::status_rule(status),
        Err(_) => return Err(malha_kit::ServiceError::invalid("status", "unknown status")),
    };
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let filter = viewer(caller).filter();
    let rows = orders::list(&service.pool, &page, filter, status.map(|s| s.as_str())).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListOrdersResponse {
        orders: with_details(service, rows).await?,
        next_page_token,
    })
}

pub(super) async fn kitchen(
    service: &Orders,
    request: ListKitchenOrdersRequest,
) -> ServiceResult<ListKitchenOrdersResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = orders::kitchen(&service.pool, &page).await?;
    let (rows, next_page_token) = page.finish(rows, orders::kitchen_key);
    Ok(ListKitchenOrdersResponse {
        orders: with_details(service, rows.into_iter().map(|r| r.order).collect()).await?,
        next_page_token,
    })
}
