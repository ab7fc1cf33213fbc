//! Care's clients of identity and pharmacy: real gRPC (loopback when they
//! run in this process), each call bounded by a deadline and authorized as
//! care itself (its service token), because a nurse's token may not read
//! users and care vouches for what it stores. Both answer before anything is
//! written, so an outage leaves nothing half-done.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use uuid::Uuid;

use crate::domain::RequestKind;
use malha_api::identity::GetUserRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;
use malha_api::malha::pharmacy::v1::{GetMaterialRequest, GetMedicineRequest};
use malha_kit::clients::{self, Propagating, ServiceToken};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// Who asked, as identity describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub name: String,
    pub roles: Vec<String>,
}

/// A pharmacy item as a request stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub name: String,
    pub unit: String,
    pub active: bool,
}

/// Lazily connected clients; an outage surfaces per call.
#[derive(Clone)]
pub struct Peers {
    identity: Propagating,
    pharmacy: Propagating,
    deadline: Duration,
}

impl Peers {
    /// Clients of identity and pharmacy at these URLs, calling as `token`'s
    /// holder, each call bounded by `deadline`.
    pub fn new(
        identity_url: &str,
        pharmacy_url: &str,
        deadline: Duration,
        token: Arc<ServiceToken>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            identity: Propagating::new(
                clients::channel(identity_url)?,
                Some(Arc::clone(&token)),
                deadline,
            ),
            pharmacy: Propagating::new(clients::channel(pharmacy_url)?, Some(token), deadline),
            deadline,
        })
    }

    /// The user `subject` as identity knows them now.
    pub async fn requester(&self, subject: &str) -> ServiceResult<Requester> {
        let mut client = IdentityServiceClient::new(self.identity.clone());
        let mut request = tonic::Request::new(GetUserRequest {
            user_id: subject.to_owned(),
        });
        request.set_timeout(self.deadline);
        let user = match tokio::time::timeout(self.deadline, client.get_user(request)).await {
            Ok(Ok(response)) => response.into_inner().user,
            Ok(Err(status)) if status.code() == tonic::Code::NotFound => {
                return Err(ServiceError::precondition(
                    "REQUESTER_UNKNOWN",
                    "identity knows no user behind this token",
                ));
            }
            Ok(Err(status)) => return Err(unavailable("identity", &status)),
            Err(_) => return Err(deadline_passed("identity")),
        };
        let user = user.ok_or_else(|| ServiceError::PeerUnavailable {
            peer: "identity",
            detail: "GetUser answered without the user".into(),
        })?;
        Ok(Requester {
            name: if user.name.is_empty() {
                user.username
            } else {
                user.name
            },
            roles: user.roles,
        })
    }

    /// Each distinct item of `ids` looked up in pharmacy as a `kind` (a
    /// medicine or a material), all at once within one deadline. An id
    /// pharmacy does not know as that kind is absent from the answer.
    pub async fn items(
        &self,
        kind: RequestKind,
        ids: &[Uuid],
    ) -> ServiceResult<HashMap<Uuid, CatalogItem>> {
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let lookups = distinct.iter().map(|id| self.item(kind, *id));
        match tokio::time::timeout(self.deadline, try_join_all(lookups)).await {
            Ok(found) => Ok(found?.into_iter().flatten().collect()),
            Err(_) => Err(deadline_passed("pharmacy")),
        }
    }

    async fn item(
        &self,
        kind: RequestKind,
        id: Uuid,
    ) -> ServiceResult<Option<(Uuid, CatalogItem)>> {
        let mut client = PharmacyServiceClient::new(self.pharmacy.clone());
        let answer = match kind {
            RequestKind::Medicine => client
                .get_medicine(GetMedicineRequest {
                    medicine_id: id.to_string(),
                })
                .await
                .map(|r| {
                    r.into_inner().medicine.map(|m| CatalogItem {
                        name: m.name,
                        unit: m.unit,
                        active: m.active,
                    })
                }),
            RequestKind::Material => client
                .get_material(GetMaterialRequest {
                    material_id: id.to_string(),
                })
                .await
                .map(|r| {
                    r.into_inner().material.map(|m| CatalogItem {
                        name: m.name,
                        unit: m.unit,
                        active: m.active,
                    })
                }),
            RequestKind::Assistance => return Ok(None),
        };
        match answer {
            Ok(item) => Ok(item.map(|item| (id, item))),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(unavailable("pharmacy", &status)),
        }
    }
}

/// Checks the request's lines against what pharmacy answered: each must
/// exist as the request's kind (INVALID_ARGUMENT naming the line) and be
/// active (FAILED_PRECONDITION naming the items).
pub fn check_items(
    kind: RequestKind,
    ids: &[Uuid],
    found: &HashMap<Uuid, CatalogItem>,
) -> ServiceResult<Vec<CatalogItem>> {
    let what = match kind {
        RequestKind::Medicine => "medicine",
        _ => "material",
    };
    let mut v = Violations::new();
    let mut inactive = Vec::new();
    let mut items = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match found.get(id) {
            None => v.add(
                format!("request.items[{i}].item_id"),
                format!("pharmacy has no {what} with this id"),
            ),
            Some(item) => {
                if !item.active {
                    inactive.push(item.name.clone());
                }
                items.push(item.clone());
            }
        }
    }
    v.finish()?;
    if !inactive.is_empty() {
        return Err(ServiceError::precondition(
            "ITEM_INACTIVE",
            format!("no longer offered by pharmacy: {}", inactive.join(", ")),
        ));
    }
    Ok(items)
}

fn unavailable(peer: &'static str, status: &tonic::Status) -> ServiceError {
    // The peer's own message may describe its internals: logged, not sent.
    ServiceError::PeerUnavailable {
        peer,
        detail: format!("{:?}: {}", status.code(), status.message()),
    }
}

fn deadline_passed(peer: &'static str) -> ServiceError {
    ServiceError::PeerUnavailable {
        peer,
        detail: "deadline exceeded".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, active: bool) -> CatalogItem {
        CatalogItem {
            name: name.into(),
            unit: "ampoule".into(),
            active,
        }
    }

    #[test]
    fn every_unknown_line_is_named_and_inactive_items_are_refused() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let found = HashMap::from([(a, item("Dipirona", true)), (c, item("Morfina", false))]);
        let error = check_items(RequestKind::Medicine, &[a, b, b], &found).unwrap_err();
        let ServiceError::InvalidArgument(violations) = error else {
            panic!("{error:?}")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["request.items[1].item_id", "request.items[2].item_id"]
        );

        let error = check_items(RequestKind::Medicine, &[a, c], &found).unwrap_err();
        assert!(
            matches!(&error, ServiceError::FailedPrecondition { reason: "ITEM_INACTIVE", message } if message.contains("Morfina")),
            "{error:?}"
        );
        let items = check_items(RequestKind::Medicine, &[a, a], &found).unwrap();
        assert_eq!(items, [item("Dipirona", true), item("Dipirona", true)]);
    }
}
