//! A fake MercadoPago for tests (feature `testing`): the three endpoints the
//! provider uses, on 127.0.0.1, with the payments' statuses settable, plus
//! signing of notifications the way MercadoPago signs them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::brcode::BrCode;
use crate::domain::signature;

/// The access token the fake accepts.
pub const ACCESS_TOKEN: &str = "TEST-0000000000000000-000000-fake";

#[derive(Default)]
struct Book {
    next_id: u64,
    /// id → (status, body of the creation).
    payments: HashMap<u64, (String, Value)>,
    /// X-Idempotency-Key → id.
    keys: HashMap<String, u64>,
    /// Answer 503 to everything while set.
    down: bool,
}

/// A running fake MercadoPago.
pub struct FakeMercadoPago {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    book: Arc<Mutex<Book>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeMercadoPago {
    /// Starts on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let book = Arc::new(Mutex::new(Book {
            next_id: 1_310_000_001,
            ..Book::default()
        }));
        let app = Router::new()
            .route("/v1/payments", post(create))
            .route("/v1/payments/{id}", get(read))
            .route("/v1/payments/{id}/refunds", post(refund))
            .with_state(Arc::clone(&book));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base_url,
            book,
            server,
        })
    }

    /// Sets the status MercadoPago reports for payment `id`.
    pub fn set_status(&self, id: &str, status: &str) {
        if let Ok(id) = id.parse()
            && let Some(entry) = self.book.lock().payments.get_mut(&id)
        {
            entry.0 = status.to_owned();
        }
    }

    /// The status of payment `id`.
    pub fn status(&self, id: &str) -> Option<String> {
        let id = id.parse().ok()?;
        self.book.lock().payments.get(&id).map(|p| p.0.clone())
    }

    /// The body payment `id` was created with.
    pub fn created_with(&self, id: &str) -> Option<Value> {
        let id = id.parse().ok()?;
        self.book.lock().payments.get(&id).map(|p| p.1.clone())
    }

    /// Makes every endpoint answer 503 (or work again).
    pub fn set_down(&self, down: bool) {
        self.book.lock().down = down;
    }

    /// Headers (`x-signature`, `x-request-id`) of a notification about
    /// `data_id`, signed with `secret` as MercadoPago signs them.
    pub fn sign(secret: &str, data_id: &str, request_id: &str) -> (String, String) {
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        let manifest = signature::manifest(data_id, request_id, &ts, "");
        (
            signature::header(secret.as_bytes(), &ts, &manifest),
            request_id.to_owned(),
        )
    }
}

impl Drop for FakeMercadoPago {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Reply = (StatusCode, Json<Value>);

fn refuse(book: &Book, headers: &HeaderMap) -> Option<Reply> {
    if book.down {
        return Some((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "down"})),
        ));
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    (bearer != Some(&format!("Bearer {ACCESS_TOKEN}"))).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "invalid access token", "status": 401})),
        )
    })
}

fn payment_json(id: u64, status: &str, created: &Value) -> Value {
    let centavos = (created["transaction_amount"].as_f64().unwrap_or(0.0) * 100.0).round();
    #[allow(clippy::cast_possible_truncation)]
    let code = BrCode::pix(
        "mp-collector@example.com",
        "MERCADO PAGO TEST",
        "SAO PAULO",
        centavos as i64,
        &format!("mpqrinter{id}"),
    )
    .encode()
    .unwrap_or_default();
    json!({
        "id": id,
        "status": status,
        "status_detail": if status == "rejected" { "cc_rejected_other_reason" } else { "pending_waiting_transfer" },
        "payment_method_id": "pix",
        "transaction_amount": created["transaction_amount"],
        "external_reference": created["external_reference"],
        "point_of_interaction": {
            "type": "PIX",
            "transaction_data": {
                "qr_code": code,
                "qr_code_base64": "iVBORw0KGgo=",
                "ticket_url": format!("https://www.mercadopago.com.br/payments/{id}/ticket"),
            }
        }
    })
}

async fn create(
    State(book): State<Arc<Mutex<Book>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Reply {
    let mut book = book.lock();
    if let Some(refused) = refuse(&book, &headers) {
        return refused;
    }
    let Some(key) = headers
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "X-Idempotency-Key is required"})),
        );
    };
    if body["payment_method_id"] != "pix"
        || !body["transaction_amount"].is_number()
        || !body["payer"]["email"].is_string()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "bad request"})),
        );
    }
    if let Some(id) = book.keys.get(key).copied() {
        let (status, created) = &book.payments[&id];
        return (StatusCode::OK, Json(payment_json(id, status, created)));
    }
    let id = book.next_id;
    book.next_id += 1;
    book.keys.insert(key.to_owned(), id);
    book.payments.insert(id, ("pending".into(), body.clone()));
    (
        StatusCode::CREATED,
        Json(payment_json(id, "pending", &body)),
    )
}

async fn read(
    State(book): State<Arc<Mutex<Book>>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Reply {
    let book = book.lock();
    if let Some(refused) = refuse(&book, &headers) {
        return refused;
    }
    match book.payments.get(&id) {
        Some((status, created)) => (StatusCode::OK, Json(payment_json(id, status, created))),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Payment not found", "status": 404})),
        ),
    }
}

async fn refund(
    State(book): State<Arc<Mutex<Book>>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Reply {
    let mut book = book.lock();
    if let Some(refused) = refuse(&book, &headers) {
        return refused;
    }
    match book.payments.get_mut(&id) {
        Some((status, created)) if status == "approved" || status == "refunded" => {
            *status = "refunded".into();
            let amount = created["transaction_amount"].clone();
            (
                StatusCode::CREATED,
                Json(
                    json!({"id": id + 7, "payment_id": id, "amount": amount, "status": "approved"}),
                ),
            )
        }
        Some(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "Payment not approved"})),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Payment not found"})),
        ),
    }
}
