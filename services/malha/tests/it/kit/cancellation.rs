//! Calls the client abandons are counted as CANCELLED — not as server
//! errors (UNKNOWN/INTERNAL), which an error-rate alert would page on, and
//! not left uncounted. Driven by a raw HTTP/2 client, since a gRPC client
//! cannot break a request off half-sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use malha_api::identity::LoginRequest;
use prost::Message;

use crate::helpers::TestApp;
use crate::kit::http_get;

type Sender = hyper::client::conn::http2::SendRequest<StreamBody<mpsc::Receiver<Chunk>>>;
type Chunk = Result<Frame<Bytes>, Infallible>;

const LOGIN: &str = "/malha.identity.v1.IdentityService/Login";

async fn connect(addr: SocketAddr) -> (Sender, tokio::task::JoinHandle<()>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, driver)
}

fn login_request(
    addr: SocketAddr,
) -> (
    http::Request<StreamBody<mpsc::Receiver<Chunk>>>,
    mpsc::Sender<Chunk>,
) {
    let (tx, rx) = mpsc::channel(4);
    let request = http::Request::post(format!("http://{addr}{LOGIN}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(StreamBody::new(rx))
        .unwrap();
    (request, tx)
}

/// One gRPC message frame: flag, length, payload.
fn grpc_frame(message: &[u8], claimed_len: u32) -> Bytes {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&claimed_len.to_be_bytes());
    frame.extend_from_slice(message);
    Bytes::from(frame)
}

/// Waits until /metrics counts `code` for Login once; returns the page.
async fn login_counted_as(app: &TestApp, code: &str) -> String {
    let line = format!(
        r#"grpc_server_handled_total{{grpc_code="{code}",grpc_method="Login",grpc_service="malha.identity.v1.IdentityService",grpc_type="unary"}} 1"#
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http_get(app.server.admin_addr, "/metrics").await;
        if body.contains(&line) {
            return body;
        }
        assert!(Instant::now() < deadline, "never counted: {line}\n{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many Login calls /metrics counts with `code`.
fn login_count(metrics: &str, code: &str) -> u64 {
    let series = format!(r#"grpc_server_handled_total{{grpc_code="{code}",grpc_method="Login","#);
    metrics
        .lines()
        .find(|line| line.starts_with(&series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no series {series}:\n{metrics}"))
}

fn assert_no_server_error(metrics: &str) {
    for code in ["Unknown", "Internal"] {
        assert_eq!(login_count(metrics, code), 0, "{code} counted:\n{metrics}");
    }
}

#[tokio::test]
async fn a_request_broken_off_mid_body_is_counted_as_cancelled() {
    let app = TestApp::spawn().await;
    let addr = app.server.grpc_addr;
    let (mut sender, driver) = connect(addr).await;
    let (request, mut body) = login_request(addr);
    let pending = tokio::spawn(sender.send_request(request));
    // The frame promises 100 bytes and delivers 3, then the client is gone.
    body.send(Ok(Frame::data(grpc_frame(b"abc", 100))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    driver.abort();
    pending.abort();
    drop(body);

    let metrics = login_counted_as(&app, "Canceled").await;
    assert_no_server_error(&metrics);
}

#[tokio::test]
async fn a_call_reset_while_its_handler_runs_is_counted_as_cancelled() {
    let app = TestApp::spawn().await;
    let addr = app.server.grpc_addr;
    let (mut sender, _driver) = connect(addr).await;
    let (request, mut body) = login_request(addr);
    let message = LoginRequest {
        username: "nobody@example.com".into(),
        password: "a password long enough to hash".into(),
    }
    .encode_to_vec();
    let response = tokio::spawn(sender.send_request(request));
    let frame = grpc_frame(&message, message.len() as u32);
    body.send(Ok(Frame::data(frame))).await.unwrap();
    drop(body);
    // Login hashes a password (argon2id, tens of milliseconds); the client
    // resets the stream (RST_STREAM CANCEL) before it answers.
    tokio::time::sleep(Duration::from_millis(3)).await;
    response.abort();

    let metrics = login_counted_as(&app, "Canceled").await;
    assert_no_server_error(&metrics);
    assert_eq!(
        login_count(&metrics, "Unauthenticated"),
        0,
        "the call finished before the reset; the test proves nothing"
    );
}
