//! A path the edge does not route is a 404 whoever asks, token or not: the
//! edge decides it from the contract alone, before any service (or its
//! token check) is involved. Envoy's rules are checked to the same effect in
//! tests/deploy/test_envoy.py.

use reqwest::Method;
use serde_json::Value;

/// Nothing listens here: a route that reached the upstream would fail as
/// UNAVAILABLE, so a 404 can only be the edge's own answer.
const NO_UPSTREAM: &str = "http://127.0.0.1:9";

async fn status_of(edge: &str, method: Method, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{edge}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the edge answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn an_unknown_route_is_not_found_with_or_without_a_token() {
    let edge = malha_edge::start("127.0.0.1:0".parse().unwrap(), NO_UPSTREAM)
        .await
        .expect("the edge starts");
    let url = format!("http://127.0.0.1:{}", edge.addr.port());

    let unknown = [
        (Method::GET, "/v1/nowhere"),
        (Method::GET, "/v1/identity/nowhere"),
        (Method::POST, "/v1/identity/token:nope"),
        // A known path with a method it does not take.
        (Method::DELETE, "/v1/identity/customers"),
        (Method::GET, "/"),
    ];
    for (method, path) in unknown {
        for token in [None, Some("not-a-token")] {
            let (status, body) = status_of(&url, method.clone(), path, token).await;
            assert_eq!(status, 404, "{method} {path} (token: {token:?}): {body}");
            assert_eq!(body["code"], 5, "{method} {path}: {body}");
        }
    }

    // A route the edge knows is passed on (here: to nobody), token or not.
    let (status, body) = status_of(&url, Method::GET, "/v1/identity/customers", None).await;
    assert_eq!(status, 503, "{body}");

    edge.shutdown();
    edge.wait().await.unwrap();
}
