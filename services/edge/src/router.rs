//! Picks the binding for an HTTP method and path. Among several matching
//! templates the most specific wins (literal over `*` over `**`, segment by
//! segment), as in Envoy's path matcher.

use crate::bindings::Binding;
use crate::template::Match;

/// Every binding, searched by method and path.
#[derive(Debug)]
pub(crate) struct Router {
    bindings: Vec<Binding>,
}

/// A routed request: the binding and the path variables it bound.
#[derive(Debug)]
pub(crate) struct Routed<'a> {
    pub(crate) binding: &'a Binding,
    pub(crate) bindings: Vec<(Vec<String>, String)>,
}

impl Router {
    pub(crate) fn new(bindings: Vec<Binding>) -> Self {
        Self { bindings }
    }

    /// The best binding for `method` and `path`, if any. `HEAD` is served by
    /// `GET` routes.
    pub(crate) fn route(&self, method: &http::Method, path: &str) -> Option<Routed<'_>> {
        let method = if method == http::Method::HEAD {
            &http::Method::GET
        } else {
            method
        };
        let mut best: Option<(&Binding, Match)> = None;
        for binding in self.bindings.iter().filter(|b| b.http_method == *method) {
            if let Some(found) = binding.template.matches(path)
                && best
                    .as_ref()
                    .is_none_or(|(_, b)| found.specificity > b.specificity)
            {
                best = Some((binding, found));
            }
        }
        best.map(|(binding, found)| Routed {
            binding,
            bindings: found.bindings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(crate::bindings::all(crate::pool()).unwrap())
    }

    fn routed(method: http::Method, path: &str) -> Option<String> {
        router()
            .route(&method, path)
            .map(|r| r.binding.rpc.name().to_owned())
    }

    #[test]
    fn routes_by_method_path_and_verb() {
        use http::Method;
        assert_eq!(
            routed(Method::GET, "/v1/identity/people/abc").as_deref(),
            Some("GetPerson")
        );
        assert_eq!(
            routed(Method::POST, "/v1/identity/token:refresh").as_deref(),
            Some("RefreshToken")
        );
        assert_eq!(
            routed(Method::POST, "/v1/identity/token:validate").as_deref(),
            Some("ValidateToken")
        );
        assert_eq!(
            routed(Method::POST, "/v1/identity/customers:identify").as_deref(),
            Some("IdentifyCustomer")
        );
        assert_eq!(
            routed(Method::POST, "/v1/identity/customers").as_deref(),
            Some("RegisterCustomer")
        );
        assert_eq!(
            routed(Method::GET, "/v1/identity/customers").as_deref(),
            Some("ListCustomers")
        );
        assert_eq!(
            routed(Method::PUT, "/v1/identity/users/u1/roles").as_deref(),
            Some("SetUserRoles")
        );
        assert_eq!(
            routed(Method::HEAD, "/.well-known/jwks.json").as_deref(),
            Some("GetJwks")
        );
        assert_eq!(routed(Method::DELETE, "/v1/identity/people/abc"), None);
        assert_eq!(routed(Method::GET, "/v1/nothing"), None);
        assert_eq!(routed(Method::POST, "/v1/identity/token:nope"), None);
    }

    #[test]
    fn path_variables_are_returned_decoded() {
        let router = router();
        let routed = router
            .route(&http::Method::GET, "/v1/identity/users/u%3A1")
            .unwrap();
        assert_eq!(
            routed.bindings,
            vec![(vec!["user_id".to_owned()], "u:1".to_owned())]
        );
    }
}
