//! Rows → proto messages.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::domain::UserState;
use crate::store::{
    accounts::AccountRow, customers::CustomerRow, people::PersonRow, users::UserRow,
};
use malha_api::identity::{Customer, CustomerKind, Person, PersonKind, ServiceAccount, User};

pub(super) fn timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    malha_kit::time::to_proto(at)
}

pub(super) fn person(row: PersonRow) -> Person {
    Person {
        id: row.id.to_string(),
        name: row.name,
        email: row.email,
        kind: match row.kind.as_str() {
            "administrator" => PersonKind::Administrator,
            _ => PersonKind::Employee,
        } as i32,
        create_time: timestamp(row.created_at),
    }
}

pub(super) fn user(row: UserRow) -> User {
    User {
        id: row.id.to_string(),
        person_id: row.person_id.to_string(),
        username: row.username,
        email: row.email,
        roles: row.roles,
        create_time: timestamp(row.created_at),
        active: row.state == UserState::Active,
        name: row.name,
    }
}

pub(super) fn customer(row: CustomerRow) -> Customer {
    Customer {
        id: row.id.to_string(),
        kind: match row.kind.as_str() {
            "identified" => CustomerKind::Identified,
            _ => CustomerKind::Anonymous,
        } as i32,
        cpf: row.cpf.unwrap_or_default(),
        name: row.name,
        email: row.email,
        create_time: timestamp(row.created_at),
    }
}

pub(super) fn account(row: AccountRow) -> ServiceAccount {
    ServiceAccount {
        id: row.id.to_string(),
        name: row.name,
        roles: row.roles,
        create_time: timestamp(row.created_at),
        client_id: row.client_id,
        disable_time: row.disabled_at.and_then(timestamp),
    }
}
