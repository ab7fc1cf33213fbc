//! What inventory consumes: `projects.project.created` → subtract each
//! material once. A material that is not fully on hand (or unknown) changes
//! nothing: a shortage is recorded and `StockShortage` published instead.

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::Kind;
use crate::stock::{self, Change};
use crate::store;
use crate::{SCHEMA, SUBJECT_STOCK_SHORTAGE};
use malha_api::malha::inventory::v1::StockShortage;
use malha_api::malha::projects::v1::ProjectCreated;
use malha_kit::events::{ConsumerSpec, Envelope, Handler, open, publish};
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
            subtract_materials_once(tx, &event).await
        })
    }
}

/// The effect of one `ProjectCreated` (the inbox guarantees "once").
pub async fn subtract_materials_once(
    tx: &mut PgConnection,
    event: &ProjectCreated,
) -> ServiceResult<()> {
    let project = Uuid::parse_str(&event.project_id).ok();
    let source = format!("project:{}", event.project_id);
    let reason = format!("used by project {}", event.project_name);
    // Lock products in id order so concurrent projects cannot deadlock.
    let mut materials: Vec<_> = event.materials.iter().collect();
    materials.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    for material in materials {
        let product = match Uuid::parse_str(&material.product_id) {
            Ok(id) => store::product(&mut *tx, id, true).await?,
            Err(_) => None,
        };
        let available = match product {
            Some(product) if material.quantity > 0 => {
                match stock::change(
                    tx,
                    product,
                    Kind::Consumption,
                    -material.quantity,
                    &reason,
                    &source,
                )
                .await?
                {
                    Change::Done(..) => continue,
                    Change::Insufficient { available } => available,
                }
            }
            _ => 0,
        };
        let product_id = Uuid::parse_str(&material.product_id).unwrap_or_default();
        store::insert_shortage(
            tx,
            product_id,
            &material.product_name,
            project,
            material.quantity,
            available,
        )
        .await?;
        let shortage = StockShortage {
            product_id: material.product_id.clone(),
            product_name: material.product_name.clone(),
            project_id: event.project_id.clone(),
            requested: material.quantity,
            available,
        };
        publish(tx, SCHEMA.name, SUBJECT_STOCK_SHORTAGE, &shortage).await?;
        tracing::warn!(project = %event.project_id, product = %material.product_id, requested = material.quantity, available, "stock shortage");
    }
    Ok(())
}
