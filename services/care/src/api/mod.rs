//! gRPC handlers of `malha.care.v1.CareService`: decode, validate, call the
//! domain, the peers and the store, map errors. Grouped by concern:
//! [`requests`] (create, read, list), [`moves`] (transition, history),
//! [`watch`] (the live stream).

pub(crate) mod convert;
mod moves;
mod parse;
mod requests;
mod watch;

use tonic::Request;

use crate::Care;
use malha_api::malha::care::v1::care_service_server::CareService;
use malha_api::malha::care::v1::*;
use malha_kit::auth::{self, Principal};
use malha_kit::error::{Reply, reply};

/// How the history names a caller: `user:<id>`, `service:<id>`...
fn actor(principal: &Principal) -> String {
    format!("{}:{}", principal.kind.as_str(), principal.subject)
}

#[tonic::async_trait]
impl CareService for Care {
    async fn create_request(
        &self,
        r: Request<CreateRequestRequest>,
    ) -> Reply<CreateRequestResponse> {
        let caller = auth::caller(&r)?;
        reply(requests::create(self, r.into_inner(), &caller).await)
    }

    async fn get_request(&self, r: Request<GetRequestRequest>) -> Reply<GetRequestResponse> {
        reply(requests::get(self, r.into_inner()).await)
    }

    async fn list_requests(&self, r: Request<ListRequestsRequest>) -> Reply<ListRequestsResponse> {
        reply(requests::list(self, r.into_inner()).await)
    }

    async fn transition_request(
        &self,
        r: Request<TransitionRequestRequest>,
    ) -> Reply<TransitionRequestResponse> {
        let caller = auth::caller(&r)?;
        reply(moves::transition(self, r.into_inner(), &caller).await)
    }

    async fn list_request_history(
        &self,
        r: Request<ListRequestHistoryRequest>,
    ) -> Reply<ListRequestHistoryResponse> {
        reply(moves::history(self, r.into_inner()).await)
    }

    type WatchRequestsStream = watch::WatchStream;

    async fn watch_requests(
        &self,
        r: Request<WatchRequestsRequest>,
    ) -> Reply<Self::WatchRequestsStream> {
        reply(watch::open(self, r.into_inner()).await)
    }
}
