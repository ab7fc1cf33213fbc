//! The HTTP side end to end against a real gRPC server: a server stream
//! read as a JSON array, as SSE and as NDJSON. No Malha RPC streams yet, so the test routes
//! `grpc.health.v1.Health/Watch` (tonic-health) through a descriptor pool in
//! which it carries a `google.api.http` rule.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic_health::ServingStatus;

/// The contract's pool plus `grpc.health.v1` with
/// `Watch` bound to `GET /v1/health/{service}:watch`.
fn pool_with_routed_health_watch() -> DescriptorPool {
    let mut pool = crate::pool().clone();
    let set = prost_types::FileDescriptorSet::decode(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .expect("tonic-health's descriptor set decodes");
    let file_type = pool
        .get_message_by_name("google.protobuf.FileDescriptorProto")
        .unwrap();
    let mut file = DynamicMessage::decode(file_type, set.file[0].encode_to_vec().as_slice())
        .expect("a FileDescriptorProto");
    let http = pool.get_extension_by_name("google.api.http").unwrap();
    let mut rule = DynamicMessage::new(pool.get_message_by_name("google.api.HttpRule").unwrap());
    rule.set_field_by_name("get", Value::String("/v1/health/{service}:watch".into()));
    let Some(Value::List(services)) = file.get_field_by_name_mut("service") else {
        panic!("no services")
    };
    let Value::Message(service) = &mut services[0] else {
        panic!("not a message")
    };
    let Some(Value::List(methods)) = service.get_field_by_name_mut("method") else {
        panic!("no methods")
    };
    for method in methods.iter_mut() {
        let Value::Message(method) = method else {
            continue;
        };
        if method.get_field_by_name("name").unwrap().as_str() == Some("Watch") {
            let mut options = DynamicMessage::new(
                pool.get_message_by_name("google.protobuf.MethodOptions")
                    .unwrap(),
            );
            options.set_extension(&http, Value::Message(rule.clone()));
            method.set_field_by_name("options", Value::Message(options));
        }
    }
    pool.decode_file_descriptor_proto(file.encode_to_vec().as_slice())
        .expect("the annotated health file joins the pool");
    pool
}

/// A plain HTTP/1.1 GET whose raw response is read until `enough` says so.
async fn read_http(addr: std::net::SocketAddr, path: &str, accept: &str, enough: usize) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: edge\r\naccept: {accept}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while text.matches("SERVING").count() < enough {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("the stream answers in time")
            .unwrap();
        assert!(n > 0, "closed early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[tokio::test]
async fn a_server_stream_arrives_as_a_json_array_sse_or_ndjson() {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("demo", ServingStatus::Serving)
        .await;
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", grpc.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(grpc)),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge = crate::start_with_pool(
        listener,
        upstream.as_str().into(),
        pool_with_routed_health_watch(),
    )
    .unwrap();

    // By default, Envoy's framing: one JSON array, written as messages arrive.
    let array = read_http(edge.addr, "/v1/health/demo:watch", "*/*", 1).await;
    assert!(array.starts_with("HTTP/1.1 200"), "{array}");
    assert!(array.contains("content-type: application/json"), "{array}");
    assert!(array.contains(r#"[{"status":"SERVING"}"#), "{array}");

    let sse = read_http(edge.addr, "/v1/health/demo:watch", "text/event-stream", 1).await;
    assert!(sse.starts_with("HTTP/1.1 200"), "{sse}");
    assert!(sse.contains("content-type: text/event-stream"), "{sse}");
    assert!(sse.contains(r#"data: {"status":"SERVING"}"#), "{sse}");

    let watch = tokio::spawn(read_http(
        edge.addr,
        "/v1/health/demo:watch",
        "application/x-ndjson",
        2,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    reporter
        .set_service_status("demo", ServingStatus::NotServing)
        .await;
    let ndjson = watch.await.unwrap();
    assert!(
        ndjson.contains("content-type: application/x-ndjson"),
        "{ndjson}"
    );
    let first = ndjson.find(r#"{"status":"SERVING"}"#).expect(&ndjson);
    let second = ndjson.find(r#"{"status":"NOT_SERVING"}"#).expect(&ndjson);
    assert!(first < second, "{ndjson}");

    // An unknown service fails before the first message: a plain error answer.
    let unknown = read_http_status(edge.addr, "/v1/health/nope:watch").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(
        unknown.contains("content-type: application/json"),
        "{unknown}"
    );
    assert!(
        unknown.ends_with(r#"{"code":5,"message":"service not registered"}"#),
        "{unknown}"
    );

    edge.shutdown();
}

async fn read_http_status(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: edge\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}
