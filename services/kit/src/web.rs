//! Web pages a service contributes to the edge: static files compiled into
//! the binary (`include_bytes!`), no build step. A service crate exports a
//! [`Site`]; the binary lists the sites beside its targets and hands them to
//! the edge, which serves each [`Page`] route (`/panel/{unit}`: a `{name}`
//! segment matches any one path segment; the page reads it from
//! `location.pathname`) and every file under `/assets/<site>/<file>`.
//! Nothing here names a service.

/// One embedded file.
#[derive(Debug)]
pub struct File {
    /// Its name under the site's assets, e.g. `panel.js`.
    pub name: &'static str,
    /// E.g. `text/javascript; charset=utf-8`.
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// A route that answers with one of the site's files.
#[derive(Debug)]
pub struct Page {
    /// An axum-style path, `{name}` for one variable segment.
    pub route: &'static str,
    /// The [`File::name`] it serves.
    pub file: &'static str,
}

/// A service's pages and the files they load.
#[derive(Debug)]
pub struct Site {
    /// The service's name; its files are served under `/assets/<name>/`.
    pub name: &'static str,
    pub pages: &'static [Page],
    pub files: &'static [File],
}

impl Site {
    /// The file called `name`.
    pub fn file(&self, name: &str) -> Option<&'static File> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Where the edge serves the file called `name`.
    pub fn asset_path(&self, name: &str) -> String {
        format!("/assets/{}/{name}", self.name)
    }

    /// What is wrong with this site, if anything: a page naming a missing
    /// file, a route that is not an absolute path or that could shadow the
    /// contract's `/v1/` routes or the edge's own.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for page in self.pages {
            if self.file(page.file).is_none() {
                problems.push(format!(
                    "page {} serves a missing file {}",
                    page.route, page.file
                ));
            }
            let reserved = [
                "/v1/",
                "/assets/",
                "/openapi.json",
                "/healthz",
                "/readyz",
                "/.well-known/",
            ];
            if !page.route.starts_with('/') || reserved.iter().any(|r| page.route.starts_with(r)) {
                problems.push(format!("page route {} is not free for a site", page.route));
            }
        }
        problems
    }
}

/// Content types of the files sites embed.
pub mod content_type {
    pub const HTML: &str = "text/html; charset=utf-8";
    pub const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
    pub const CSS: &str = "text/css; charset=utf-8";
    pub const SVG: &str = "image/svg+xml";
}

#[cfg(test)]
mod tests {
    use super::*;

    static PAGE: File = File {
        name: "page.html",
        content_type: content_type::HTML,
        body: b"<!doctype html>",
    };

    #[test]
    fn a_page_must_serve_an_existing_file_on_a_free_route() {
        let good = Site {
            name: "demo",
            pages: &[Page {
                route: "/demo/{id}",
                file: "page.html",
            }],
            files: std::slice::from_ref(&PAGE),
        };
        assert!(good.problems().is_empty());
        assert_eq!(good.asset_path("page.html"), "/assets/demo/page.html");

        let bad = Site {
            name: "demo",
            pages: &[
                Page {
                    route: "/v1/demo",
                    file: "page.html",
                },
                Page {
                    route: "/demo",
                    file: "missing.html",
                },
            ],
            files: std::slice::from_ref(&PAGE),
        };
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
    }
}
