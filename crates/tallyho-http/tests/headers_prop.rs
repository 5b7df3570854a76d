//! Property tests for the request headers tallyho reads itself, through the endpoint's
//! router: `Authorization` (basic and bearer) and `Accept` (format negotiation). Random
//! header bytes never panic and never authenticate; configured credentials match exactly
//! (any change to the user, password or token is refused); a scrape's `Content-Type` is
//! what `Format::negotiate` picks for its `Accept`. `corpus/headers.txt` holds header
//! values with their expected outcome and is replayed on every run.

use axum::body::Body;
use base64::Engine as _;
use http::{header, HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use tallyho::Registry;
use tallyho_encode::Format;
use tallyho_http::{Auth, Endpoint};
use tower::ServiceExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn router(auth: Auth) -> axum::Router {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs processed.").unwrap().inc();
    Endpoint::new(registry).auth(auth).router()
}

/// GET /metrics with `headers` (raw value bytes); the status and `Content-Type`.
fn scrape(
    rt: &tokio::runtime::Runtime,
    router: &axum::Router,
    headers: &[(header::HeaderName, &[u8])],
) -> (StatusCode, String) {
    let mut req = Request::get("/metrics").body(Body::empty()).unwrap();
    for (name, value) in headers {
        let value = HeaderValue::from_bytes(value).expect("a header value the wire allows");
        req.headers_mut().append(name.clone(), value);
    }
    let res = rt.block_on(router.clone().oneshot(req)).unwrap();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (res.status(), ct)
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Bytes a header value may hold on the wire (visible ASCII, space, tab, obs-text).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
        ],
        0..80,
    )
}

/// Strings for credentials: printable ASCII and some Unicode, colons included.
fn secret() -> impl Strategy<Value = String> {
    "[!-~é🦀: ]{1,24}"
}

/// A token as a header carries it: visible ASCII, no surrounding space.
fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,40}"
}

/// An `Accept` value built from the pieces scrapers send, with odd q-values.
fn accept() -> impl Strategy<Value = String> {
    let media = prop::sample::select(vec![
        "text/plain",
        "text/*",
        "*/*",
        "application/openmetrics-text",
        "application/openmetrics-text;version=1.0.0",
        "application/openmetrics-text;version=0.0.1",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
        "application/json",
        "TEXT/PLAIN",
        "",
    ]);
    let q = prop::sample::select(vec![
        "", ";q=1", ";q=0", ";q=0.5", ";q=0.1", ";q=NaN", ";q=-1", ";q=1e400", ";q=", ";Q=0.2",
    ]);
    prop::collection::vec((media, q), 0..5).prop_map(|ranges| {
        ranges
            .iter()
            .map(|(m, q)| format!("{m}{q}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

#[test]
fn header_corpus_is_handled() {
    let rt = runtime();
    let basic_router = router(Auth::basic("prom", "s3cret"));
    let bearer_router = router(Auth::bearer("tok-3n"));
    let open_router = router(Auth::None);
    let mut cases = 0;
    for line in include_str!("corpus/headers.txt").lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [kind, value, want] = fields[..] else {
            panic!("corpus line {line:?}: want three tab-separated fields");
        };
        let value = &value.replace("\\t", "\t");
        cases += 1;
        match kind {
            "basic" | "bearer" => {
                let r = if kind == "basic" {
                    &basic_router
                } else {
                    &bearer_router
                };
                let (status, _) = scrape(&rt, r, &[(header::AUTHORIZATION, value.as_bytes())]);
                assert_eq!(status.as_str(), want, "{kind} {value:?}");
            }
            "accept" => {
                let (status, ct) = scrape(&rt, &open_router, &[(header::ACCEPT, value.as_bytes())]);
                assert_eq!(status, StatusCode::OK, "{value:?}");
                let want: Format = want.parse().unwrap();
                assert_eq!(ct, want.content_type(), "accept {value:?}");
            }
            other => panic!("corpus line {line:?}: unknown kind {other:?}"),
        }
    }
    assert!(cases >= 20, "{cases} corpus cases");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_authorization_never_authenticates(value in header_bytes(), bearer in any::<bool>()) {
        let rt = runtime();
        let auth = if bearer { Auth::bearer("tok-3n") } else { Auth::basic("prom", "s3cret") };
        let (status, _) = scrape(&rt, &router(auth), &[(header::AUTHORIZATION, &value)]);
        prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?}", String::from_utf8_lossy(&value));
    }

    #[test]
    fn basic_credentials_match_only_exactly(
        user in "[!-9;-~é🦀]{1,16}",
        password in secret(),
        other in secret(),
        scheme in prop::sample::select(vec!["Basic", "basic", "BASIC", "bAsIc"]),
    ) {
        let rt = runtime();
        let r = router(Auth::basic(user.clone(), password.clone()));
        let good = basic(&user, &password).replacen("Basic", scheme, 1);
        let (status, _) = scrape(&rt, &r, &[(header::AUTHORIZATION, good.as_bytes())]);
        prop_assert_eq!(status, StatusCode::OK);
        let mut wrong = vec![
            basic(&user, &format!("{password}x")),
            basic(&user, &password[..password.len() - password.chars().last().unwrap().len_utf8()]),
            basic(&format!("{user}x"), &password),
            basic(&user.to_uppercase(), &password),
            basic(&format!("{user}:{password}"), ""),
            format!("Bearer {}", &good[6..]),
            format!("Basic{}", &good[5..]).replacen(' ', "", 1),
        ];
        if other != password {
            wrong.push(basic(&user, &other));
        }
        for w in wrong {
            if w == basic(&user, &password) {
                continue; // `user` was upper case already
            }
            let (status, _) = scrape(&rt, &r, &[(header::AUTHORIZATION, w.as_bytes())]);
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?} let in for {:?}:{:?}", w, user, password);
        }
    }

    #[test]
    fn bearer_tokens_match_only_exactly(token in token(), other in token(), cut in 1usize..40) {
        let rt = runtime();
        let r = router(Auth::bearer(token.clone()));
        let (status, _) = scrape(&rt, &r, &[(header::AUTHORIZATION, format!("Bearer {token}").as_bytes())]);
        prop_assert_eq!(status, StatusCode::OK);
        let mut wrong = vec![
            format!("Bearer {token}x"),
            format!("Bearer x{token}"),
            format!("Bearer {token} {token}"),
            format!("Basic {token}"),
            format!("Bearer{token}"),
            token.clone(),
        ];
        if cut < token.len() {
            wrong.push(format!("Bearer {}", &token[..cut]));
        }
        if other != token {
            wrong.push(format!("Bearer {other}"));
        }
        for w in wrong {
            let (status, _) = scrape(&rt, &r, &[(header::AUTHORIZATION, w.as_bytes())]);
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?} let in for {:?}", w, token);
        }
    }

    #[test]
    fn scrape_content_type_is_the_negotiated_one(value in prop_oneof![
        accept().prop_map(String::into_bytes),
        header_bytes(),
    ]) {
        let rt = runtime();
        let (status, ct) = scrape(&rt, &router(Auth::None), &[(header::ACCEPT, &value)]);
        prop_assert_eq!(status, StatusCode::OK);
        let want = std::str::from_utf8(&value).map_or(Format::Prometheus, Format::negotiate);
        prop_assert_eq!(ct, want.content_type());
    }

    #[test]
    fn negotiation_of_one_range_follows_its_q_value(
        media in prop::sample::select(vec![
            ("application/openmetrics-text", Format::OpenMetrics),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", Format::Protobuf),
            ("text/plain", Format::Prometheus),
        ]),
        q in -2.0f64..3.0,
    ) {
        let got = Format::negotiate(&format!("{};q={q}", media.0));
        // As the header spells it and the negotiation reads it (an f32).
        let read: f32 = q.to_string().parse().unwrap();
        let want = if read > 0.0 { media.1 } else { Format::Prometheus };
        prop_assert_eq!(got, want, "{};q={}", media.0, q);
    }
}
