//! Menu categories: data, not an enum — admins add, rename and order them.

use super::convert;
use crate::Orders;
use crate::domain::menu::check_category_text;
use crate::store::menu::{self, CategoryFields};
use malha_api::malha::orders::v1::*;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::mask::Updatable;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// The fields UpdateCategory writes.
const UPDATABLE: Updatable = Updatable::new(&["name", "description", "position"]);

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
    let mask = UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), c);
    check_category_text(
        &mut v,
        "category",
        mask.has("name").then_some(c.name.as_str()),
        mask.has("description").then_some(c.description.as_str()),
    );
    v.finish()?;
    let mut tx = orders.pool.begin().await?;
    let current = menu::category(&mut *tx, id, true).await?;
    let fields = CategoryFields {
        name: mask.pick("name", c.name.trim(), &current.name),
        description: mask.pick("description", c.description.trim(), &current.description),
        position: mask.pick("position", c.position, current.position),
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

/// A typo in [`UPDATABLE`] would make a path silently unwritable.
#[cfg(test)]
#[test]
fn every_updatable_path_is_a_field_of_the_contract() {
    assert!(UPDATABLE.undeclared_in::<Category>().is_empty());
}
