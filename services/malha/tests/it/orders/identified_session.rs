//! The CPF-token scope through real gRPC: a session opened by
//! `IdentifyCustomer` (anyone who knows a CPF) places orders and follows
//! the ones placed in it — not the customer's personal data, payments or
//! the orders of their login or of other such sessions.

use tonic::Code;

use super::{SECRET, SnackBar, spawn};
use crate::helpers::authed;
use malha_api::identity::{
    GetCustomerRequest, GetMeRequest, IdentifyCustomerRequest, RefreshTokenRequest,
    RegisterCustomerRequest, TokenPair,
};
use malha_api::malha::orders::v1::*;
use malha_api::malha::payments::v1::GetPaymentRequest;

const CPF: &str = "529.982.247-25";

impl SnackBar {
    async fn identify(&mut self) -> TokenPair {
        let identified = self
            .identity
            .identify_customer(IdentifyCustomerRequest { cpf: CPF.into() })
            .await
            .expect("a registered CPF is identified")
            .into_inner();
        let customer = identified.customer.unwrap();
        assert!(
            customer.cpf.is_empty() && customer.name.is_empty() && customer.email.is_empty(),
            "a CPF opens no personal data: {customer:?}"
        );
        identified.tokens.unwrap()
    }

    async fn visible_orders(&mut self, token: &str) -> Vec<String> {
        self.orders
            .list_orders(authed(ListOrdersRequest::default(), token))
            .await
            .expect("list orders")
            .into_inner()
            .orders
            .into_iter()
            .map(|o| o.id)
            .collect()
    }
}

#[tokio::test]
async fn a_cpf_session_follows_only_the_orders_it_placed() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let registered = bar
        .identity
        .register_customer(RegisterCustomerRequest {
            cpf: CPF.into(),
            name: "Ana".into(),
            email: "ana@example.com".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let ana_id = registered.customer.unwrap().id;
    let login = registered.tokens.unwrap().access_token;
    let (at_home, at_home_payment) = bar.order(&login).await;

    let kiosk = bar.identify().await;
    let (at_kiosk, _) = bar.order(&kiosk.access_token).await;
    let other_kiosk = bar.identify().await;

    // The kiosk session sees its own order, and nothing else of Ana's.
    assert_eq!(
        bar.get(&kiosk.access_token, &at_kiosk.id).await.unwrap().id,
        at_kiosk.id
    );
    let hidden = bar.get(&kiosk.access_token, &at_home.id).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(
        bar.visible_orders(&kiosk.access_token).await,
        std::slice::from_ref(&at_kiosk.id)
    );
    let watched = bar
        .orders
        .watch_order(authed(
            WatchOrderRequest {
                order_id: at_home.id.clone(),
            },
            &kiosk.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(watched.code(), Code::NotFound);

    // Another CPF session sees neither.
    let elsewhere = bar
        .get(&other_kiosk.access_token, &at_kiosk.id)
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    assert!(
        bar.visible_orders(&other_kiosk.access_token)
            .await
            .is_empty()
    );

    // Ana's own login sees both.
    let mine = bar.visible_orders(&login).await;
    assert!(
        mine.contains(&at_home.id) && mine.contains(&at_kiosk.id),
        "{mine:?}"
    );

    // No personal data, no payments, no cancelling.
    let me = bar
        .identity
        .get_me(authed(GetMeRequest {}, &kiosk.access_token))
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap();
    assert_eq!(me.roles, ["customer.identified"]);
    assert!(me.email.is_empty());
    let profile = bar
        .identity
        .get_customer(authed(
            GetCustomerRequest {
                customer_id: ana_id,
            },
            &kiosk.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(profile.code(), Code::PermissionDenied);
    let payment = bar
        .payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: at_home_payment.payment_id,
            },
            &kiosk.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(payment.code(), Code::PermissionDenied);
    let cancel = bar
        .orders
        .cancel_order(authed(
            CancelOrderRequest {
                order_id: at_kiosk.id.clone(),
                ..Default::default()
            },
            &kiosk.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::PermissionDenied);

    // A refreshed token keeps the narrow scope and the session.
    let refreshed = bar
        .identity
        .refresh_token(RefreshTokenRequest {
            refresh_token: kiosk.refresh_token,
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    assert_eq!(
        bar.visible_orders(&refreshed).await,
        std::slice::from_ref(&at_kiosk.id)
    );
    let still_hidden = bar.get(&refreshed, &at_home.id).await.unwrap_err();
    assert_eq!(still_hidden.code(), Code::NotFound);
}
