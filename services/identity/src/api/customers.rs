//! Customers: registered by CPF, identified by CPF, or anonymous.

use super::{convert, sessions};
use crate::Identity;
use crate::domain::{Cpf, credentials, roles};
use crate::store::{self, customers::CustomerRow};
use crate::tokens::TokenSubject;
use malha_api::identity::*;
use malha_kit::auth::SubjectKind;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

static CUSTOMER_ROLES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec![roles::CUSTOMER.to_owned()]);

pub(super) fn subject<'a>(id: &'a str, row: &'a CustomerRow) -> TokenSubject<'a> {
    TokenSubject {
        id,
        kind: SubjectKind::Customer,
        username: "",
        email: &row.email,
        roles: &CUSTOMER_ROLES,
    }
}

async fn tokens_for(identity: &Identity, row: &CustomerRow) -> ServiceResult<TokenPair> {
    sessions::issue_pair(identity, &subject(&row.id.to_string(), row)).await
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
    request: RegisterCustomerRequest,
) -> ServiceResult<RegisterCustomerResponse> {
    let mut v = Violations::new();
    let cpf = parse_cpf(&mut v, &request.cpf);
    v.text(&request.name, "name", 200);
    if let Some(problem) = credentials::email_problem(&request.email) {
        v.add("email", problem);
    }
    let request_id = v.request_id(&request.request_id);
    v.finish()?;
    let cpf = cpf.ok_or_else(|| ServiceError::invalid("cpf", "required"))?;
    let row = store::customers::register(
        &identity.pool,
        cpf.digits(),
        request.name.trim(),
        request.email.trim(),
        request_id,
    )
    .await?;
    let tokens = tokens_for(identity, &row).await?;
    Ok(RegisterCustomerResponse {
        customer: Some(convert::customer(row)),
        tokens: Some(tokens),
    })
}

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
    let tokens = tokens_for(identity, &row).await?;
    Ok(IdentifyCustomerResponse {
        customer: Some(convert::customer(row)),
        tokens: Some(tokens),
    })
}

pub(super) async fn anonymous(
    identity: &Identity,
    request: CreateAnonymousCustomerRequest,
) -> ServiceResult<CreateAnonymousCustomerResponse> {
    let mut v = Violations::new();
    let request_id = v.request_id(&request.request_id);
    v.finish()?;
    let row = store::customers::anonymous(&identity.pool, request_id).await?;
    let tokens = tokens_for(identity, &row).await?;
    Ok(CreateAnonymousCustomerResponse {
        customer: Some(convert::customer(row)),
        tokens: Some(tokens),
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
