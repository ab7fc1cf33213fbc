//! The JSON edge over a real app: each HTTP verb with JSON in and out (path
//! variables, query parameters, nested bodies, int64, enums, timestamps),
//! errors as `google.rpc.Status` JSON with Envoy's HTTP statuses, the public
//! paths, gRPC-Web on the gRPC port, `serve --target edge`, and Schemathesis
//! against `/openapi.json`.
//!
//! A new service adds a test here per verb it routes, using the same
//! `TestEdge` helpers.

mod routes;

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, TestEdge};

const PERSON_ID_UNKNOWN: &str = "00000000-0000-7000-8000-000000000000";

/// A timestamp in RFC 3339 with a `Z` offset, as the proto3 JSON mapping prints it.
fn assert_rfc3339(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(text.ends_with('Z'), "{text}");
}

/// The first BadRequest detail's violated fields.
fn violated(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details in {body}"))
        .iter()
        .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .map(|v| v["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn bootstrap(edge: &TestEdge) -> Value {
    let response = edge
        .post(
            "/v1/identity/bootstrap",
            None,
            json!({
                "name": "Root Admin",
                "email": "root@example.com",
                "username": ADMIN.0,
                "password": ADMIN.1,
            }),
        )
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    response.json
}

#[tokio::test]
async fn post_answers_proto3_json_with_int64_strings_enums_and_timestamps() {
    let app = TestApp::spawn().await;
    let edge = app.edge().await;

    let body = bootstrap(&edge).await;

    assert_eq!(body["user"]["roles"], json!(["admin"]));
    assert_eq!(body["person"]["kind"], "PERSON_KIND_ADMINISTRATOR");
    assert_eq!(body["tokens"]["tokenType"], "Bearer");
    assert_eq!(body["tokens"]["expiresIn"], "3600", "int64 as a string");
    assert_rfc3339(&body["tokens"]["refreshExpireTime"]);
    assert_rfc3339(&body["person"]["createTime"]);
    assert!(
        body["tokens"].get("access_token").is_none(),
        "lowerCamelCase only"
    );
    edge.stop().await;
}

#[tokio::test]
async fn get_reads_by_path_variable_and_post_takes_enum_names_in_the_body() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let edge = app.edge().await;

    let created = edge
        .post(
            "/v1/identity/people",
            Some(&admin),
            json!({"name": "Ana", "email": "ana@example.com", "kind": "PERSON_KIND_EMPLOYEE"}),
        )
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    let id = created.json["person"]["id"].as_str().unwrap().to_owned();

    let read = edge
        .get(&format!("/v1/identity/people/{id}"), Some(&admin))
        .await;

    assert_eq!(read.status, 200);
    assert_eq!(read.content_type, "application/json");
    assert_eq!(read.json["person"], created.json["person"]);
    assert_eq!(read.json["person"]["kind"], "PERSON_KIND_EMPLOYEE");
    assert_rfc3339(&read.json["person"]["createTime"]);
}

#[tokio::test]
async fn put_replaces_roles_and_get_pages_with_query_parameters() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.employee_token(&admin, "ana").await;
    let edge = app.edge().await;

    let first = edge
        .get("/v1/identity/users?page_size=1", Some(&admin))
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json["users"].as_array().unwrap().len(), 1);
    assert_eq!(first.json["users"][0]["username"], ADMIN.0);
    let token = first.json["nextPageToken"].as_str().unwrap();
    // JSON names work as query parameters too.
    let second = edge
        .get(
            &format!("/v1/identity/users?pageSize=1&page_token={token}"),
            Some(&admin),
        )
        .await;
    let ana = &second.json["users"][0];
    assert_eq!(ana["username"], "ana");

    let user_id = ana["id"].as_str().unwrap();
    let put = edge
        .call(
            Method::PUT,
            &format!("/v1/identity/users/{user_id}/roles"),
            Some(&admin),
            Some(json!({"roles": ["employee", "admin"]})),
        )
        .await;

    assert_eq!(put.status, 200, "{put:?}");
    let mut roles: Vec<String> = serde_json::from_value(put.json["user"]["roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, ["admin", "employee"]);
    assert_eq!(put.json["user"]["id"], user_id);
}

#[tokio::test]
async fn errors_are_status_json_with_envoys_http_codes() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let customer = app.customer_token().await;
    let edge = app.edge().await;

    // A body the service refuses: 400 with field violations.
    let invalid = edge
        .post(
            "/v1/identity/people",
            Some(&admin),
            json!({"name": "", "email": "not an e-mail", "kind": "PERSON_KIND_EMPLOYEE"}),
        )
        .await;
    assert_eq!(invalid.status, 400, "{invalid:?}");
    assert_eq!(invalid.content_type, "application/json");
    assert_eq!(invalid.json["code"], 3);
    let mut fields = violated(&invalid.json);
    fields.sort();
    assert_eq!(fields, ["email", "name"]);

    // A body the edge cannot parse: 400 too, naming the body.
    let malformed = edge
        .post(
            "/v1/identity/people",
            Some(&admin),
            json!({"kind": "NO_SUCH_KIND"}),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(violated(&malformed.json), ["body"]);

    let no_token = edge.get("/v1/identity/users", None).await;
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.json["code"], 16);
    assert!(no_token.json["message"].as_str().unwrap().contains("token"));

    let wrong_role = edge.get("/v1/identity/users", Some(&customer)).await;
    assert_eq!(wrong_role.status, 403);
    assert_eq!(wrong_role.json["code"], 7);

    let unknown = edge
        .get(
            &format!("/v1/identity/people/{PERSON_ID_UNKNOWN}"),
            Some(&admin),
        )
        .await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.json["code"], 5);
    assert_eq!(unknown.json["details"][0]["reason"], "NOT_FOUND");

    let no_route = edge.get("/v1/nowhere", None).await;
    assert_eq!(no_route.status, 404);
    assert_eq!(no_route.json["code"], 5);

    let bad_query = edge
        .get("/v1/identity/users?page_size=many", Some(&admin))
        .await;
    assert_eq!(bad_query.status, 400);
    assert_eq!(violated(&bad_query.json), ["page_size"]);

    let again = edge
        .post(
            "/v1/identity/bootstrap",
            None,
            json!({"name": "M", "email": "m@example.com", "username": "mallory", "password": "another password"}),
        )
        .await;
    assert_eq!(again.status, 400, "FAILED_PRECONDITION is 400");
    assert_eq!(again.json["code"], 9);
}

#[tokio::test]
async fn public_paths_need_no_token_and_the_bearer_reaches_the_service() {
    let app = TestApp::spawn().await;
    let edge = app.edge().await;

    let jwks = edge.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200, "{jwks:?}");
    let key = &jwks.json["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["use"], "sig", "json_name from the .proto");

    assert_eq!(edge.get("/healthz", None).await.status, 200);
    let ready = edge.get("/readyz", None).await;
    assert_eq!(
        (ready.status, &ready.json["status"]),
        (200, &json!("SERVING"))
    );
    let openapi = edge.get("/openapi.json", None).await;
    assert_eq!(openapi.json["openapi"], "3.1.0");
    assert!(openapi.json["paths"]["/v1/identity/people/{person_id}"]["get"].is_object());

    let login = {
        bootstrap(&edge).await;
        edge.post(
            "/v1/identity/login",
            None,
            json!({"username": ADMIN.0, "password": ADMIN.1}),
        )
        .await
    };
    let token = login.json["tokens"]["accessToken"].as_str().unwrap();
    let response = edge
        .call(Method::GET, "/v1/identity/me", Some(token), None)
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json["claims"]["subjectKind"], "SUBJECT_KIND_USER");
    assert_eq!(response.json["claims"]["username"], ADMIN.0);
}

#[tokio::test]
async fn readiness_follows_the_upstream() {
    let edge = malha_edge::start("127.0.0.1:0".parse().unwrap(), "http://127.0.0.1:9")
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{}", edge.addr.port());

    let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    let alive = reqwest::get(format!("{url}/healthz")).await.unwrap();
    let call = reqwest::get(format!("{url}/.well-known/jwks.json"))
        .await
        .unwrap();

    assert_eq!(ready.status(), 503);
    assert_eq!(alive.status(), 200);
    assert_eq!(call.status(), 503, "UNAVAILABLE upstream");
    let body: Value = call.json().await.unwrap();
    assert_eq!(body["code"], 14);
    edge.shutdown();
    edge.wait().await.unwrap();
}

#[tokio::test]
async fn grpc_web_reaches_the_services_over_http1() {
    let app = TestApp::spawn().await;
    // GetJwks with an empty request: one uncompressed, empty frame.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/malha.identity.v1.IdentityService/GetJwks",
            app.url
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web+proto"
    );
    let body = response.bytes().await.unwrap();
    // A data frame (flag 0) with the keys, then the trailers frame (flag 0x80).
    assert_eq!(body[0], 0);
    let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let trailers = &body[5 + length..];
    assert_eq!(trailers[0], 0x80);
    let text = String::from_utf8_lossy(&trailers[5..]);
    assert!(text.contains("grpc-status:0"), "{text}");
}

#[tokio::test]
async fn serve_target_edge_runs_the_edge_alone() {
    let app = TestApp::spawn().await;
    let port = malha_testkit::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["serve", "--target", "edge"])
        .env("MALHA_EDGE_ADDR", format!("127.0.0.1:{port}"))
        .env("MALHA_UPSTREAM_URL", &app.url)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running the malha binary");
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut status = 0;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            status = response.status().as_u16();
            if status == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "malha serve --target edge never became ready");
}

#[test]
fn malha_openapi_writes_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("openapi.json");
    let status = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["openapi", "--out"])
        .arg(&out)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc, malha_edge::openapi());
}

/// The OpenAPI tags of the services the app hosts. A service whose contract
/// has landed before its target answers UNIMPLEMENTED (501) to everything;
/// it is left out (and named) until it is served.
async fn hosted_service_tags(app: &TestApp, edge: &TestEdge) -> Vec<String> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let doc = edge.get("/openapi.json", None).await.json;
    let mut services = std::collections::BTreeMap::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let grpc = operation["x-grpc-method"].as_str().unwrap();
            let service = grpc.trim_start_matches('/').split('/').next().unwrap();
            let tag = operation["tags"][0].as_str().unwrap();
            services.insert(service.to_owned(), tag.to_owned());
        }
    }
    let mut health = HealthClient::new(app.channel().await);
    let mut tags = Vec::new();
    for (service, tag) in services {
        let hosted = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .is_ok();
        if hosted {
            tags.push(tag);
        } else {
            eprintln!("schemathesis: {service} is in the contract but not hosted; skipped");
        }
    }
    assert!(tags.contains(&"IdentityService".to_owned()), "{tags:?}");
    tags
}

/// Schemathesis (PyPI, installed by `scripts/schemathesis`) fuzzes every
/// operation of `/openapi.json` of every hosted service with an
/// administrator's token: no 5xx, and every response matches its schema.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let edge = app.edge().await;
    // The checkout this run is in (cargo sets it when it runs a test), not
    // the one the binary was compiled in: a target directory shared between
    // checkouts reuses test binaries built elsewhere.
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let script = format!("{manifest}/../../scripts/schemathesis");
    let work = tempfile::tempdir().unwrap();
    let tags = hosted_service_tags(&app, &edge).await;

    let mut command = tokio::process::Command::new(&script);
    command
        .arg("run")
        .arg(format!("{}/openapi.json", edge.url))
        .args(["--url", &edge.url])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "20", "--seed", "1105", "--workers", "2"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "20"])
        // A watch streams until its client leaves, and its heartbeats reset
        // the client's read timeout, so one example of a watch that finds its
        // subject (the demo unit's panel, an order just created) never ends.
        // Their validation, framing, snapshots and resume are tested in
        // care::watch, queue::panel and orders::snackbar.
        .args(["--exclude-path-regex", ":watch$"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {admin}"))
        .env("NO_COLOR", "1")
        .current_dir(work.path());
    for tag in &tags {
        command.args(["--include-tag", tag]);
    }
    let run = command.output().await.unwrap_or_else(|e| {
        panic!(
            "cannot run {script}: {e}\n\
                 it needs python3 with venv (apt-get install python3-venv) and PyPI; \
                 install by hand with: {script} --version"
        )
    });
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "schemathesis failed ({}); install or inspect with: {script} --version\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        run.status
    );
    // Shown with --nocapture: what was generated and which warnings came up.
    println!("{stdout}");
    edge.stop().await;
}

/// Icarus through the edge: every HTTP verb of inventory, projects and
/// suppliers with JSON in and out (path variables, query parameters, nested
/// bodies, int64 as strings, enums by name, timestamps, field masks).
#[tokio::test]
async fn icarus_services_speak_json_through_the_edge() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let edge = app.edge().await;
    let token = Some(admin.as_str());

    // inventory: POST (nested body, int64), GET by path variable, PATCH with a mask.
    let created = edge
        .post(
            "/v1/inventory/products",
            token,
            json!({"product": {"sku": "EDGE-MDF", "name": "MDF", "unit": "sheet", "minimumLevel": "3"}}),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.json);
    let product = &created.json["product"];
    let product_id = product["id"].as_str().unwrap().to_owned();
    assert_eq!(product["minimumLevel"], "3", "int64 as a string");
    assert_rfc3339(&product["createTime"]);
    let patched = edge
        .call(
            Method::PATCH,
            // The body is the product; the mask comes as a query parameter.
            &format!("/v1/inventory/products/{product_id}?update_mask=name"),
            token,
            Some(json!({"name": "MDF 15 mm"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.json);
    assert_eq!(patched.json["product"]["name"], "MDF 15 mm");
    let moved = edge
        .post(
            &format!("/v1/inventory/products/{product_id}/movements"),
            token,
            json!({"kind": "MOVEMENT_KIND_RECEIPT", "quantity": "10", "reason": "delivery"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.json);
    assert_eq!(
        moved.json["movement"]["kind"], "MOVEMENT_KIND_RECEIPT",
        "enum by name"
    );
    let page = edge
        .get(
            &format!("/v1/inventory/products/{product_id}/movements?page_size=1"),
            token,
        )
        .await;
    assert_eq!(page.json["movements"].as_array().unwrap().len(), 1);

    // projects: POST with nested materials, GET with an enum query parameter,
    // PATCH the status, DELETE a planned one.
    let project = edge
        .post(
            "/v1/projects",
            token,
            json!({"project": {"name": "Armário", "materials": [
                {"productId": product_id, "productName": "MDF 15 mm", "quantity": "4"}]}}),
        )
        .await;
    assert_eq!(project.status, 200, "{:?}", project.json);
    let project_id = project.json["project"]["id"].as_str().unwrap().to_owned();
    assert_eq!(project.json["project"]["status"], "PROJECT_STATUS_PLANNED");
    let planned = edge
        .get(
            "/v1/projects?status=PROJECT_STATUS_PLANNED&page_size=10",
            token,
        )
        .await;
    assert!(
        planned.json["projects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == project_id.as_str())
    );
    let cancelled = edge
        .call(
            Method::PATCH,
            &format!("/v1/projects/{project_id}?updateMask=status"),
            token,
            Some(json!({"status": "PROJECT_STATUS_CANCELLED"})),
        )
        .await;
    assert_eq!(
        cancelled.json["project"]["status"],
        "PROJECT_STATUS_CANCELLED"
    );
    let deleted = edge
        .call(
            Method::DELETE,
            &format!("/v1/projects/{project_id}"),
            token,
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.json);
    let gone = edge.get(&format!("/v1/projects/{project_id}"), token).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json["code"], 5);

    // suppliers: POST, PUT a supplied product, GET, DELETE (deactivates: referenced).
    let supplier = edge
        .post(
            "/v1/suppliers",
            token,
            json!({"legalName": "Madeireira Sul Ltda", "cnpj": "11.222.333/0001-81",
                   "address": {"street": "Rua A", "number": "10", "district": "Centro",
                               "city": "Curitiba", "state": "PR", "postalCode": "80010-000"}}),
        )
        .await;
    assert_eq!(supplier.status, 200, "{:?}", supplier.json);
    let supplier_id = supplier.json["supplier"]["id"].as_str().unwrap().to_owned();
    let supplied = edge
        .call(
            Method::PUT,
            &format!("/v1/suppliers/{supplier_id}/products/{product_id}"),
            token,
            Some(json!({"productName": "MDF 15 mm", "priceCentavos": "8990", "leadTimeDays": 5})),
        )
        .await;
    assert_eq!(supplied.status, 200, "{:?}", supplied.json);
    assert_eq!(supplied.json["suppliedProduct"]["priceCentavos"], "8990");
    let bad_cnpj = edge
        .post(
            "/v1/suppliers",
            token,
            json!({"legalName": "X", "cnpj": "11.111.111/1111-11"}),
        )
        .await;
    assert_eq!(bad_cnpj.status, 400);
    assert!(violated(&bad_cnpj.json).iter().any(|f| f.contains("cnpj")));
    let removed = edge
        .call(
            Method::DELETE,
            &format!("/v1/suppliers/{supplier_id}"),
            token,
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{:?}", removed.json);
    assert_eq!(
        removed.json["outcome"], "DELETE_OUTCOME_DEACTIVATED",
        "referenced: kept"
    );
    let after = edge
        .get(&format!("/v1/suppliers/{supplier_id}"), token)
        .await;
    assert_eq!(after.status, 200);
    // proto3 JSON leaves `false` out, as Envoy's transcoder does.
    assert!(
        after.json["supplier"].get("active").is_none(),
        "{:?}",
        after.json
    );
}
