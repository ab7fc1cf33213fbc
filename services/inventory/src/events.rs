//! What inventory consumes: `projects.project.created` → subtract each
//! material once. A material that is not fully on hand (or unknown) changes
//! nothing: a shortage is recorded and `StockShortage` published instead.

use std::collections::HashMap;

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::Kind;
use crate::stock::Changes;
use crate::store::{self, NewShortage, ProductRow};
use crate::{SCHEMA, SUBJECT_STOCK_SHORTAGE};
use malha_api::malha::inventory::v1::StockShortage;
use malha_api::malha::projects::v1::ProjectCreated;
use malha_kit::events::{ConsumerSpec, Envelope, Handler, open, seal};
use malha_kit::{ServiceError, ServiceResult};

/// The durable consumer of project creations.
pub const PROJECT_CREATED: ConsumerSpec = ConsumerSpec {
    name: "inventory-project-created",
    source: "projects",
    subject: "projects.project.created",
    max_deliver: 8,
};

/// Subtracts the materials of a new project.
pub struct SubtractMaterials;

impl Handler for SubtractMaterials {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let event: ProjectCreated = open(envelope)?;
            subtract_materials_once(tx, std::slice::from_ref(&event)).await
        })
    }

    /// A batch in a fixed number of statements, whatever its size.
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelopes: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), (Option<usize>, ServiceError)>> {
        Box::pin(async move {
            let events = envelopes
                .iter()
                .enumerate()
                .map(|(index, envelope)| {
                    open::<ProjectCreated>(envelope).map_err(|e| (Some(index), e.into()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            subtract_materials_once(tx, &events)
                .await
                .map_err(|error| (None, error))
        })
    }
}

/// The effect of `ProjectCreated` events, in order (the inbox guarantees
/// "once"): every product they name locked in one statement, the rules
/// applied in memory, then every movement, shortage and event written in
/// one statement each.
pub async fn subtract_materials_once(
    tx: &mut PgConnection,
    events: &[ProjectCreated],
) -> ServiceResult<()> {
    // Locked in id order so concurrent transactions cannot deadlock; each
    // change updates the map, so a later material sees the earlier ones.
    let ids: Vec<Uuid> = events
        .iter()
        .flat_map(|e| &e.materials)
        .filter_map(|m| Uuid::parse_str(&m.product_id).ok())
        .collect();
    let mut products: HashMap<Uuid, ProductRow> = store::products_for_update(tx, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut changes = Changes::default();
    let mut shortages = Vec::new();
    for event in events {
        let project = Uuid::parse_str(&event.project_id).ok();
        let source = format!("project:{}", event.project_id);
        let reason = format!("used by project {}", event.project_name);
        let mut materials: Vec<_> = event.materials.iter().collect();
        materials.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        for material in materials {
            let product_id = Uuid::parse_str(&material.product_id).unwrap_or_default();
            let available = match products.get_mut(&product_id) {
                Some(product) if material.quantity > 0 => {
                    match changes.apply(
                        product,
                        Kind::Consumption,
                        -material.quantity,
                        &reason,
                        &source,
                    ) {
                        Ok(()) => continue,
                        Err(available) => available,
                    }
                }
                _ => 0,
            };
            shortages.push(NewShortage {
                product: product_id,
                product_name: material.product_name.clone(),
                project,
                requested: material.quantity,
                available,
            });
            let shortage = StockShortage {
                product_id: material.product_id.clone(),
                product_name: material.product_name.clone(),
                project_id: event.project_id.clone(),
                requested: material.quantity,
                available,
            };
            changes.announce(seal(SCHEMA.name, SUBJECT_STOCK_SHORTAGE, &shortage));
            // Recorded (ListShortages) and published: not a log line per event.
            tracing::debug!(project = %event.project_id, product = %material.product_id, requested = material.quantity, available, "stock shortage");
        }
    }
    changes.write(tx).await?;
    store::insert_shortages(tx, &shortages).await?;
    Ok(())
}
