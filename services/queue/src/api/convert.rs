//! Rows → proto messages.

use crate::store::{desks::DeskRow, services::ServiceRow, units::UnitRow};
use malha_api::malha::queue::v1 as pb;
use malha_kit::time::to_proto;

pub(super) fn unit(row: UnitRow) -> pb::Unit {
    pb::Unit {
        id: row.id.to_string(),
        name: row.name,
        time_zone: row.time_zone,
        max_preferential_streak: row.max_preferential_streak,
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn service(row: ServiceRow) -> pb::Service {
    pb::Service {
        id: row.id.to_string(),
        unit_id: row.unit_id.to_string(),
        name: row.name,
        letter: row.letter,
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn desk(row: DeskRow) -> pb::Desk {
    pb::Desk {
        id: row.id.to_string(),
        unit_id: row.unit_id.to_string(),
        name: row.name,
        service_ids: row.service_ids.iter().map(ToString::to_string).collect(),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}
