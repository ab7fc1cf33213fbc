//! gRPC handlers of `malha.queue.v1.QueueService`: decode, validate, call
//! the domain and the store, map errors. [`places`] holds the admin CRUD of
//! units, services and desks, [`tickets`] issuing, calling and attending,
//! [`panel`] the TV panel's live stream.

mod convert;
mod panel;
mod parse;
mod places;
mod tickets;

pub use panel::PanelHead;
pub use tickets::CachedStats;

use tonic::Request;

use crate::Queue;
use malha_api::malha::queue::v1::queue_service_server::QueueService;
use malha_api::malha::queue::v1::*;
use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

use crate::domain::Move;

#[tonic::async_trait]
impl QueueService for Queue {
    type WatchPanelStream = panel::PanelStream;

    async fn watch_panel(&self, r: Request<WatchPanelRequest>) -> Reply<Self::WatchPanelStream> {
        let last_event_id = r
            .metadata()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        reply(panel::watch(self, r.into_inner(), last_event_id).await)
    }
    async fn create_unit(&self, r: Request<CreateUnitRequest>) -> Reply<CreateUnitResponse> {
        reply(places::create_unit(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn get_unit(&self, r: Request<GetUnitRequest>) -> Reply<GetUnitResponse> {
        reply(places::get_unit(self, r.into_inner()).await)
    }
    async fn list_units(&self, r: Request<ListUnitsRequest>) -> Reply<ListUnitsResponse> {
        reply(places::list_units(self, r.into_inner()).await)
    }
    async fn update_unit(&self, r: Request<UpdateUnitRequest>) -> Reply<UpdateUnitResponse> {
        reply(places::update_unit(self, r.into_inner()).await)
    }
    async fn create_service(
        &self,
        r: Request<CreateServiceRequest>,
    ) -> Reply<CreateServiceResponse> {
        reply(places::create_service(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn list_services(&self, r: Request<ListServicesRequest>) -> Reply<ListServicesResponse> {
        reply(places::list_services(self, r.into_inner()).await)
    }
    async fn update_service(
        &self,
        r: Request<UpdateServiceRequest>,
    ) -> Reply<UpdateServiceResponse> {
        reply(places::update_service(self, r.into_inner()).await)
    }
    async fn create_desk(&self, r: Request<CreateDeskRequest>) -> Reply<CreateDeskResponse> {
        reply(places::create_desk(self, &Owner::of(&r), r.into_inner()).await)
    }
    async fn list_desks(&self, r: Request<ListDesksRequest>) -> Reply<ListDesksResponse> {
        reply(places::list_desks(self, r.into_inner()).await)
    }
    async fn update_desk(&self, r: Request<UpdateDeskRequest>) -> Reply<UpdateDeskResponse> {
        reply(places::update_desk(self, r.into_inner()).await)
    }
    async fn issue_ticket(&self, r: Request<IssueTicketRequest>) -> Reply<IssueTicketResponse> {
        let view = cpf_view(&r);
        reply(tickets::issue(self, &Owner::of(&r), view, r.into_inner()).await)
    }
    async fn get_ticket(&self, r: Request<GetTicketRequest>) -> Reply<GetTicketResponse> {
        reply(tickets::get(self, cpf_view(&r), r.into_inner()).await)
    }
    async fn call_next(&self, r: Request<CallNextRequest>) -> Reply<CallNextResponse> {
        let view = cpf_view(&r);
        reply(tickets::call_next(self, &Owner::of(&r), view, r.into_inner()).await)
    }
    async fn route_ticket(&self, r: Request<RouteTicketRequest>) -> Reply<RouteTicketResponse> {
        let view = cpf_view(&r);
        reply(tickets::route(self, &Owner::of(&r), view, r.into_inner()).await)
    }
    async fn recall_ticket(&self, r: Request<RecallTicketRequest>) -> Reply<RecallTicketResponse> {
        let (owner, view) = (Owner::of(&r), cpf_view(&r));
        let ticket =
            tickets::apply(self, &owner, view, &r.into_inner().ticket_id, Move::Recall).await;
        reply(ticket.map(|t| RecallTicketResponse { ticket: Some(t) }))
    }
    async fn start_attendance(
        &self,
        r: Request<StartAttendanceRequest>,
    ) -> Reply<StartAttendanceResponse> {
        let (owner, view) = (Owner::of(&r), cpf_view(&r));
        let ticket =
            tickets::apply(self, &owner, view, &r.into_inner().ticket_id, Move::Start).await;
        reply(ticket.map(|t| StartAttendanceResponse { ticket: Some(t) }))
    }
    async fn finish_attendance(
        &self,
        r: Request<FinishAttendanceRequest>,
    ) -> Reply<FinishAttendanceResponse> {
        let (owner, view) = (Owner::of(&r), cpf_view(&r));
        let ticket =
            tickets::apply(self, &owner, view, &r.into_inner().ticket_id, Move::Finish).await;
        reply(ticket.map(|t| FinishAttendanceResponse { ticket: Some(t) }))
    }
    async fn mark_no_show(&self, r: Request<MarkNoShowRequest>) -> Reply<MarkNoShowResponse> {
        let (owner, view) = (Owner::of(&r), cpf_view(&r));
        let ticket = tickets::apply(
            self,
            &owner,
            view,
            &r.into_inner().ticket_id,
            Move::MarkNoShow,
        )
        .await;
        reply(ticket.map(|t| MarkNoShowResponse { ticket: Some(t) }))
    }
    async fn cancel_ticket(&self, r: Request<CancelTicketRequest>) -> Reply<CancelTicketResponse> {
        let (owner, view) = (Owner::of(&r), cpf_view(&r));
        let ticket =
            tickets::apply(self, &owner, view, &r.into_inner().ticket_id, Move::Cancel).await;
        reply(ticket.map(|t| CancelTicketResponse { ticket: Some(t) }))
    }
    async fn get_ticket_journey(
        &self,
        r: Request<GetTicketJourneyRequest>,
    ) -> Reply<GetTicketJourneyResponse> {
        reply(tickets::journey(self, cpf_view(&r), r.into_inner()).await)
    }
    async fn get_queue_stats(
        &self,
        r: Request<GetQueueStatsRequest>,
    ) -> Reply<GetQueueStatsResponse> {
        reply(tickets::stats(self, r.into_inner()).await)
    }
}

/// The whole CPF for callers whose roles need it (`queue.patient.read`),
/// the masked one for everyone else.
fn cpf_view<T>(request: &Request<T>) -> convert::CpfView {
    let whole = malha_kit::auth::caller(request)
        .is_ok_and(|caller| crate::PERMISSIONS.allows(&caller.roles, crate::PATIENT_READ));
    if whole {
        convert::CpfView::Whole
    } else {
        convert::CpfView::Masked
    }
}
