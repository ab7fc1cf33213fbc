//! Orders' client of the payments service: real gRPC (loopback when both run
//! in one process), with a deadline and the trace context, authorized as
//! orders itself (its service token): customers cannot create payments,
//! only orders can, for the amount it computed.

use std::sync::Arc;
use std::time::Duration;

use malha_api::malha::orders::v1::PaymentInstructions;
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_api::malha::payments::v1::{CreatePaymentRequest, Payment};
use malha_kit::ServiceError;
use malha_kit::clients::{self, Propagating, ServiceToken};

use crate::store::orders::OrderRow;

/// A lazily connected client; a payments outage surfaces per call.
#[derive(Clone)]
pub struct PaymentsClient {
    channel: Propagating,
    deadline: Duration,
}

impl PaymentsClient {
    /// A client of payments at `url`, calling as `token`'s holder; each call
    /// gets `deadline`.
    pub fn new(url: &str, deadline: Duration, token: Arc<ServiceToken>) -> anyhow::Result<Self> {
        Ok(Self {
            channel: Propagating::new(clients::channel(url)?, Some(token), deadline),
            deadline,
        })
    }

    /// Asks for the payment of `order` (idempotent in payments: the order's
    /// live payment comes back if it has one).
    pub async fn create(&self, order: &OrderRow) -> Result<PaymentInstructions, ServiceError> {
        let mut request = tonic::Request::new(CreatePaymentRequest {
            order_id: order.id.to_string(),
            amount_centavos: order.total_centavos,
            description: format!("Pedido {}", order.number),
            request_id: String::new(),
            payer_id: order.customer_id.clone(),
        });
        request.set_timeout(self.deadline);
        let mut client = PaymentsServiceClient::new(self.channel.clone());
        let response =
            match tokio::time::timeout(self.deadline, client.create_payment(request)).await {
                Ok(Ok(response)) => response.into_inner(),
                Ok(Err(status)) => return Err(map_status(&status)),
                Err(_) => {
                    return Err(ServiceError::Unavailable(
                        "payments: deadline exceeded".into(),
                    ));
                }
            };
        let payment = response
            .payment
            .ok_or_else(|| ServiceError::Unavailable("payments returned no payment".into()))?;
        Ok(instructions(payment))
    }
}

fn map_status(status: &tonic::Status) -> ServiceError {
    match status.code() {
        tonic::Code::FailedPrecondition => {
            ServiceError::precondition("PAYMENT_CONFLICT", status.message().to_owned())
        }
        code => ServiceError::Unavailable(format!("payments: {code:?}: {}", status.message())),
    }
}

/// How to pay, from the payment.
pub fn instructions(payment: Payment) -> PaymentInstructions {
    PaymentInstructions {
        payment_id: payment.id,
        amount_centavos: payment.amount_centavos,
        pix_code: payment.pix_code,
        qr_png: payment.qr_png,
        qr_svg: payment.qr_svg,
        expire_time: payment.expire_time,
        provider: payment.provider,
    }
}
