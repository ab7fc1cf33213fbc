//! The web pages services contribute ([`malha_kit::web::Site`]): each page
//! route answers with its embedded file, and every file of a site is served
//! under `/assets/<site>/<file>`. The edge knows no site; the binary passes
//! them in.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use malha_kit::web::{File, Site};

/// Routes for `sites` (checked with [`Site::problems`] first).
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    sites: &'static [&'static Site],
) -> anyhow::Result<axum::Router<S>> {
    let mut router = axum::Router::new();
    for site in sites {
        let problems = site.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "site {}: {}",
            site.name,
            problems.join("; ")
        );
        for page in site.pages {
            let file = site.file(page.file).expect("checked by problems()");
            router = router.route(page.route, get(move || async move { serve(file) }));
        }
    }
    if !sites.is_empty() {
        router = router.route(
            "/assets/{site}/{file}",
            get(
                move |Path((site, file)): Path<(String, String)>| async move {
                    sites
                        .iter()
                        .find(|s| s.name == site)
                        .and_then(|s| s.file(&file))
                        .map_or_else(|| StatusCode::NOT_FOUND.into_response(), serve)
                },
            ),
        );
    }
    Ok(router)
}

/// One embedded file, revalidated on every load (a new binary serves new
/// files at once) and only allowed to talk to this origin.
fn serve(file: &'static File) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(file.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                ),
            ),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        file.body,
    )
        .into_response()
}
