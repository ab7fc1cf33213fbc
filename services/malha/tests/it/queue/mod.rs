//! Every queue RPC through a real server and client: the admin CRUD of
//! units, services and desks (masks, paging, idempotency, who may call what),
//! tickets: issuing, calling by the fairness rule, attending, patient
//! routes and CPFs; and the TV
//! panel's live stream (resumed, across replicas, as SSE through the edge).

mod pages;
mod panel;
mod places;
mod routes;
mod seed;
mod tickets;

use tonic::transport::Channel;

use crate::helpers::{TestApp, authed};
use malha_api::malha::queue::v1::queue_service_client::QueueServiceClient;
use malha_api::malha::queue::v1::*;

type Client = QueueServiceClient<Channel>;

async fn client(app: &TestApp) -> Client {
    QueueServiceClient::new(app.channel().await)
}

async fn create_unit(client: &mut Client, token: &str, name: &str) -> Unit {
    client
        .create_unit(authed(
            CreateUnitRequest {
                unit: Some(Unit {
                    name: name.into(),
                    ..Unit::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("create unit")
        .into_inner()
        .unit
        .unwrap()
}

async fn create_service(
    client: &mut Client,
    token: &str,
    unit_id: &str,
    name: &str,
    letter: &str,
) -> Result<Service, tonic::Status> {
    Ok(client
        .create_service(authed(
            CreateServiceRequest {
                service: Some(Service {
                    unit_id: unit_id.into(),
                    name: name.into(),
                    letter: letter.into(),
                    ..Service::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await?
        .into_inner()
        .service
        .unwrap())
}

async fn create_desk(
    client: &mut Client,
    token: &str,
    unit_id: &str,
    name: &str,
    service_ids: &[&str],
) -> Result<Desk, tonic::Status> {
    Ok(client
        .create_desk(authed(
            CreateDeskRequest {
                desk: Some(Desk {
                    unit_id: unit_id.into(),
                    name: name.into(),
                    service_ids: service_ids.iter().map(|s| (*s).to_owned()).collect(),
                    ..Desk::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await?
        .into_inner()
        .desk
        .unwrap())
}
