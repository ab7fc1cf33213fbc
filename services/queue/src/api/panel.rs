//! `WatchPanel`: a unit's TV panel as a resumable stream. A snapshot (the
//! current call and the last ones), then each call and recall from the
//! `panel_calls` table in position order, woken by the `NOTIFY` every
//! replica's call sends; heartbeats carry the cursor. The kit's
//! [`malha_kit::feed`] does the following; this module only says what the
//! panel's messages are.

use uuid::Uuid;

use super::parse;
use crate::Queue;
use crate::domain::panel::{Cursor, RECENT_MAX};
use crate::store;
use crate::store::panel::PanelRow;
use malha_api::malha::queue::v1::watch_panel_response::Update;
use malha_api::malha::queue::v1::*;
use malha_kit::feed::{self, Feed, FeedStream};
use malha_kit::time::to_proto;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// The stream `WatchPanel` answers with.
pub(super) type PanelStream = FeedStream<WatchPanelResponse>;

/// What opening a watch needs, kept in memory per unit (kit `hot`): the
/// last position, the unit's name and its last calls, newest first.
#[derive(Debug, Clone)]
pub struct PanelHead {
    head: Cursor,
    unit_name: String,
    recent: Vec<PanelRow>,
}

async fn panel_head(queue: &Queue, unit_id: Uuid) -> ServiceResult<PanelHead> {
    queue
        .panel_cache
        .get_or_load(
            &unit_id.to_string(),
            |_| true,
            || async {
                let (head, unit_name) = store::panel::head(&queue.pool, unit_id).await?;
                let limit = i64::try_from(RECENT_MAX).unwrap_or(20);
                let recent = store::panel::recent(&queue.pool, unit_id, limit).await?;
                Ok(PanelHead {
                    head: Cursor::at(head),
                    unit_name,
                    recent,
                })
            },
        )
        .await
}

/// Opens a watch of the unit's panel. The cursor comes from the request or,
/// when it has none, from the `Last-Event-ID` an SSE client resends.
pub(super) async fn watch(
    queue: &Queue,
    request: WatchPanelRequest,
    last_event_id: Option<String>,
) -> ServiceResult<PanelStream> {
    let mut v = Violations::new();
    let unit_id = v.uuid(&request.unit_id, "unit_id");
    let cursor = match (request.cursor.trim(), last_event_id) {
        ("", Some(id)) if !id.trim().is_empty() => parse::cursor(&mut v, &id, "last-event-id"),
        ("", _) => None,
        (given, _) => parse::cursor(&mut v, given, "cursor"),
    };
    let recent = parse::recent(&mut v, request.recent, "recent");
    v.finish()?;
    let PanelHead {
        head,
        unit_name,
        recent: last,
    } = panel_head(queue, unit_id).await?;

    let (start, first) = match cursor {
        // A cursor past what this replica holds may come from a call whose
        // NOTIFY has not arrived yet: only the database may refuse it.
        Some(cursor)
            if !cursor.fits(head)
                && !cursor.fits(Cursor::at(
                    store::panel::head(&queue.pool, unit_id).await?.0,
                )) =>
        {
            return Err(ServiceError::invalid(
                "cursor",
                "beyond this unit's last call: watch again without a cursor",
            ));
        }
        Some(cursor) => (cursor, Vec::new()),
        None => {
            // The head's calls are the newest; a call committed after they
            // were read comes through the feed (it reads after `at`).
            let rows: Vec<PanelRow> = last.into_iter().take(recent).collect();
            let at = rows
                .first()
                .map_or(Cursor::START, |r| Cursor::at(r.position));
            let snapshot = PanelSnapshot {
                recent: rows.into_iter().map(call).collect(),
                cursor: at.to_string(),
                unit_name,
            };
            (at, vec![message(Update::Snapshot(snapshot))])
        }
    };

    let pool = queue.pool.clone();
    let following = Feed::new(
        queue.panel_signals.clone(),
        unit_id.to_string(),
        start.position(),
    );
    Ok(feed::follow(
        following,
        first,
        move |after| read_after(pool.clone(), unit_id, after),
        |position| {
            message(Update::Heartbeat(PanelHeartbeat {
                cursor: Cursor::at(position).to_string(),
                time: to_proto(chrono::Utc::now()),
            }))
        },
    ))
}

async fn read_after(
    pool: malha_kit::db::Pool,
    unit_id: Uuid,
    after: i64,
) -> ServiceResult<Vec<(i64, WatchPanelResponse)>> {
    let rows = store::panel::after(&pool, unit_id, after, feed::BATCH).await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.position, message(Update::Call(call(row)))))
        .collect())
}

fn message(update: Update) -> WatchPanelResponse {
    WatchPanelResponse {
        update: Some(update),
    }
}

fn call(row: PanelRow) -> PanelCall {
    PanelCall {
        ticket_id: row.ticket_id.to_string(),
        code: row.code,
        desk_id: row.desk_id.to_string(),
        desk_name: row.desk_name,
        service_id: row.service_id.to_string(),
        service_name: row.service_name,
        recall: row.recall,
        time: to_proto(row.at),
        cursor: Cursor::at(row.position).to_string(),
    }
}
