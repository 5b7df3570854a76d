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
//! Names, label names and buckets are checked at compile time; a mistake in the attribute is
//! a compile error pointing at the offending token.
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

use proc_macro::TokenStream;
use proc_macro2::{Literal, Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprLit, ExprUnary, Ident, Item, ItemFn, Lit, LitStr, ReturnType, Type, UnOp};

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timed,
    Counted,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Timed => "#[timed]",
            Kind::Counted => "#[counted]",
        }
    }

    fn keys(self) -> &'static str {
        match self {
            Kind::Timed => "`name`, `help`, `labels`, `registry`, `buckets`",
            Kind::Counted => "`name`, `help`, `labels`, `registry`",
        }
    }
}

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

#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    help: Option<LitStr>,
    labels: Option<Vec<(String, Ident, LitStr)>>,
    registry: Option<syn::Path>,
    buckets: Option<Vec<f64>>,
}

/// The expression after `key =`, with an error pointing at the key when `=` is missing.
fn value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(syn::Token![=]) {
        return Err(meta.error(format!("expected a value: `{key} = {example}`")));
    }
    meta.value()?.parse()
}

fn string_lit(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<LitStr> {
    let expr = value(meta, key, "\"...\"")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        other => Err(syn::Error::new_spanned(
            other,
            format!("expected a string literal: `{key} = \"...\"`"),
        )),
    }
}

impl Args {
    fn parse(&mut self, kind: Kind, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.unraw().to_string())
            .unwrap_or_default();
        let duplicate = || meta.error(format!("duplicate `{key}` argument"));
        match key.as_str() {
            "name" => {
                if self.name.is_some() {
                    return Err(duplicate());
                }
                let lit = string_lit(&meta, "name")?;
                check_metric_name(&lit.value()).map_err(|r| {
                    syn::Error::new(lit.span(), format!("invalid metric name: {r}"))
                })?;
                self.name = Some(lit);
            }
            "help" => {
                if self.help.is_some() {
                    return Err(duplicate());
                }
                self.help = Some(string_lit(&meta, "help")?);
            }
            "labels" => {
                if self.labels.is_some() {
                    return Err(duplicate());
                }
                if meta.input.peek(syn::Token![=]) {
                    return Err(meta.error("expected `labels(key = \"value\", ...)`"));
                }
                let mut labels: Vec<(String, Ident, LitStr)> = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let Some(ident) = inner.path.get_ident() else {
                        return Err(inner.error("expected a label name: `key = \"value\"`"));
                    };
                    let name = ident.unraw().to_string();
                    check_label_name(&name).map_err(|r| {
                        syn::Error::new(ident.span(), format!("invalid label name `{name}`: {r}"))
                    })?;
                    if labels.iter().any(|(n, _, _)| *n == name) {
                        return Err(syn::Error::new(
                            ident.span(),
                            format!("duplicate label `{name}`"),
                        ));
                    }
                    let value = string_lit(&inner, &name)?;
                    labels.push((name, ident.clone(), value));
                    Ok(())
                })?;
                self.labels = Some(labels);
            }
            "registry" => {
                if self.registry.is_some() {
                    return Err(duplicate());
                }
                let expr = value(&meta, "registry", "path::to::registry_fn")?;
                match expr {
                    Expr::Path(p) if p.qself.is_none() => self.registry = Some(p.path),
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "expected a path to a function returning `&tallyho::Registry`, \
                             without parentheses: `registry = my_crate::metrics_registry`",
                        ))
                    }
                }
            }
            "buckets" if kind == Kind::Timed => {
                if self.buckets.is_some() {
                    return Err(duplicate());
                }
                self.buckets = Some(parse_buckets(&meta)?);
            }
            "buckets" => {
                return Err(meta.error(
                    "`buckets` is only supported by `#[timed]`: `#[counted]` records a counter",
                ))
            }
            _ => {
                let shown = meta.path.to_token_stream().to_string().replace(' ', "");
                return Err(meta.error(format!(
                    "unknown {} argument `{shown}`; expected one of {}",
                    kind.attr(),
                    kind.keys()
                )));
            }
        }
        Ok(())
    }
}

fn parse_buckets(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<f64>> {
    let expr = value(meta, "buckets", "[0.01, 0.1, 1.0]")?;
    let Expr::Array(array) = expr else {
        return Err(syn::Error::new_spanned(
            expr,
            "expected an array of number literals: `buckets = [0.01, 0.1, 1.0]`",
        ));
    };
    if array.elems.len() > 1024 {
        return Err(syn::Error::new_spanned(
            &array,
            format!(
                "{} bucket bounds given, at most 1024 allowed",
                array.elems.len()
            ),
        ));
    }
    let mut bounds: Vec<f64> = Vec::with_capacity(array.elems.len());
    for elem in &array.elems {
        let v = bound(elem)?;
        if !v.is_finite() {
            return Err(syn::Error::new_spanned(
                elem,
                "bucket bounds must be finite (+Inf is always added)",
            ));
        }
        if let Some(&prev) = bounds.last() {
            if prev >= v {
                return Err(syn::Error::new_spanned(
                    elem,
                    format!(
                        "bucket bounds must be strictly increasing, but {prev:?} is followed by {v:?}"
                    ),
                ));
            }
        }
        bounds.push(v);
    }
    Ok(bounds)
}

fn bound(elem: &Expr) -> syn::Result<f64> {
    let bad = || {
        syn::Error::new_spanned(
            elem,
            "expected a number literal (f64) as bucket bound, such as `0.5` or `10`",
        )
    };
    match elem {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Float(f) if matches!(f.suffix(), "" | "f64") => f.base10_parse::<f64>(),
            Lit::Int(i) if matches!(i.suffix(), "" | "f64") => i.base10_parse::<f64>(),
            _ => Err(bad()),
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) if matches!(**expr, Expr::Lit(_)) => bound(expr).map(|v| -v),
        Expr::Group(g) => bound(&g.expr),
        _ => Err(bad()),
    }
}

/// The Prometheus metric name rule, as `tallyho::name::metric_name` applies it.
fn check_metric_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("it is empty"),
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        Some(c) if c.is_ascii_digit() => return Err("it starts with a digit"),
        Some(_) => return Err("it starts with a character outside [a-zA-Z_:]"),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.')) {
        return Err("it contains a character outside [a-zA-Z0-9_:.]");
    }
    Ok(())
}

/// The label name rule, as `tallyho::name::label_name` applies it.
fn check_label_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return Err("it must start with a character in [a-zA-Z_]"),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_')) {
        return Err("it contains a character outside [a-zA-Z0-9_]");
    }
    if name.starts_with("__") {
        return Err("names starting with `__` are reserved for Prometheus' internal use");
    }
    match name {
        "le" => Err("`le` is reserved for histogram bucket bounds"),
        "quantile" => Err("`quantile` is reserved for summary quantiles"),
        "otel_metric_overflow" => Err("`otel_metric_overflow` is reserved by tallyho"),
        _ => Ok(()),
    }
}

fn parse_fn(kind: Kind, item: TokenStream2) -> syn::Result<ItemFn> {
    let not_fn = |span: Span| {
        syn::Error::new(
            span,
            format!(
                "{} can only be applied to functions and methods",
                kind.attr()
            ),
        )
    };
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => Ok(f),
        Ok(Item::Verbatim(tokens)) => {
            // Such as a method declaration without a body (`fn f(&self);`).
            if let Ok(f) = syn::parse2::<syn::TraitItemFn>(tokens.clone()) {
                if f.default.is_none() {
                    return Err(syn::Error::new(
                        f.sig.ident.span(),
                        format!("{} needs a function with a body", kind.attr()),
                    ));
                }
            }
            Err(not_fn(first_span(tokens)))
        }
        Ok(other) => Err(not_fn(item_keyword(&other))),
        Err(e) => Err(e),
    }
}

fn first_span(tokens: TokenStream2) -> Span {
    tokens
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// The span of the keyword that says what an item is (`struct`, `mod`, ...).
fn item_keyword(item: &Item) -> Span {
    match item {
        Item::Const(i) => i.const_token.span,
        Item::Enum(i) => i.enum_token.span,
        Item::ExternCrate(i) => i.extern_token.span,
        Item::ForeignMod(i) => i.abi.extern_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Macro(i) => i.mac.path.span(),
        Item::Mod(i) => i.mod_token.span,
        Item::Static(i) => i.static_token.span,
        Item::Struct(i) => i.struct_token.span,
        Item::Trait(i) => i.trait_token.span,
        Item::TraitAlias(i) => i.trait_token.span,
        Item::Type(i) => i.type_token.span,
        Item::Union(i) => i.union_token.span,
        Item::Use(i) => i.use_token.span,
        other => first_span(other.to_token_stream()),
    }
}

/// Whether the declared return type is a path ending in `Result`.
fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let mut ty = &**ty;
    loop {
        match ty {
            Type::Group(g) => ty = &g.elem,
            Type::Paren(p) => ty = &p.elem,
            _ => break,
        }
    }
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident.unraw() == "Result"),
        _ => false,
    }
}

/// Replaces `impl Trait` by `_`, which closures and `let` bindings accept.
struct InferImpl;

impl VisitMut for InferImpl {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(i) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](i.impl_token.span),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

fn expand(kind: Kind, args: &Args, f: ItemFn) -> syn::Result<TokenStream2> {
    if let Some(c) = &f.sig.constness {
        return Err(syn::Error::new(
            c.span,
            format!("{} cannot be applied to a `const fn`", kind.attr()),
        ));
    }
    let fn_name = f.sig.ident.unraw().to_string();
    let is_result = returns_result(&f.sig.output);
    let labels = args.labels.as_deref().unwrap_or_default();
    if is_result {
        if let Some((_, ident, _)) = labels.iter().find(|(n, _, _)| n == "outcome") {
            return Err(syn::Error::new(
                ident.span(),
                "`outcome` is set by the macro for functions returning `Result` (ok, err, panic, cancelled)",
            ));
        }
    }

    let name = match &args.name {
        Some(n) => n.value(),
        None => {
            let n = match kind {
                Kind::Timed => format!("{fn_name}_duration_seconds"),
                Kind::Counted => format!("{fn_name}_calls"),
            };
            check_metric_name(&n).map_err(|r| {
                syn::Error::new(
                    f.sig.ident.span(),
                    format!("the default metric name `{n}` is invalid ({r}); set `name = \"...\"`"),
                )
            })?;
            n
        }
    };
    let help = match &args.help {
        Some(h) => h.value(),
        None => match kind {
            Kind::Timed => format!("Duration of {fn_name}."),
            Kind::Counted => format!("Calls to {fn_name}."),
        },
    };

    let mut label_names: Vec<String> = Vec::new();
    if is_result {
        label_names.push("outcome".to_owned());
    }
    label_names.extend(labels.iter().map(|(n, _, _)| n.clone()));
    let const_values: Vec<&LitStr> = labels.iter().map(|(_, _, v)| v).collect();

    let mixed = Span::mixed_site();
    let guard_ty = Ident::new("__TallyhoGuard", mixed);
    let state_static = Ident::new("__TALLYHO_STATE", mixed);
    let guard = Ident::new("__tallyho_guard", mixed);
    let result = Ident::new("__tallyho_result", mixed);

    let instrument = match kind {
        Kind::Timed => quote!(::tallyho::Histogram),
        Kind::Counted => quote!(::tallyho::Counter),
    };
    let children = if is_result { 4usize } else { 1 };
    let state_ty = quote! {
        (
            ::tallyho::Family<#instrument>,
            [::std::sync::OnceLock<#instrument>; #children],
        )
    };

    let registry = match &args.registry {
        Some(path) => quote_spanned! {path.span()=>
            let __registry: &::tallyho::Registry = #path();
        },
        None => quote! {
            let __registry: &::tallyho::Registry = ::tallyho::global();
        },
    };
    let family = match kind {
        Kind::Timed => {
            let with_buckets = match &args.buckets {
                Some(b) => {
                    let lits = b.iter().map(|v| Literal::f64_suffixed(*v));
                    quote! {
                        ::tallyho::Buckets::new(::std::vec::Vec::<f64>::from([#(#lits),*]))
                            .and_then(|__b| __builder.buckets(__b).histogram_family(&[#(#label_names),*]))
                    }
                }
                None => quote!(__builder.histogram_family(&[#(#label_names),*])),
            };
            quote! {
                let __builder = __registry.metric(#name, #help).unit("seconds");
                let __family = #with_buckets;
            }
        }
        Kind::Counted => quote! {
            let __builder = __registry.metric(#name, #help);
            let __family = __builder.counter_family(&[#(#label_names),*]);
        },
    };

    let values = if is_result {
        quote!(&[["ok", "err", "panic", "cancelled"][__outcome], #(#const_values),*])
    } else {
        quote!(&[#(#const_values),*])
    };
    let unfinished = if is_result {
        quote! {
            if ::std::thread::panicking() { 2 } else { 3 }
        }
    } else {
        quote!(return)
    };
    let (start_field, start_init, record) = match kind {
        Kind::Timed => (
            quote!(start: ::std::time::Instant,),
            quote!(start: ::std::time::Instant::now(),),
            quote!(__child.observe_duration(self.start.elapsed());),
        ),
        Kind::Counted => (quote!(), quote!(), quote!(__child.inc();)),
    };
    let outcome = if is_result {
        quote!(if #result.is_ok() { 0 } else { 1 })
    } else {
        quote!(0)
    };

    let prelude = quote! {
        struct #guard_ty {
            state: &'static #state_ty,
            #start_field
            outcome: ::core::option::Option<usize>,
        }
        impl ::core::ops::Drop for #guard_ty {
            #[inline]
            fn drop(&mut self) {
                let __outcome: usize = match self.outcome {
                    ::core::option::Option::Some(__o) => __o,
                    ::core::option::Option::None => #unfinished,
                };
                let (__family, __children) = self.state;
                let __child = __children[__outcome].get_or_init(|| {
                    ::core::clone::Clone::clone(__family.with(#values))
                });
                #record
            }
        }
        static #state_static: ::std::sync::OnceLock<#state_ty> = ::std::sync::OnceLock::new();
        let mut #guard = #guard_ty {
            state: #state_static.get_or_init(|| {
                #registry
                #family
                (
                    __family.unwrap_or_else(|_| ::tallyho::Family::noop()),
                    ::core::array::from_fn(|_| ::std::sync::OnceLock::new()),
                )
            }),
            #start_init
            outcome: ::core::option::Option::None,
        };
    };
    // Hygiene: the locals above are invisible to the function's own body.
    let prelude = respan_mixed(prelude);
    let outcome = respan_mixed(outcome);

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let ret_ty: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            InferImpl.visit_type_mut(&mut ty);
            ty
        }
    };
    let (helper, run) = if sig.asyncness.is_some() {
        (
            quote!(),
            quote! {
                let #result: #ret_ty = async move #block.await;
            },
        )
    } else {
        // Passing the closure to a function bounded by `FnOnce` makes it `FnOnce`, so a body
        // may return a borrow of an argument (`&mut self.field`).
        let call = Ident::new("__tallyho_call", mixed);
        (
            quote! {
                #[inline(always)]
                fn #call<R, F: ::core::ops::FnOnce() -> R>(f: F) -> R {
                    f()
                }
            },
            quote! {
                let #result: #ret_ty = #call(move || -> #ret_ty #block);
            },
        )
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #helper
            #prelude
            #run
            #guard.outcome = ::core::option::Option::Some(#outcome);
            #result
        }
    })
}

/// Gives every identifier the mixed-site span, keeping the generated locals hygienic.
fn respan_mixed(tokens: TokenStream2) -> TokenStream2 {
    use proc_macro2::TokenTree;
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(mut i) => {
                i.set_span(i.span().resolved_at(Span::mixed_site()));
                TokenTree::Ident(i)
            }
            TokenTree::Group(g) => {
                let mut n = proc_macro2::Group::new(g.delimiter(), respan_mixed(g.stream()));
                n.set_span(g.span());
                TokenTree::Group(n)
            }
            other => other,
        })
        .collect()
}
