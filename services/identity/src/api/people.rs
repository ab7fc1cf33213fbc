//! People, users and the bootstrap of the first administrator.

use uuid::Uuid;

use super::{convert, sessions};
use crate::Identity;
use crate::domain::{UserState, credentials, roles};
use crate::store::{self, people::NewPerson, users::NewUser};
use malha_api::identity::*;
use malha_kit::idempotency::{Key, Owner};
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
        },
    )
    .await?;
    let admin_roles = vec![roles::ADMIN.to_owned()];
    let user_id = store::users::insert(
        &mut tx,
        &NewUser {
            person_id: person.id,
            username: &request.username,
            password_hash: &hash,
            roles: &admin_roles,
            state: UserState::Active,
        },
    )
    .await?;
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
    owner: &Owner,
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
    let key = Key::new(
        owner,
        "CreatePerson",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let person = NewPerson {
        name: request.name.trim(),
        email: request.email.trim(),
        kind: kind.unwrap_or("employee"),
    };
    key.once(&identity.pool, async |tx| {
        Ok(CreatePersonResponse {
            person: Some(convert::person(store::people::insert(tx, &person).await?)),
        })
    })
    .await
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
    owner: &Owner,
    request: CreateUserRequest,
) -> ServiceResult<CreateUserResponse> {
    let mut v = Violations::new();
    let person_id = v.uuid(&request.person_id, "person_id");
    check_credentials(&mut v, &request.username, &request.password);
    let roles = roles::parse_roles(&request.roles)
        .map_err(|problem| v.add("roles", problem))
        .unwrap_or_default();
    // The password stays out of the request hash: a fast SHA-256 of it would
    // weaken the argon2 hash stored beside it.
    let key = Key::new(
        owner,
        "CreateUser",
        v.request_id(&request.request_id),
        &CreateUserRequest {
            password: String::new(),
            ..request.clone()
        },
    );
    v.finish()?;
    // A person must exist before a user is created for them.
    store::people::get(&identity.pool, person_id).await?;
    let hash = identity.passwords.hash(request.password).await?;
    let new = NewUser {
        person_id,
        username: &request.username,
        password_hash: &hash,
        roles: &roles,
        state: if request.active {
            UserState::Active
        } else {
            UserState::Pending
        },
    };
    let created = key
        .once(&identity.pool, async |tx| {
            let id = store::users::insert(tx, &new).await?;
            Ok(convert::user(store::users::get(tx, id).await?))
        })
        .await?;
    // The user is read again (on a replay its roles may have changed since)
    // and, when active, gets fresh tokens: tokens are never stored. A
    // pending user gets none: its session starts after activation.
    let id = Uuid::parse_str(&created.id).map_err(anyhow::Error::from)?;
    let user = store::users::get(&identity.pool, id).await?;
    let tokens = match user.state {
        UserState::Active => Some(
            sessions::issue_pair(
                identity,
                &sessions::user_subject(&user.id.to_string(), &user),
            )
            .await?,
        ),
        UserState::Pending => None,
    };
    Ok(CreateUserResponse {
        user: Some(convert::user(user)),
        tokens,
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
