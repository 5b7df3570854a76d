//! Attribute macros that instrument functions with [tallyho](https://docs.rs/tallyho) metrics.
//!
//! - [`macro@timed`] records how long each call takes into a histogram, in seconds.
//! - [`macro@counted`] counts calls.
//!
//! Both work on free functions and on methods in `impl` blocks, sync or `async`. The
//! expanded code names only `::tallyho::...`, so a crate using them depends on `tallyho`
//! and `tallyho-macros`.
//!
//! ```
//! use tallyho_macros::{counted, timed};
//!
//! #[timed]
//! fn load(path: &str) -> std::io::Result<String> {
//!     std::fs::read_to_string(path)
//! }
//!
//! #[counted(name = "cache_lookups", labels(cache = "users"))]
//! async fn lookup(id: u64) -> Option<String> {
//!     None
//! }
//!
//! let _ = load("/no/such/file");
//! let snapshot = tallyho::global().snapshot();
//! let err = snapshot.family("load_duration_seconds").unwrap().series_with(&[("outcome", "err")]);
//! assert_eq!(err.unwrap().value.as_histogram().unwrap().count, 1);
//! ```
//!
//! # Metrics
//!
//! | macro | default name | kind | default help |
//! |---|---|---|---|
//! | `#[timed]` | `<fn>_duration_seconds` | histogram, unit `seconds` | `Duration of <fn>.` |
//! | `#[counted]` | `<fn>_calls` (encoders add `_total`) | counter | `Calls to <fn>.` |
//!
//! When the declared return type is a path whose last segment is `Result` (`Result<T, E>`,
//! `io::Result<T>`, `fmt::Result`, ...), the metric gets an `outcome` label, checked
//! syntactically, with the value found through `.is_ok()` on the returned value:
//!
//! - `ok` / `err`: the function returned `Ok` / `Err`;
//! - `panic`: the function (or the future, while being polled) panicked;
//! - `cancelled`: an `async` function's future was dropped before it completed.
//!
//! Without a `Result` return type there is no `outcome` label, and **only completed calls
//! are recorded**: a call that panics, or a future dropped before completion, records
//! nothing (it is never counted as a success).
//!
//! A call whose future is dropped during a panic's unwinding (a task panicked elsewhere) is
//! recorded as `panic`, since both look the same from inside the future.
//!
//! # Arguments
//!
//! - `name = "..."`: the metric name (for `#[timed]`, `_seconds` is appended when the name does
//!   not already end with it).
//! - `help = "..."`: the help text.
//! - `labels(key = "value", ...)`: constant labels, registered as extra label names of the
//!   family (after `outcome`) with fixed values.
//! - `registry = path::to::function`: a function (called with no arguments) returning
//!   `&tallyho::Registry`; default [`tallyho::global()`](https://docs.rs/tallyho).
//! - `buckets = [0.001, 0.01, ...]` (`#[timed]` only): histogram bucket bounds as number
//!   literals, strictly increasing; default `Buckets::default_seconds()`.
//!
//! Names, label names and buckets are checked at compile time, by the same rules
//! (`tallyho-names`) the registry applies at run time; a mistake in the attribute is a
//! compile error pointing at the offending token.
//!
//! # Expansion
//!
//! Each instrumented function gets, inside its body, a `static` `OnceLock` holding the family
//! and one lazily resolved child handle per outcome. The first call registers the family in
//! the registry (the registry function is called only then); when registration fails (a name
//! already registered with another type, labels or buckets) the handles are no-ops and the
//! function runs unmeasured: the macros never panic at run time. Later calls cost two atomic
//! loads plus the recording itself (and two clock reads for `#[timed]`).
//!
//! A sync body runs inside a `move` closure called once in place (so `return` and `?` keep
//! their meaning); an `async` body runs inside an `async move` block awaited in place. A drop
//! guard records the outcome, so panics and cancellation are seen. The signature is left
//! untouched. For `async fn`, time runs from the first poll of the future (when its body
//! starts) to its completion. A non-`async` function returning a future is timed like any sync
//! function: only the creation of the future is measured.
//!
//! The macros cannot be applied to `const fn` or to functions without a body.
#![deny(missing_docs)]

mod args;
mod buckets;
mod expand;
mod target;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;

use crate::args::Args;
use crate::expand::expand;
use crate::target::parse_fn;

/// Records the duration of every call of a function into a histogram, in seconds.
///
/// Default name `<fn>_duration_seconds`, help `Duration of <fn>.`, an `outcome` label when the
/// function returns a `Result`. Accepts `name`, `help`, `labels(..)`, `registry` and `buckets`;
/// see the [crate documentation](crate).
///
/// ```
/// # #[derive(Debug)] struct Error;
/// #[tallyho_macros::timed(buckets = [0.001, 0.01, 0.1, 1.0], labels(db = "primary"))]
/// async fn query(sql: &str) -> Result<u64, Error> {
///     Ok(sql.len() as u64)
/// }
/// ```
#[proc_macro_attribute]
pub fn timed(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Timed, attr, item)
}

/// Counts the calls of a function.
///
/// Default name `<fn>_calls` (encoders add `_total`), help `Calls to <fn>.`, an `outcome`
/// label when the function returns a `Result`; without one only completed calls are counted.
/// Accepts `name`, `help`, `labels(..)` and `registry`; see the [crate documentation](crate).
///
/// ```
/// # struct Job; struct QueueFull;
/// #[tallyho_macros::counted(labels(queue = "mail"))]
/// fn enqueue(job: Job) -> Result<(), QueueFull> {
///     Ok(())
/// }
/// # let _ = enqueue(Job);
/// let snapshot = tallyho::global().snapshot();
/// assert_eq!(snapshot.value("enqueue_calls", &[("outcome", "ok"), ("queue", "mail")]), Some(1.0));
/// ```
#[proc_macro_attribute]
pub fn counted(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Counted, attr, item)
}

/// Which macro is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timed,
    Counted,
}

impl Kind {
    /// The attribute as written, for messages.
    fn attr(self) -> &'static str {
        match self {
            Kind::Timed => "#[timed]",
            Kind::Counted => "#[counted]",
        }
    }

    /// The arguments the attribute accepts, for messages.
    fn keys(self) -> &'static str {
        match self {
            Kind::Timed => "`name`, `help`, `labels`, `registry`, `buckets`",
            Kind::Counted => "`name`, `help`, `labels`, `registry`",
        }
    }
}

/// Parses the arguments and the item, then expands; an error keeps the item as it is.
fn run(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| args.parse(kind, meta));
    let parsed = syn::parse::Parser::parse(parser, attr);
    let item = TokenStream2::from(item);
    let result = parsed
        .and_then(|()| parse_fn(kind, item.clone()))
        .and_then(|f| expand(kind, &args, f));
    match result {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            // Keep the item so that the only error shown is the attribute's.
            let mut out = e.to_compile_error();
            out.extend(item);
            out.into()
        }
    }
}
