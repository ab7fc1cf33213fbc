//! gRPC handlers of `malha.projects.v1.ProjectsService`.

mod convert;
mod write;

use tonic::Request;

use crate::{Projects, domain::Status as ProjectStatusRule, store};
use malha_api::malha::projects::v1::projects_service_server::ProjectsService;
use malha_api::malha::projects::v1::*;
use malha_kit::page::PageRequest;
use malha_kit::validate::Violations;
use malha_kit::{ServiceResult, auth};

use malha_kit::error::{Reply, reply};
use malha_kit::idempotency::Owner;

#[tonic::async_trait]
impl ProjectsService for Projects {
    async fn create_project(
        &self,
        r: Request<CreateProjectRequest>,
    ) -> Reply<CreateProjectResponse> {
        let actor = auth::caller(&r)
            .map(|p| p.subject.clone())
            .unwrap_or_default();
        reply(write::create(self, &Owner::of(&r), r.into_inner(), &actor).await)
    }

    async fn get_project(&self, r: Request<GetProjectRequest>) -> Reply<GetProjectResponse> {
        reply(get(self, r.into_inner()).await)
    }

    async fn list_projects(&self, r: Request<ListProjectsRequest>) -> Reply<ListProjectsResponse> {
        reply(list(self, r.into_inner()).await)
    }

    async fn update_project(
        &self,
        r: Request<UpdateProjectRequest>,
    ) -> Reply<UpdateProjectResponse> {
        reply(write::update(self, r.into_inner()).await)
    }

    async fn delete_project(
        &self,
        r: Request<DeleteProjectRequest>,
    ) -> Reply<DeleteProjectResponse> {
        reply(write::delete(self, r.into_inner()).await)
    }
}

async fn get(projects: &Projects, request: GetProjectRequest) -> ServiceResult<GetProjectResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.project_id, "project_id");
    v.finish()?;
    let row = store::get(&projects.pool, id, false).await?;
    let materials = store::materials(&projects.pool, &[id]).await?;
    Ok(GetProjectResponse {
        project: Some(convert::project(row, &materials)?),
    })
}

async fn list(
    projects: &Projects,
    request: ListProjectsRequest,
) -> ServiceResult<ListProjectsResponse> {
    let page = PageRequest::parse(request.page_size, &request.page_token)?;
    let status = match ProjectStatus::try_from(request.status) {
        Ok(ProjectStatus::Unspecified) => None,
        Ok(status) => Some(convert::status_rule(status).map(ProjectStatusRule::as_str)),
        Err(_) => Some(None),
    };
    let status = match status {
        None => None,
        Some(Some(s)) => Some(s),
        Some(None) => return Err(malha_kit::ServiceError::invalid("status", "unknown status")),
    };
    let rows = store::list(&projects.pool, &page, status).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.to_string());
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let materials = store::materials(&projects.pool, &ids).await?;
    Ok(ListProjectsResponse {
        projects: convert::projects(rows, &materials),
        next_page_token,
    })
}
