//! A small web app measured with `HttpMetricsLayer` and serving its own `/metrics`.
//!
//! Run: `cargo run -p tallyho-http --example axum_app` and open
//! http://127.0.0.1:3000/hello/you, then http://127.0.0.1:3000/metrics.
//! With `--self-test` it sends itself a few requests, prints its metrics and exits.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use tallyho::Registry;
use tallyho_http::{Endpoint, HttpMetricsLayer};

async fn hello(Path(name): Path<String>) -> String {
    format!("hello, {name}\n")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::builder()
        .constant_label("service", "axum_app")
        .build()?;
    let greetings = registry.counter("greetings", "Greetings sent.")?;
    let app = Router::new()
        .route(
            "/hello/{name}",
            get(move |p: Path<String>| {
                greetings.inc();
                hello(p)
            }),
        )
        .layer(HttpMetricsLayer::new(&registry)?)
        .merge(Endpoint::new(registry).router());

    let self_test = std::env::args().any(|a| a == "--self-test");
    let addr = if self_test {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    if !self_test {
        println!("listening on http://{local}");
        server.await?;
        return Ok(());
    }
    tokio::spawn(async move { server.await });
    let metrics = tokio::task::spawn_blocking(move || -> Result<String, String> {
        for who in ["ada", "grace", "ada"] {
            ureq_get(&format!("http://{local}/hello/{who}"))?;
        }
        ureq_get(&format!("http://{local}/no/such/route")).ok();
        ureq_get(&format!("http://{local}/metrics"))
    })
    .await??;
    print!("{metrics}");
    Ok(())
}

/// A minimal HTTP/1.1 GET over a std socket, so the example needs no HTTP client crate.
fn ureq_get(url: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let (head, body) = out.split_once("\r\n\r\n").ok_or("no body")?;
    if !head.starts_with("HTTP/1.1 2") {
        return Err(head.lines().next().unwrap_or("").to_owned());
    }
    Ok(body.to_owned())
}
