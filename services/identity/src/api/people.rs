//! People, users and the bootstrap of the first administrator.

use uuid::Uuid;

use super::{convert, sessions};
use crate::Identity;
use crate::domain::{credentials, roles};
use crate::store::{self, people::NewPerson, users::NewUser};
use malha_api::identity::*;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

fn person_kind(kind: i32) -> Option<&'static str> {
    match PersonKind::try_from(kind) {
        Ok(PersonKind::Employee) => Some("employee"),
        Ok(PersonKind::Administrator) => Some("administrator"),
        _ => None,
    }
}

fn check_person(v: &mut Violations, name: &str, email: &str) {
    v.text(name, "name", 200);
    if let Some(problem) = credentials::email_problem(email) {
        v.add("email", problem);
    }
}

fn check_credentials(v: &mut Violations, username: &str, password: &str) {
    if let Some(problem) = credentials::username_problem(username) {
        v.add("username", problem);
    }
    if let Some(problem) = credentials::password_problem(password) {
        v.add("password", problem);
    }
}

pub(super) async fn bootstrap_admin(
    identity: &Identity,
    request: BootstrapAdminRequest,
) -> ServiceResult<BootstrapAdminResponse> {
    let mut v = Violations::new();
    check_person(&mut v, &request.name, &request.email);
    check_credentials(&mut v, &request.username, &request.password);
    v.finish()?;
    let hash = identity.passwords.hash(request.password).await?;

    let mut tx = identity.pool.begin().await?;
    // The singleton row makes a second bootstrap fail even when two race.
    sqlx::query("LOCK TABLE bootstrap IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM bootstrap)")
        .fetch_one(&mut *tx)
        .await?;
    if done {
        return Err(ServiceError::precondition(
            "ALREADY_BOOTSTRAPPED",
            "the first administrator already exists; ask an administrator for an account",
        ));
    }
    let person = store::people::insert(
        &mut *tx,
        &NewPerson {
            name: request.name.trim(),
            email: request.email.trim(),
            kind: "administrator",
            request_id: None,
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("insert without request id returned nothing"))?;
    let admin_roles = vec![roles::ADMIN.to_owned()];
    let user_id = store::users::insert(
        &mut tx,
        &NewUser {
            person_id: person.id,
            username: &request.username,
            password_hash: &hash,
            roles: &admin_roles,
            request_id: None,
        },
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("insert without request id returned nothing"))?;
    sqlx::query("INSERT INTO bootstrap (admin_user_id) VALUES ($1)")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let user = store::users::get(&mut *tx, user_id).await?;
    tx.commit().await?;
    tracing::info!(user = %user_id, "bootstrapped the first administrator");

    let tokens = sessions::issue_pair(
        identity,
        &sessions::user_subject(&user_id.to_string(), &user),
    )
    .await?;
    Ok(BootstrapAdminResponse {
        person: Some(convert::person(person)),
        user: Some(convert::user(user)),
        tokens: Some(tokens),
    })
}

pub(super) async fn create_person(
    identity: &Identity,
    request: CreatePersonRequest,
) -> ServiceResult<CreatePersonResponse> {
    let mut v = Violations::new();
    check_person(&mut v, &request.name, &request.email);
    let kind = person_kind(request.kind);
    v.check(
        kind.is_some(),
        "kind",
        "must be PERSON_KIND_EMPLOYEE or PERSON_KIND_ADMINISTRATOR",
    );
    let request_id = v.request_id(&request.request_id);
    v.finish()?;
    let row = store::people::create(
        &identity.pool,
        &NewPerson {
            name: request.name.trim(),
            email: request.email.trim(),
            kind: kind.unwrap_or("employee"),
            request_id,
        },
    )
    .await?;
    Ok(CreatePersonResponse {
        person: Some(convert::person(row)),
    })
}

pub(super) async fn get_person(
    identity: &Identity,
    request: GetPersonRequest,
) -> ServiceResult<GetPersonResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.person_id, "person_id");
    v.finish()?;
    let row = store::people::get(&identity.pool, id).await?;
    Ok(GetPersonResponse {
        person: Some(convert::person(row)),
    })
}

pub(super) async fn create_user(
    identity: &Identity,
    request: CreateUserRequest,
) -> ServiceResult<CreateUserResponse> {
    let mut v = Violations::new();
    let person_id = v.uuid(&request.person_id, "person_id");
    check_credentials(&mut v, &request.username, &request.password);
    let roles = roles::parse_roles(&request.roles)
        .map_err(|problem| v.add("roles", problem))
        .unwrap_or_default();
    let request_id = v.request_id(&request.request_id);
    v.finish()?;

    if let Some(request_id) = request_id
        && let Ok(existing) = store::users::by_request_id(&identity.pool, request_id).await
    {
        let tokens = sessions::issue_pair(
            identity,
            &sessions::user_subject(&existing.id.to_string(), &existing),
        )
        .await?;
        return Ok(CreateUserResponse {
            user: Some(convert::user(existing)),
            tokens: Some(tokens),
        });
    }
    // A person must exist before a user is created for them.
    store::people::get(&identity.pool, person_id).await?;
    let hash = identity.passwords.hash(request.password).await?;
    let mut tx = identity.pool.begin().await?;
    let id = store::users::insert(
        &mut tx,
        &NewUser {
            person_id,
            username: &request.username,
            password_hash: &hash,
            roles: &roles,
            request_id,
        },
    )
    .await?;
    let user = match id {
        Some(id) => store::users::get(&mut *tx, id).await?,
        None => store::users::by_request_id(&mut *tx, request_id.unwrap_or_default()).await?,
    };
    tx.commit().await?;
    let tokens = sessions::issue_pair(
        identity,
        &sessions::user_subject(&user.id.to_string(), &user),
    )
    .await?;
    Ok(CreateUserResponse {
        user: Some(convert::user(user)),
        tokens: Some(tokens),
    })
}

pub(super) async fn get_user(
    identity: &Identity,
    request: GetUserRequest,
) -> ServiceResult<GetUserResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.user_id, "user_id");
    v.finish()?;
    let row = store::users::get(&identity.pool, id).await?;
    Ok(GetUserResponse {
        user: Some(convert::user(row)),
    })
}

pub(super) async fn list_users(
    identity: &Identity,
    request: ListUsersRequest,
) -> ServiceResult<ListUsersResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = store::users::list(&identity.pool, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListUsersResponse {
        users: rows.into_iter().map(convert::user).collect(),
        next_page_token,
    })
}

pub(super) async fn set_user_roles(
    identity: &Identity,
    request: SetUserRolesRequest,
) -> ServiceResult<SetUserRolesResponse> {
    let mut v = Violations::new();
    let id: Uuid = v.uuid(&request.user_id, "user_id");
    let roles = roles::parse_roles(&request.roles)
        .map_err(|problem| v.add("roles", problem))
        .unwrap_or_default();
    v.finish()?;
    let mut tx = identity.pool.begin().await?;
    store::users::get(&mut *tx, id).await?;
    store::users::set_roles(&mut tx, id, &roles).await?;
    let user = store::users::get(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(SetUserRolesResponse {
        user: Some(convert::user(user)),
    })
}
