//! Forged and out-of-policy tokens are refused by every service's verifier.
//! Tokens are forged with identity's own signing key (read from its
//! database), so only the checked property is wrong in each.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tonic::Code;

use crate::helpers::{TEST_KEK, TestApp, authed};
use malha_api::identity::*;
use malha_identity::wrap::{self, KeyWrap};
use malha_kit::config::Secret;

struct Forge {
    kid: String,
    key: jsonwebtoken::EncodingKey,
    public_x: String,
}

impl Forge {
    async fn from(app: &TestApp) -> Self {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        let (kid, pkcs8, public_x): (String, Vec<u8>, String) = sqlx::query_as(
            "SELECT kid, private_pkcs8, public_x FROM identity.signing_keys WHERE retired_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        // The thief also has the key-encryption key.
        let kek = KeyWrap::from_base64(&Secret::new(TEST_KEK)).unwrap();
        let pkcs8 = wrap::open(Some(&kek), &kid, &pkcs8).unwrap();
        Self {
            kid,
            key: jsonwebtoken::EncodingKey::from_ed_der(&pkcs8),
            public_x,
        }
    }

    fn claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": "malha", "aud": "malha", "sub": uuid::Uuid::now_v7().to_string(),
            "exp": now + 600, "iat": now, "nbf": now, "jti": "forged",
            "kind": "user", "username": "eve", "email": "", "roles": ["admin"]
        })
    }

    fn sign(&self, claims: &Value, kid: &str, typ: Option<&str>) -> String {
        let header = jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::EdDSA,
            typ: typ.map(str::to_owned),
            kid: Some(kid.to_owned()),
            ..Default::default()
        };
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn good(&self, claims: &Value) -> String {
        self.sign(claims, &self.kid, Some("at+jwt"))
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn call(app: &TestApp, token: &str) -> Result<(), tonic::Status> {
    app.identity()
        .await
        .list_customers(authed(ListCustomersRequest::default(), token))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn forged_and_invalid_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.bootstrap_admin().await;
    let forge = Forge::from(&app).await;
    let now = chrono::Utc::now().timestamp();

    // Sanity: the forge makes tokens the server accepts when nothing is wrong.
    call(&app, &forge.good(&forge.claims()))
        .await
        .expect("baseline token accepted");

    let mut cases: Vec<(&str, String)> = Vec::new();
    let payload = b64(&forge.claims());

    let none_header = b64(&json!({"alg": "none", "typ": "at+jwt", "kid": forge.kid}));
    cases.push(("alg none", format!("{none_header}.{payload}.")));

    let hs_header = b64(&json!({"alg": "HS256", "typ": "at+jwt", "kid": forge.kid}));
    let signing_input = format!("{hs_header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(forge.public_x.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    cases.push((
        "HS256 keyed with the public key",
        format!("{signing_input}.{sig}"),
    ));

    cases.push((
        "unknown kid",
        forge.sign(&forge.claims(), "not-a-key", Some("at+jwt")),
    ));
    cases.push(("no typ", forge.sign(&forge.claims(), &forge.kid, None)));
    cases.push((
        "wrong typ",
        forge.sign(&forge.claims(), &forge.kid, Some("JWT")),
    ));

    let mut expired = forge.claims();
    expired["exp"] = json!(now - 3600);
    cases.push(("expired", forge.good(&expired)));

    let mut early = forge.claims();
    early["nbf"] = json!(now + 3600);
    cases.push(("not yet valid", forge.good(&early)));

    let mut iss = forge.claims();
    iss["iss"] = json!("someone-else");
    cases.push(("wrong iss", forge.good(&iss)));

    let mut aud = forge.claims();
    aud["aud"] = json!("another-api");
    cases.push(("wrong aud", forge.good(&aud)));

    let mut no_exp = forge.claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", forge.good(&no_exp)));

    // A customer's real token with its payload edited to say admin.
    let customer = app.customer_token().await;
    let parts: Vec<&str> = customer.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = json!(["admin"]);
    cases.push((
        "tampered payload",
        format!("{}.{}.{}", parts[0], b64(&claims), parts[2]),
    ));

    // Signed by a key identity never published, under the real kid.
    let stranger = Forge {
        kid: forge.kid.clone(),
        key: jsonwebtoken::EncodingKey::from_ed_der(&stranger_key()),
        public_x: String::new(),
    };
    cases.push(("foreign key, real kid", stranger.good(&forge.claims())));

    for (name, token) in cases {
        let refused = call(&app, &token).await.expect_err(name);
        assert_eq!(refused.code(), Code::Unauthenticated, "{name}: {refused:?}");
    }
}

fn stranger_key() -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[7u8; 32]);
    der
}
