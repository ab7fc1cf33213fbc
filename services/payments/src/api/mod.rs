//! gRPC handlers of `malha.payments.v1.PaymentsService`.

mod admin;
mod convert;
mod create;
mod ledger;
mod notify;
mod read;

use tonic::Request;

use crate::Payments;
use malha_api::malha::payments::v1::payments_service_server::PaymentsService;
use malha_api::malha::payments::v1::*;
use malha_kit::auth::{self, Principal};

use malha_kit::error::{Reply, reply};

/// How the transaction log names a caller: `customer:<id>`, `user:<id>`...
fn actor(principal: &Principal) -> String {
    format!("{}:{}", principal.kind.as_str(), principal.subject)
}

/// Staff see every payment; customers only their own.
fn is_staff(principal: &Principal) -> bool {
    crate::PERMISSIONS.allows(&principal.roles, "payments.list")
}

fn metadata<T>(request: &Request<T>, name: &str) -> String {
    request
        .metadata()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tonic::async_trait]
impl PaymentsService for Payments {
    async fn create_payment(
        &self,
        r: Request<CreatePaymentRequest>,
    ) -> Reply<CreatePaymentResponse> {
        let caller = auth::caller(&r)?;
        reply(create::create(self, r.into_inner(), &caller).await)
    }

    async fn get_payment(&self, r: Request<GetPaymentRequest>) -> Reply<GetPaymentResponse> {
        let caller = auth::caller(&r)?;
        reply(read::get(self, r.into_inner(), &caller).await)
    }

    async fn list_payments(&self, r: Request<ListPaymentsRequest>) -> Reply<ListPaymentsResponse> {
        reply(read::list(self, r.into_inner()).await)
    }

    async fn handle_notification(
        &self,
        r: Request<HandleNotificationRequest>,
    ) -> Reply<HandleNotificationResponse> {
        let signature = metadata(&r, "x-signature");
        let request_id = metadata(&r, "x-request-id");
        reply(notify::handle(self, r.into_inner(), signature, request_id).await)
    }

    async fn confirm_payment(
        &self,
        r: Request<ConfirmPaymentRequest>,
    ) -> Reply<ConfirmPaymentResponse> {
        let caller = auth::caller(&r)?;
        reply(admin::confirm(self, r.into_inner(), &caller).await)
    }

    async fn refund_payment(
        &self,
        r: Request<RefundPaymentRequest>,
    ) -> Reply<RefundPaymentResponse> {
        let caller = auth::caller(&r)?;
        reply(admin::refund(self, r.into_inner(), &caller).await)
    }

    async fn list_transactions(
        &self,
        r: Request<ListTransactionsRequest>,
    ) -> Reply<ListTransactionsResponse> {
        reply(ledger::list(self, r.into_inner()).await)
    }

    async fn verify_ledger(&self, _r: Request<VerifyLedgerRequest>) -> Reply<VerifyLedgerResponse> {
        reply(ledger::verify(self).await)
    }
}
