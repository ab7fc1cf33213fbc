//! Menu categories: data, not an enum — admins add, rename and order them.

use super::convert;
use crate::Orders;
use crate::domain::menu::check_category_text;
use crate::store::menu::{self, CategoryFields};
use malha_api::malha::orders::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

pub(super) async fn create(
    orders: &Orders,
    owner: &Owner,
    request: CreateCategoryRequest,
) -> ServiceResult<CreateCategoryResponse> {
    let Some(c) = request.category.as_ref() else {
        return Err(ServiceError::invalid("category", "required"));
    };
    let mut v = Violations::new();
    check_category_text(&mut v, "category", Some(&c.name), Some(&c.description));
    let key = Key::new(
        owner,
        "CreateCategory",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let fields = CategoryFields {
        name: c.name.trim(),
        description: c.description.trim(),
        position: c.position,
    };
    key.once(&orders.pool, async |tx| {
        Ok(CreateCategoryResponse {
            category: Some(convert::category(menu::insert_category(tx, &fields).await?)),
        })
    })
    .await
}

pub(super) async fn list(orders: &Orders) -> ServiceResult<ListCategoriesResponse> {
    Ok(ListCategoriesResponse {
        categories: menu::categories(&orders.pool)
            .await?
            .into_iter()
            .map(convert::category)
            .collect(),
    })
}

pub(super) async fn update(
    orders: &Orders,
    request: UpdateCategoryRequest,
) -> ServiceResult<UpdateCategoryResponse> {
    let Some(c) = request.category.as_ref() else {
        return Err(ServiceError::invalid("category", "required"));
    };
    let mut v = Violations::new();
    let id = v.uuid(&c.id, "category.id");
    let paths = request
        .update_mask
        .as_ref()
        .map(|m| m.paths.clone())
        .unwrap_or_default();
    v.check(
        !paths.is_empty(),
        "update_mask",
        "name the fields to change",
    );
    for path in &paths {
        v.check(
            matches!(path.as_str(), "name" | "description" | "position"),
            "update_mask",
            "only name, description and position can change",
        );
    }
    let has = |f: &str| paths.iter().any(|p| p == f);
    check_category_text(
        &mut v,
        "category",
        has("name").then_some(c.name.as_str()),
        has("description").then_some(c.description.as_str()),
    );
    v.finish()?;
    let mut tx = orders.pool.begin().await?;
    let current = menu::category(&mut *tx, id, true).await?;
    let fields = CategoryFields {
        name: if has("name") {
            c.name.trim()
        } else {
            &current.name
        },
        description: if has("description") {
            c.description.trim()
        } else {
            &current.description
        },
        position: if has("position") {
            c.position
        } else {
            current.position
        },
    };
    let row = menu::update_category(&mut tx, id, &fields).await?;
    tx.commit().await?;
    Ok(UpdateCategoryResponse {
        category: Some(convert::category(row)),
    })
}

pub(super) async fn delete(
    orders: &Orders,
    request: DeleteCategoryRequest,
) -> ServiceResult<DeleteCategoryResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.category_id, "category_id");
    v.finish()?;
    menu::delete_category(&orders.pool, id).await?;
    Ok(DeleteCategoryResponse {})
}
