//! Rows → proto messages.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::store::{supplied::SuppliedRow, suppliers::SupplierRow};
use malha_api::malha::suppliers::v1 as pb;

fn timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

pub(super) fn supplier(row: SupplierRow) -> pb::Supplier {
    let contacts = row
        .contacts()
        .into_iter()
        .map(|c| pb::Contact {
            name: c.name,
            email: c.email,
            phone: c.phone,
            role: c.role,
        })
        .collect();
    pb::Supplier {
        id: row.id.to_string(),
        legal_name: row.legal_name,
        trade_name: row.trade_name,
        cnpj: row.cnpj,
        contacts,
        address: Some(pb::Address {
            street: row.street,
            number: row.number,
            complement: row.complement,
            district: row.district,
            city: row.city,
            state: row.state,
            postal_code: row.postal_code,
        }),
        active: row.active,
        create_time: timestamp(row.created_at),
        update_time: timestamp(row.updated_at),
    }
}

pub(super) fn supplied(row: SuppliedRow) -> pb::SuppliedProduct {
    pb::SuppliedProduct {
        supplier_id: row.supplier_id.to_string(),
        product_id: row.product_id.to_string(),
        product_name: row.product_name,
        supplier_sku: row.supplier_sku,
        price_centavos: row.price_centavos,
        lead_time_days: row.lead_time_days,
        create_time: timestamp(row.created_at),
        update_time: timestamp(row.updated_at),
    }
}
