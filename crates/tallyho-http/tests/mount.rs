//! Routes mounted into the endpoint (the real dashboard router, a rules API, a reload
//! hook) sit behind the same guard as `/metrics`: 401 with a challenge and no data without
//! credentials, the mounted answer with them. On 127.0.0.1 only.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tallyho::Registry;
use tallyho_http::{Auth, Endpoint, RulesApi, Running};

/// `viewer:s3cret`.
const BASIC: (&str, &str) = ("Authorization", "Basic dmlld2VyOnMzY3JldA==");

/// A rules API answering fixed bodies and recording the `type` it was asked for.
struct FakeRules {
    asked: std::sync::Mutex<Vec<Option<String>>>,
}

impl RulesApi for FakeRules {
    fn rules(&self, kind: Option<&str>) -> Result<Value, String> {
        self.asked.lock().unwrap().push(kind.map(str::to_string));
        match kind {
            None | Some("alert") => Ok(json!({"status": "success", "data": {"groups": [
                {"name": "g", "rules": [{"name": "Hot", "type": "alerting"}]}
            ]}})),
            Some(other) => Err(format!("not supported value {other:?}")),
        }
    }

    fn alerts(&self) -> Value {
        json!({"status": "success", "data": {"alerts": [{"labels": {"alertname": "Hot"}}]}})
    }
}

fn send(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let mut req = ureq::request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let res = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = res.status();
    let challenge = res.header("www-authenticate").map(str::to_string);
    (status, challenge, res.into_string().unwrap())
}

struct Served {
    running: Running,
    rules: Arc<FakeRules>,
    reloads: Arc<AtomicUsize>,
    refuse: Arc<AtomicBool>,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.local_addr())
    }
}

fn start(auth: Auth) -> Served {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs done.").unwrap().add(3);
    let rules = Arc::new(FakeRules {
        asked: std::sync::Mutex::new(Vec::new()),
    });
    let reloads = Arc::new(AtomicUsize::new(0));
    let refuse = Arc::new(AtomicBool::new(false));
    let (n, r) = (reloads.clone(), refuse.clone());
    let running = Endpoint::new(registry)
        .auth(auth)
        .dashboard(tallyho_dashboard::router())
        .rules_api(rules.clone())
        .reload_hook(Arc::new(move || {
            n.fetch_add(1, Ordering::SeqCst);
            if r.load(Ordering::SeqCst) {
                Err("rules.yml:3: bad expression".into())
            } else {
                Ok(())
            }
        }))
        .spawn("127.0.0.1:0")
        .unwrap();
    Served {
        running,
        rules,
        reloads,
        refuse,
    }
}

#[test]
fn mounted_routes_need_the_same_credentials_as_metrics() {
    let s = start(Auth::basic("viewer", "s3cret"));
    let (asset, _) = tallyho_dashboard::asset_paths();
    for (method, path) in [
        ("GET", "/"),
        ("GET", asset.as_str()),
        ("GET", "/api/v1/rules"),
        ("GET", "/api/v1/alerts"),
        ("POST", "/-/reload"),
        ("GET", "/metrics"),
    ] {
        let (status, challenge, body) = send(method, &s.url(path), &[]);
        assert_eq!(status, 401, "{method} {path} without credentials: {body}");
        assert!(
            challenge.as_deref().unwrap_or("").starts_with("Basic"),
            "{method} {path}: {challenge:?}"
        );
        assert!(
            !body.contains("Hot") && !body.contains("<html") && !body.contains("jobs"),
            "{method} {path} leaked: {body}"
        );
        let wrong = ("Authorization", "Basic dmlld2VyOndyb25n"); // viewer:wrong
        assert_eq!(send(method, &s.url(path), &[wrong]).0, 401, "{path}");
    }
    assert_eq!(
        s.reloads.load(Ordering::SeqCst),
        0,
        "refused before the hook"
    );
    assert!(s.rules.asked.lock().unwrap().is_empty());

    let (status, _, page) = send("GET", &s.url("/"), &[BASIC]);
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page}");
    assert_eq!(send("GET", &s.url(&asset), &[BASIC]).0, 200, "{asset}");
    let (status, _, metrics) = send("GET", &s.url("/metrics"), &[BASIC]);
    assert_eq!(status, 200);
    assert!(metrics.contains("jobs_total 3"), "{metrics}");
}

#[test]
fn rules_and_alerts_answer_the_apis_bodies() {
    let s = start(Auth::basic("viewer", "s3cret"));
    let (status, _, body) = send("GET", &s.url("/api/v1/rules"), &[BASIC]);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["groups"][0]["rules"][0]["name"], "Hot");

    let (status, _, _) = send("GET", &s.url("/api/v1/rules?type=al%65rt"), &[BASIC]);
    assert_eq!(status, 200);
    let (status, _, body) = send("GET", &s.url("/api/v1/rules?type=bogus"), &[BASIC]);
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert!(
        v["error"].as_str().unwrap().contains("\"bogus\""),
        "names the value: {v}"
    );
    let (status, _, body) = send("GET", &s.url("/api/v1/rules?type=%zz"), &[BASIC]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        *s.rules.asked.lock().unwrap(),
        [None, Some("alert".to_string()), Some("bogus".to_string())],
        "a malformed escape never reaches the API"
    );

    let (status, _, body) = send("GET", &s.url("/api/v1/alerts"), &[BASIC]);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["alerts"][0]["labels"]["alertname"], "Hot");
}

#[test]
fn reload_calls_the_hook_and_reports_its_refusal() {
    let s = start(Auth::None);
    let (status, _, _) = send("POST", &s.url("/-/reload"), &[]);
    assert_eq!(status, 200);
    assert_eq!(s.reloads.load(Ordering::SeqCst), 1);
    s.refuse.store(true, Ordering::SeqCst);
    let (status, _, body) = send("POST", &s.url("/-/reload"), &[]);
    assert_eq!(status, 500);
    assert!(body.contains("rules.yml:3: bad expression"), "{body}");
    assert_eq!(s.reloads.load(Ordering::SeqCst), 2);
    // GET does not reload.
    let (status, _, _) = send("GET", &s.url("/-/reload"), &[]);
    assert_eq!(status, 405);
    assert_eq!(s.reloads.load(Ordering::SeqCst), 2);
    // Without auth configured, the dashboard is open like /metrics.
    assert_eq!(send("GET", &s.url("/"), &[]).0, 200);
}

#[test]
fn nothing_mounted_means_nothing_served() {
    let running = Endpoint::new(Registry::new()).spawn("127.0.0.1:0").unwrap();
    let url = |p: &str| format!("http://{}{p}", running.local_addr());
    assert_eq!(send("GET", &url("/"), &[]).0, 404);
    assert_eq!(send("GET", &url("/api/v1/rules"), &[]).0, 404);
    assert_eq!(send("POST", &url("/-/reload"), &[]).0, 404);
}
