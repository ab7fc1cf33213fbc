//! `malha fuzz`: contract-driven fuzzing of every RPC. The descriptor set
//! says what each request looks like; the fuzzer builds random well-formed
//! messages from it (every field kind, boundary values, huge strings and
//! lists, unknown enum numbers, out-of-range timestamps, deep nesting) and
//! malformed bytes, and sends them over real gRPC with no token, a forged
//! one and the token of every demo role. A serious service answers each with
//! a clear status. INTERNAL, UNKNOWN or DATA_LOSS, a call that hangs past
//! its deadline, or a server that stops answering health checks is a
//! violation. Each one is printed with the request that caused it (as JSON,
//! to become a regression test), and fails the command. Every request also
//! goes through the local JSON edge the way a JSON client would send it
//! (`malha_edge::http_calls`), malformed JSON bodies included: a 5xx other
//! than 503 (the gRPC side's UNAVAILABLE) or a hang is a violation there too.
//! Schemathesis fuzzes the same edge from its OpenAPI document in the deploy
//! checks (`scripts/check-deploy`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::{Buf, BufMut, Bytes};
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::{CreateAnonymousCustomerRequest, IdentifyCustomerRequest, LoginRequest};
use malha_kit::config::{AuthConfig, Secret, ServeConfig};
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, MethodDescriptor, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::seed;
use crate::{app, targets};

/// Arguments of `fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// Requests per RPC (spread over the callers: no token, a forged one, each role).
    #[arg(long, default_value_t = 30)]
    pub per_rpc: usize,

    /// Seed of the generator (printed; the same seed sends the same requests).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Only RPCs whose full name contains this (e.g. `malha.orders` or `CreateOrder`).
    #[arg(long)]
    pub only: Option<String>,

    /// A call answered later than this is a hang.
    #[arg(long, default_value_t = 10)]
    pub deadline_seconds: u64,

    /// Passes over every RPC (new random requests each time). With two or
    /// more, memory is bounded: the RSS after the last pass may exceed the
    /// RSS after the first by at most 10 % + 16 MiB (a leak grows with calls;
    /// the first pass warms caches, pools and allocator arenas).
    #[arg(long, default_value_t = 2)]
    pub passes: usize,
}

/// RSS growth allowed from the first pass's end to the last's.
const RSS_GROWTH: f64 = 0.10;
const RSS_SLACK_KIB: u64 = 16 * 1024;

/// Whether the RSS after the last pass stays within the bound of the first's.
fn memory_bounded(after_first_kib: u64, after_last_kib: u64) -> bool {
    after_last_kib as f64 <= after_first_kib as f64 * (1.0 + RSS_GROWTH) + RSS_SLACK_KIB as f64
}

/// Codes that mean the service failed rather than refused.
fn violation(code: Code) -> bool {
    matches!(code, Code::Internal | Code::Unknown | Code::DataLoss)
}

pub(super) async fn run(args: FuzzArgs) -> anyhow::Result<()> {
    let seed_value = args.seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed_value);
    let pg = malha_local::PgCluster::start_ephemeral().await?;
    pg.create_database("fuzz").await?;
    let nats = malha_local::NatsServer::start_ephemeral().await?;
    let dir = tempfile::tempdir()?;
    let mut config = ServeConfig {
        grpc_addr: "127.0.0.1:0".parse()?,
        admin_addr: "127.0.0.1:0".parse()?,
        database_url: Some(Secret::new(pg.url("fuzz"))),
        database_direct_url: None,
        nats_url: Some(nats.url()),
        db_max_connections: 16,
        migrate_on_start: true,
        auth: AuthConfig::with_identity(None),
        services: Default::default(),
        shutdown_delay_seconds: 0,
        shutdown_grace_seconds: 2,
        max_connection_age_seconds: 3600,
    };
    config.auth.key_encryption_key = Some(super::local::key_encryption_key_in(dir.path())?);
    let mail = config
        .services
        .get_mut::<malha_identity::mail::MailSettings>();
    mail.mail_dir = dir.path().join("mail");
    let server = app::start(&config, &targets::resolve("all")?).await?;
    let url = format!("http://127.0.0.1:{}", server.grpc_addr.port());
    super::up::wait_until_serving(&url, Duration::from_secs(60)).await?;
    seed::demo(&url).await.context("loading the demo users")?;
    seed::clinic(&url)
        .await
        .context("loading the demo clinic")?;
    let channel = Channel::from_shared(url.clone())?.connect().await?;
    let callers = callers(&channel).await?;
    let edge = malha_edge::start("127.0.0.1:0".parse()?, url.clone()).await?;
    let edge_url = format!("http://{}", edge.addr);
    let http = reqwest::Client::builder().build()?;

    let pool = malha_kit::auth::rules::descriptor_pool();
    let methods: Vec<MethodDescriptor> = pool
        .services()
        .filter(|s| s.full_name().starts_with("malha."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| {
            args.only
                .as_deref()
                .is_none_or(|only| m.full_name().contains(only))
        })
        .collect();
    anyhow::ensure!(!methods.is_empty(), "no RPC matches --only");
    println!(
        "fuzzing {} RPCs × {} requests × {} passes, seed {seed_value} (malha fuzz --seed {seed_value} repeats it)",
        methods.len(),
        args.per_rpc,
        args.passes.max(1)
    );
    let rss_before = rss_kib();
    let deadline = Duration::from_secs(args.deadline_seconds);
    let started = Instant::now();
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut found: Vec<String> = Vec::new();
    let mut rss_after_pass = Vec::new();
    for (method, _pass) in
        (0..args.passes.max(1)).flat_map(|pass| methods.iter().map(move |m| (m, pass)))
    {
        for i in 0..args.per_rpc {
            let (caller, token) = &callers[i % callers.len()];
            let malformed = i % 10 == 9;
            let (body, shown, mut edge_calls) = if malformed {
                let len = rng.gen_range(1..64);
                let bytes: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
                // The same bytes as a JSON body, to every route with a body.
                let empty = DynamicMessage::new(method.input());
                let calls = malha_edge::http_calls(method, &empty)
                    .into_iter()
                    .filter(|c| c.body.is_some())
                    .map(|c| (c, Bytes::from(bytes.clone())))
                    .collect::<Vec<_>>();
                (
                    Bytes::from(bytes.clone()),
                    format!("bytes {bytes:02x?}"),
                    calls,
                )
            } else {
                let message = message(&mut rng, &method.input(), 0);
                let json = serde_json::to_string(&message).unwrap_or_default();
                let calls = malha_edge::http_calls(method, &message)
                    .into_iter()
                    .map(|c| {
                        let body = Bytes::from(c.body.clone().unwrap_or_default());
                        (c, body)
                    })
                    .collect::<Vec<_>>();
                (Bytes::from(message.encode_to_vec()), json, calls)
            };
            let outcome = send(&channel, method, body, token.as_deref(), deadline).await;
            let code = match outcome {
                Ok(()) => "OK".to_owned(),
                Err(Failure::Status(status)) => {
                    if violation(status.code()) {
                        let cause = std::error::Error::source(&status)
                            .map(|e| format!(" ({e:?})"))
                            .unwrap_or_default();
                        found.push(format!(
                            "{} as {caller}: {:?} {:?}{cause}\n    request: {}",
                            method.full_name(),
                            status.code(),
                            status.message(),
                            truncate(&shown, 600)
                        ));
                    }
                    format!("{:?}", status.code())
                }
                Err(Failure::Hang) => {
                    found.push(format!(
                        "{} as {caller}: no answer within {deadline:?}\n    request: {}",
                        method.full_name(),
                        truncate(&shown, 600)
                    ));
                    "hang".to_owned()
                }
            };
            *codes.entry(code).or_default() += 1;
            // One of the RPC's HTTP routes in turn (most have one).
            if !edge_calls.is_empty() {
                let (call, body) = edge_calls.swap_remove(i % edge_calls.len());
                let streaming = method.is_server_streaming();
                let answer = send_json(
                    &http,
                    &edge_url,
                    &call,
                    body,
                    token.as_deref(),
                    deadline,
                    streaming,
                )
                .await;
                let code = match answer {
                    Ok(status) => {
                        if status.is_server_error()
                            && status != http::StatusCode::SERVICE_UNAVAILABLE
                        {
                            found.push(format!(
                                "{} {} as {caller}: HTTP {status}\n    request: {}",
                                call.method,
                                truncate(&call.path_and_query, 300),
                                truncate(&shown, 600)
                            ));
                        }
                        format!("HTTP {}", status.as_u16())
                    }
                    Err(()) => {
                        found.push(format!(
                            "{} {} as {caller}: no answer within {deadline:?}\n    request: {}",
                            call.method,
                            truncate(&call.path_and_query, 300),
                            truncate(&shown, 600)
                        ));
                        "HTTP hang".to_owned()
                    }
                };
                *codes.entry(code).or_default() += 1;
            }
        }
        super::up::wait_until_serving(&url, Duration::from_secs(5))
            .await
            .with_context(|| format!("the server stopped serving after {}", method.full_name()))?;
        if method.full_name() == methods.last().map(|m| m.full_name()).unwrap_or_default() {
            rss_after_pass.push(rss_kib());
        }
    }
    let rss_after = rss_kib();
    let calls: u64 = codes.values().sum();
    println!(
        "{calls} calls in {:.1} s; answers: {}",
        started.elapsed().as_secs_f64(),
        codes
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let through_edge: u64 = codes
        .iter()
        .filter(|(code, _)| code.starts_with("HTTP "))
        .map(|(_, n)| n)
        .sum();
    let routed = methods
        .iter()
        .filter(|m| !malha_edge::http_calls(m, &DynamicMessage::new(m.input())).is_empty())
        .count();
    println!(
        "through the JSON edge: {through_edge} of those calls, to the {routed} RPCs with an HTTP route"
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "RSS of this process (server included): {:.1} → {:.1} MiB; after each pass: {}",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            rss_after_pass
                .iter()
                .map(|k| k.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let [Some(first), .., Some(last)] = rss_after_pass[..] {
        if memory_bounded(first, last) {
            println!(
                "memory bounded: {:.1} MiB after the last pass, within {:.0} % + {} MiB of the first pass's {:.1} MiB",
                last as f64 / 1024.0,
                RSS_GROWTH * 100.0,
                RSS_SLACK_KIB / 1024,
                first as f64 / 1024.0
            );
        } else {
            found.push(format!(
                "memory grew from {:.1} MiB after the first pass to {:.1} MiB after the last (a leak?)",
                first as f64 / 1024.0,
                last as f64 / 1024.0
            ));
        }
    }
    edge.run_until(async {}).await?;
    let result = server.run_until(async {}).await;
    pg.stop().await;
    drop(nats);
    result?;
    if found.is_empty() {
        println!(
            "no INTERNAL, UNKNOWN or DATA_LOSS, no hang, no 5xx from the edge, the server kept serving"
        );
        Ok(())
    } else {
        for f in &found {
            println!("VIOLATION {f}");
        }
        anyhow::bail!("{} violation(s) (seed {seed_value})", found.len())
    }
}

/// Who calls: no token, a forged one, the administrator, every demo staff
/// role, an anonymous customer and a customer identified by CPF.
async fn callers(channel: &Channel) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let mut identity = IdentityServiceClient::new(channel.clone());
    let mut out = vec![
        ("no token".to_owned(), None),
        (
            "a forged token".to_owned(),
            Some("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl".to_owned()),
        ),
    ];
    let mut logins: Vec<(&str, &str)> =
        vec![(seed::DEMO_ADMIN_USERNAME, seed::DEMO_ADMIN_PASSWORD)];
    logins.extend(seed::DEMO_STAFF.iter().map(|s| (s.username, s.password)));
    logins.extend(
        seed::DEMO_CLINIC_STAFF
            .iter()
            .map(|(username, ..)| (*username, seed::DEMO_CLINIC_PASSWORD)),
    );
    for (username, password) in logins {
        let tokens = identity
            .login(LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .await
            .with_context(|| format!("logging in as {username}"))?
            .into_inner()
            .tokens
            .context("no tokens")?;
        out.push((username.to_owned(), Some(tokens.access_token)));
    }
    let anonymous = identity
        .create_anonymous_customer(CreateAnonymousCustomerRequest::default())
        .await?
        .into_inner()
        .tokens
        .context("no tokens")?;
    out.push(("an anonymous customer".into(), Some(anonymous.access_token)));
    let identified = identity
        .identify_customer(IdentifyCustomerRequest {
            cpf: seed::DEMO_CUSTOMER_CPF.into(),
        })
        .await?
        .into_inner()
        .tokens
        .context("no tokens")?;
    out.push(("a customer by CPF".into(), Some(identified.access_token)));
    Ok(out)
}

enum Failure {
    Status(Status),
    Hang,
}

/// One raw call; a server stream is read for its first message (or a
/// second of silence) and dropped.
async fn send(
    channel: &Channel,
    method: &MethodDescriptor,
    body: Bytes,
    token: Option<&str>,
    deadline: Duration,
) -> Result<(), Failure> {
    let mut request = tonic::Request::new(body);
    if let Some(token) = token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    let path = http::uri::PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .expect("a service and method name make a path");
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if method.is_server_streaming() {
            let mut stream = grpc
                .server_streaming(request, path, Raw)
                .await?
                .into_inner();
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.message()).await;
            Ok(())
        } else {
            grpc.unary(request, path, Raw).await.map(drop)
        }
    };
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(status)) => Err(Failure::Status(status)),
        Err(_) => Err(Failure::Hang),
    }
}

/// One request through the JSON edge: its status, or `Err` for no answer
/// within `deadline`. A server stream (SSE) counts as answered once its
/// headers arrive, or after a second of silence, as on the gRPC side.
async fn send_json(
    http: &reqwest::Client,
    edge: &str,
    call: &malha_edge::HttpCall,
    body: Bytes,
    token: Option<&str>,
    deadline: Duration,
    streaming: bool,
) -> Result<http::StatusCode, ()> {
    if call.path_and_query.len() > MAX_CLIENT_URI {
        let sent = raw_http1(edge, call, &body, token);
        return match tokio::time::timeout(deadline, sent).await {
            Ok(Some(status)) => Ok(status),
            _ => Err(()),
        };
    }
    let mut request = http.request(
        call.method.clone(),
        format!("{edge}{}", call.path_and_query),
    );
    if call.body.is_some() || !body.is_empty() {
        request = request
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let wait = if streaming {
        Duration::from_secs(1)
    } else {
        deadline
    };
    match tokio::time::timeout(wait, request.send()).await {
        Ok(Ok(response)) => {
            let status = response.status();
            if !streaming {
                // Read the whole answer: a body that never ends is a hang too.
                tokio::time::timeout(deadline, response.bytes())
                    .await
                    .map_err(drop)?
                    .map_err(drop)?;
            }
            Ok(status)
        }
        Ok(Err(_)) => Err(()),
        Err(_) if streaming => Ok(http::StatusCode::OK),
        Err(_) => Err(()),
    }
}

/// The longest URI the `http` crate (so reqwest) will build; longer ones
/// are written by hand, as curl would send them.
const MAX_CLIENT_URI: usize = 65_534 - 64;

/// One HTTP/1.1 request written on a fresh connection; the status of the
/// answer (`None` if there is none, or it is not HTTP).
async fn raw_http1(
    edge: &str,
    call: &malha_edge::HttpCall,
    body: &[u8],
    token: Option<&str>,
) -> Option<http::StatusCode> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = edge.strip_prefix("http://")?;
    let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        call.method,
        call.path_and_query,
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    // The server may answer (414) and close before reading it all.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let line = answer.split(|b| *b == b'\n').next()?;
    let code = std::str::from_utf8(line).ok()?.split(' ').nth(1)?;
    http::StatusCode::from_bytes(code.as_bytes()).ok()
}

/// Bytes in, bytes out: the fuzzer encodes requests itself.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A random message of type `desc`: each field set or not, well-known
/// timestamps sometimes out of range, nesting bounded.
fn message(rng: &mut StdRng, desc: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut m = DynamicMessage::new(desc.clone());
    if desc.full_name() == "google.protobuf.Timestamp" {
        let seconds = *pick(
            rng,
            &[
                0,
                1_700_000_000,
                -62_135_596_801,
                253_402_300_800,
                i64::MAX,
                -1,
            ],
        );
        let nanos = *pick(rng, &[0, 999_999_999, 1_000_000_000, -1]);
        m.set_field_by_name("seconds", Value::I64(seconds));
        m.set_field_by_name("nanos", Value::I32(nanos));
        return m;
    }
    for field in desc.fields() {
        if rng.gen_bool(0.3) {
            continue;
        }
        let value = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            let (key, value) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            let mut map = std::collections::HashMap::new();
            for _ in 0..rng.gen_range(0..3) {
                let k = match single(rng, &key.kind(), depth + 1) {
                    Value::String(s) => MapKey::String(s),
                    Value::I32(v) => MapKey::I32(v),
                    Value::I64(v) => MapKey::I64(v),
                    Value::U32(v) => MapKey::U32(v),
                    Value::U64(v) => MapKey::U64(v),
                    Value::Bool(v) => MapKey::Bool(v),
                    _ => continue,
                };
                map.insert(k, single(rng, &value.kind(), depth + 1));
            }
            Value::Map(map)
        } else if field.is_list() {
            let n = if rng.gen_ratio(1, 25) {
                1000
            } else {
                rng.gen_range(0..4)
            };
            // Long lists hold small elements, so the request stays under the size limit.
            let element_depth = if n > 10 { depth + 3 } else { depth + 1 };
            Value::List(
                (0..n)
                    .map(|_| single(rng, &field.kind(), element_depth))
                    .collect(),
            )
        } else {
            single(rng, &field.kind(), depth + 1)
        };
        m.set_field(&field, value);
    }
    m
}

fn single(rng: &mut StdRng, kind: &Kind, depth: usize) -> Value {
    match kind {
        Kind::String => Value::String(string(rng, depth)),
        Kind::Bytes => Value::Bytes(Bytes::from(string(rng, depth).into_bytes())),
        Kind::Bool => Value::Bool(rng.r#gen()),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let any = rng.r#gen();
            Value::I32(*pick(rng, &[0, 1, -1, i32::MAX, i32::MIN, any]))
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let any = rng.r#gen();
            Value::I64(*pick(rng, &[0, 1, -1, i64::MAX, i64::MIN, any]))
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let any = rng.r#gen();
            Value::U32(*pick(rng, &[0, 1, u32::MAX, any]))
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let any = rng.r#gen();
            Value::U64(*pick(rng, &[0, 1, u64::MAX, any]))
        }
        Kind::Float => Value::F32(*pick(rng, &[0.0, -1.5, f32::NAN, f32::INFINITY, f32::MAX])),
        Kind::Double => Value::F64(*pick(
            rng,
            &[0.0, -1.5, f64::NAN, f64::NEG_INFINITY, f64::MAX],
        )),
        Kind::Enum(e) => {
            let mut numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
            numbers.extend([9999, -1]);
            Value::EnumNumber(*pick(rng, &numbers))
        }
        Kind::Message(m) if depth > 5 => Value::Message(DynamicMessage::new(m.clone())),
        Kind::Message(m) => Value::Message(message(rng, m, depth)),
    }
}

fn string(rng: &mut StdRng, depth: usize) -> String {
    let huge = depth <= 2 && rng.gen_ratio(1, 40);
    if huge {
        return "x".repeat(100_000);
    }
    match rng.gen_range(0..14) {
        0 => String::new(),
        1 => uuid::Uuid::new_v4().to_string(),
        2 => "00000000-0000-0000-0000-000000000000".into(),
        3 => seed::DEMO_CUSTOMER_CPF.into(),
        4 => "a\0b".into(),
        5 => "ção 🚀 \u{202e}".into(),
        6 => "' OR 1=1 --".into(),
        7 => "../../etc/passwd".into(),
        8 => "%s%n%x".into(),
        9 => "name,price,*,status".into(),
        10 => "-1".into(),
        11 => "2026-02-30T25:61:00Z".into(),
        _ => (0..rng.gen_range(1..40))
            .map(|_| char::from(rng.gen_range(b' '..=b'~')))
            .collect(),
    }
}

fn pick<'a, T>(rng: &mut StdRng, choices: &'a [T]) -> &'a T {
    &choices[rng.gen_range(0..choices.len())]
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_bounded_by_the_first_pass() {
        assert!(memory_bounded(400 * 1024, 440 * 1024 + 16 * 1024));
        assert!(!memory_bounded(400 * 1024, 460 * 1024 + 16 * 1024));
    }
}
