//! Reading payments.

use super::{convert, is_staff};
use crate::Payments;
use crate::store::payments;
use malha_api::malha::payments::v1::*;
use malha_kit::auth::Principal;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn get(
    service: &Payments,
    request: GetPaymentRequest,
    caller: &Principal,
) -> ServiceResult<GetPaymentResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.payment_id, "payment_id");
    v.finish()?;
    let row = payments::get(&service.pool, id, false).await?;
    // Another customer's payment does not exist as far as this caller knows.
    if !is_staff(caller) && row.payer_id != caller.subject {
        return Err(ServiceError::NotFound {
            resource: "payment",
        });
    }
    Ok(GetPaymentResponse {
        payment: Some(convert::payment_with_qr(row).await?),
    })
}

pub(super) async fn list(
    service: &Payments,
    request: ListPaymentsRequest,
) -> ServiceResult<ListPaymentsResponse> {
    let mut v = Violations::new();
    let order_id = v.optional_uuid(&request.order_id, "order_id");
    v.finish()?;
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = payments::list(&service.pool, order_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListPaymentsResponse {
        payments: convert::payments(rows),
        next_page_token,
    })
}
