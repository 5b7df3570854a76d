#![forbid(unsafe_code)]
#![deny(warnings)]

use std::fmt;
use std::sync::OnceLock;

use tallyho::Registry;
use tallyho_macros::{counted, timed};

mod metrics {
    pub fn registry() -> &'static tallyho::Registry {
        static R: std::sync::OnceLock<tallyho::Registry> = std::sync::OnceLock::new();
        R.get_or_init(tallyho::Registry::new)
    }
}

fn local() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::new)
}

#[timed]
fn defaults() {}

#[timed(name = "a.b", help = "Help.", labels(k = "v"), registry = metrics::registry, buckets = [-1, 0.0, 1e3])]
#[counted(name = "c", help = "Help.", labels(k = "v", j = "w"), registry = local)]
pub fn everything(x: u32) -> Result<u32, fmt::Error> {
    if x == 0 {
        return Err(fmt::Error);
    }
    let y: u32 = "5".parse().map_err(|_| fmt::Error)?;
    Ok(x + y)
}

#[timed(buckets = [])]
fn fmt_result(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("x")
}

#[counted]
fn io_result() -> std::io::Result<()> {
    Ok(())
}

#[timed]
fn generic<T: Clone, const N: usize>(items: [T; N]) -> Vec<T> {
    items.to_vec()
}

#[counted]
fn returns_impl(v: &[u8]) -> impl Iterator<Item = &u8> + '_ {
    v.iter()
}

#[timed]
fn boxed_error() -> Result<(), Box<dyn std::error::Error>> {
    let _: u8 = "1".parse()?;
    Ok(())
}

#[counted]
fn by_pattern((a, b): (u8, u8), _: u8) -> u8 {
    a + b
}

#[timed]
async fn async_unit() {}

#[timed]
#[counted]
async fn async_result(s: &str) -> Result<&str, fmt::Error> {
    if s.is_empty() {
        return Err(fmt::Error);
    }
    Ok(s)
}

#[counted]
async fn async_impl() -> impl fmt::Display {
    5
}

#[timed]
fn r#match() {}

struct Shown;

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_result(f)
    }
}

struct S(Vec<String>);

trait T {
    fn provided(&self) -> usize;
}

impl T for S {
    #[timed]
    fn provided(&self) -> usize {
        self.0.len()
    }
}

impl S {
    #[timed]
    #[counted]
    fn get(&self, i: usize) -> Option<&String> {
        self.0.get(i)
    }

    #[counted]
    fn get_mut(&mut self) -> &mut Vec<String> {
        &mut self.0
    }

    #[timed]
    async fn take(self) -> Result<Vec<String>, ()> {
        Ok(self.0)
    }

    #[counted]
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }
}

fn assert_send<F: std::future::Future + Send>(f: F) -> F {
    f
}

fn main() {
    defaults();
    let _ = everything(1);
    let _ = io_result();
    let _ = generic([1, 2]);
    let _ = returns_impl(&[1]).count();
    let _ = boxed_error();
    let _ = by_pattern((1, 2), 3);
    let _ = assert_send(async_unit());
    let _ = assert_send(async_result("x"));
    let _ = assert_send(async_impl());
    r#match();
    let mut s = S::new();
    s.get_mut().push("x".into());
    let _ = s.get(0);
    let _ = s.provided();
    let _ = assert_send(s.take());
    let _ = format!("{}", Shown);
}
