//! Customers: registered by CPF, identified by CPF, or anonymous.

use super::{convert, sessions};
use crate::Identity;
use crate::domain::{Cpf, credentials, roles};
use crate::store;
use crate::tokens::TokenSubject;
use malha_api::identity::*;
use malha_kit::auth::SubjectKind;
use malha_kit::idempotency::{Key, Owner};
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

static CUSTOMER_ROLES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec![roles::CUSTOMER.to_owned()]);
static IDENTIFIED_ROLES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec![roles::CUSTOMER_IDENTIFIED.to_owned()]);

/// The token subject of customer `id`: a session of their own, or, when
/// `identified_only` (opened with a CPF alone), the narrow scope without the
/// e-mail in the token.
pub(super) fn subject<'a>(id: &'a str, email: &'a str, identified_only: bool) -> TokenSubject<'a> {
    TokenSubject {
        id,
        kind: SubjectKind::Customer,
        username: "",
        email: if identified_only { "" } else { email },
        roles: if identified_only {
            &IDENTIFIED_ROLES
        } else {
            &CUSTOMER_ROLES
        },
    }
}

/// A fresh token pair of the customer's own session. Tokens are never part
/// of a stored idempotent response: a replay gets new ones.
async fn own_session(identity: &Identity, customer: &Customer) -> ServiceResult<TokenPair> {
    sessions::issue_pair(identity, &subject(&customer.id, &customer.email, false)).await
}

fn parse_cpf(v: &mut Violations, cpf: &str) -> Option<Cpf> {
    match Cpf::parse(cpf) {
        Ok(cpf) => Some(cpf),
        Err(problem) => {
            v.add("cpf", problem.to_string());
            None
        }
    }
}

pub(super) async fn register(
    identity: &Identity,
    owner: &Owner,
    request: RegisterCustomerRequest,
) -> ServiceResult<RegisterCustomerResponse> {
    let mut v = Violations::new();
    let cpf = parse_cpf(&mut v, &request.cpf);
    v.text(&request.name, "name", 200);
    if let Some(problem) = credentials::email_problem(&request.email) {
        v.add("email", problem);
    }
    let key = Key::new(
        owner,
        "RegisterCustomer",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let cpf = cpf.ok_or_else(|| ServiceError::invalid("cpf", "required"))?;
    let (name, email) = (request.name.trim(), request.email.trim());
    let customer = key
        .once(&identity.pool, async |tx| {
            let row = store::customers::register(tx, cpf.digits(), name, email).await?;
            Ok(convert::customer(row))
        })
        .await?;
    Ok(RegisterCustomerResponse {
        tokens: Some(own_session(identity, &customer).await?),
        customer: Some(customer),
    })
}

/// A CPF is no secret, so the session it opens is narrow and the answer
/// names the customer without their personal data.
pub(super) async fn identify(
    identity: &Identity,
    request: IdentifyCustomerRequest,
) -> ServiceResult<IdentifyCustomerResponse> {
    let mut v = Violations::new();
    let cpf = parse_cpf(&mut v, &request.cpf);
    v.finish()?;
    let cpf = cpf.ok_or_else(|| ServiceError::invalid("cpf", "required"))?;
    let row = store::customers::by_cpf(&identity.pool, cpf.digits())
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "customer",
        })?;
    let id = row.id.to_string();
    let tokens = sessions::issue_pair(identity, &subject(&id, "", true)).await?;
    let full = convert::customer(row);
    Ok(IdentifyCustomerResponse {
        customer: Some(Customer {
            id: full.id,
            kind: full.kind,
            ..Customer::default()
        }),
        tokens: Some(tokens),
    })
}

pub(super) async fn anonymous(
    identity: &Identity,
    owner: &Owner,
    request: CreateAnonymousCustomerRequest,
) -> ServiceResult<CreateAnonymousCustomerResponse> {
    let mut v = Violations::new();
    let key = Key::new(
        owner,
        "CreateAnonymousCustomer",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;
    let customer = key
        .once(&identity.pool, async |tx| {
            Ok(convert::customer(store::customers::anonymous(tx).await?))
        })
        .await?;
    Ok(CreateAnonymousCustomerResponse {
        tokens: Some(own_session(identity, &customer).await?),
        customer: Some(customer),
    })
}

pub(super) async fn get(
    identity: &Identity,
    request: GetCustomerRequest,
) -> ServiceResult<GetCustomerResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.customer_id, "customer_id");
    v.finish()?;
    let row = store::customers::get(&identity.pool, id).await?;
    Ok(GetCustomerResponse {
        customer: Some(convert::customer(row)),
    })
}

pub(super) async fn list(
    identity: &Identity,
    request: ListCustomersRequest,
) -> ServiceResult<ListCustomersResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let rows = store::customers::list(&identity.pool, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    Ok(ListCustomersResponse {
        customers: rows.into_iter().map(convert::customer).collect(),
        next_page_token,
    })
}
