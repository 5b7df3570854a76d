//! The code generated around an instrumented function.
//!
//! The body gets a `static` holding the family and one lazily resolved child per
//! [`Outcome`], a drop guard that records the call when it goes out of scope, and the
//! original body run in place (a closure for sync functions, an `async move` block for
//! `async` ones). Every generated local has the mixed-site span, so the body cannot see it.

use proc_macro2::{Literal, Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Ident, ItemFn, LitStr, ReturnType, Signature, Type};

use crate::args::{Args, Label};
use crate::target::returns_result;
use crate::Kind;

/// How a call of a function returning `Result` ended: the value of its `outcome` label, and
/// the index of its child handle in the generated state (a function without `Result` has
/// one child, index 0, and records completed calls only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// It returned `Ok`.
    Ok,
    /// It returned `Err`.
    Err,
    /// It (or the future, while polled) panicked.
    Panic,
    /// Its future was dropped before completing.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in index order.
    const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Err,
        Outcome::Panic,
        Outcome::Cancelled,
    ];

    /// The value of the `outcome` label.
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Err => "err",
            Outcome::Panic => "panic",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The index into the children, as the literal the generated code holds.
    fn index(self) -> Literal {
        Literal::usize_unsuffixed(self as usize)
    }
}

/// What the generated code registers: the metric, its labels and their constant values.
struct Metric<'a> {
    kind: Kind,
    /// Whether the function returns a `Result`, so calls get an `outcome` label.
    has_outcome: bool,
    name: String,
    help: String,
    /// `outcome` (when there is one) then the constant labels.
    label_names: Vec<String>,
    /// The constant labels' values, in order.
    const_values: Vec<&'a LitStr>,
}

impl<'a> Metric<'a> {
    /// Checks what the arguments and the function allow together, and fills in the defaults.
    fn new(kind: Kind, args: &'a Args, f: &ItemFn) -> syn::Result<Self> {
        if let Some(c) = &f.sig.constness {
            return Err(syn::Error::new(
                c.span,
                format!("{} cannot be applied to a `const fn`", kind.attr()),
            ));
        }
        let fn_name = f.sig.ident.unraw().to_string();
        let has_outcome = returns_result(&f.sig.output);
        let labels: &[Label] = args.labels.as_deref().unwrap_or_default();
        if has_outcome {
            if let Some(l) = labels.iter().find(|l| l.name == "outcome") {
                return Err(syn::Error::new(
                    l.ident.span(),
                    "`outcome` is set by the macro for functions returning `Result` (ok, err, panic, cancelled)",
                ));
            }
        }
        let mut label_names: Vec<String> = Vec::new();
        if has_outcome {
            label_names.push("outcome".to_owned());
        }
        label_names.extend(labels.iter().map(|l| l.name.clone()));
        Ok(Metric {
            kind,
            has_outcome,
            name: metric_name(kind, args, f, &fn_name)?,
            help: help_text(kind, args, &fn_name),
            label_names,
            const_values: labels.iter().map(|l| &l.value).collect(),
        })
    }

    /// How many child handles the state holds: one per outcome, or one.
    fn children(&self) -> usize {
        if self.has_outcome {
            Outcome::ALL.len()
        } else {
            1
        }
    }
}

/// The `name` argument (checked when parsed), or the default name, checked here.
fn metric_name(kind: Kind, args: &Args, f: &ItemFn, fn_name: &str) -> syn::Result<String> {
    if let Some(n) = &args.name {
        return Ok(n.value());
    }
    let n = match kind {
        Kind::Timed => format!("{fn_name}_duration_seconds"),
        Kind::Counted => format!("{fn_name}_calls"),
    };
    tallyho_names::metric_name(&n).map_err(|p| {
        syn::Error::new(
            f.sig.ident.span(),
            format!("the default metric name `{n}` is invalid ({p}); set `name = \"...\"`"),
        )
    })?;
    Ok(n)
}

/// The `help` argument, or the default help.
fn help_text(kind: Kind, args: &Args, fn_name: &str) -> String {
    match &args.help {
        Some(h) => h.value(),
        None => match kind {
            Kind::Timed => format!("Duration of {fn_name}."),
            Kind::Counted => format!("Calls to {fn_name}."),
        },
    }
}

/// The generated locals' names, all at the mixed site.
struct Hidden {
    guard_ty: Ident,
    state_static: Ident,
    guard: Ident,
    result: Ident,
    call: Ident,
}

impl Hidden {
    fn new() -> Self {
        let mixed = Span::mixed_site();
        Hidden {
            guard_ty: Ident::new("__TallyhoGuard", mixed),
            state_static: Ident::new("__TALLYHO_STATE", mixed),
            guard: Ident::new("__tallyho_guard", mixed),
            result: Ident::new("__tallyho_result", mixed),
            call: Ident::new("__tallyho_call", mixed),
        }
    }
}

/// Instruments `f` as `kind` with `args`.
pub(crate) fn expand(kind: Kind, args: &Args, f: ItemFn) -> syn::Result<TokenStream2> {
    let metric = Metric::new(kind, args, &f)?;
    let hidden = Hidden::new();
    // Hygiene: the locals of the prelude are invisible to the function's own body.
    let prelude = respan_mixed(prelude(&metric, args, &hidden));
    let outcome = respan_mixed(completed_outcome(&metric, &hidden.result));

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let (helper, run) = run_body(&sig, &block, &hidden);
    let Hidden { guard, result, .. } = &hidden;
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

/// The guard type, its `Drop` (which records the call), the state `static`, and the guard.
fn prelude(metric: &Metric<'_>, args: &Args, hidden: &Hidden) -> TokenStream2 {
    let Hidden {
        guard_ty,
        state_static,
        guard,
        ..
    } = hidden;
    let state_ty = state_type(metric);
    let registry = registry(args);
    let family = family(metric, args);
    let values = label_values(metric);
    let unfinished = unfinished_outcome(metric);
    let (start_field, start_init, record) = match metric.kind {
        Kind::Timed => (
            quote!(start: ::std::time::Instant,),
            quote!(start: ::std::time::Instant::now(),),
            quote!(__child.observe_duration(self.start.elapsed());),
        ),
        Kind::Counted => (quote!(), quote!(), quote!(__child.inc();)),
    };
    quote! {
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
    }
}

/// The instrument type.
fn instrument(kind: Kind) -> TokenStream2 {
    match kind {
        Kind::Timed => quote!(::tallyho::Histogram),
        Kind::Counted => quote!(::tallyho::Counter),
    }
}

/// The type of the state `static`: the family and its children.
fn state_type(metric: &Metric<'_>) -> TokenStream2 {
    let instrument = instrument(metric.kind);
    let children = metric.children();
    quote! {
        (
            ::tallyho::Family<#instrument>,
            [::std::sync::OnceLock<#instrument>; #children],
        )
    }
}

/// Binds `__registry` to the registry: the `registry` function's, or the global one.
fn registry(args: &Args) -> TokenStream2 {
    match &args.registry {
        Some(path) => quote_spanned! {path.span()=>
            let __registry: &::tallyho::Registry = #path();
        },
        None => quote! {
            let __registry: &::tallyho::Registry = ::tallyho::global();
        },
    }
}

/// Binds `__family` to the result of registering the family in `__registry`.
fn family(metric: &Metric<'_>, args: &Args) -> TokenStream2 {
    let Metric {
        name,
        help,
        label_names,
        ..
    } = metric;
    match metric.kind {
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
    }
}

/// The label values of the child for `__outcome`: its `outcome` label, then the constants.
fn label_values(metric: &Metric<'_>) -> TokenStream2 {
    let const_values = &metric.const_values;
    if metric.has_outcome {
        let outcomes = Outcome::ALL.map(Outcome::label);
        quote!(&[[#(#outcomes),*][__outcome], #(#const_values),*])
    } else {
        quote!(&[#(#const_values),*])
    }
}

/// What the guard does when dropped before the body completed: record a panic or a
/// cancellation, or (without `outcome`) record nothing.
fn unfinished_outcome(metric: &Metric<'_>) -> TokenStream2 {
    if metric.has_outcome {
        let panic = Outcome::Panic.index();
        let cancelled = Outcome::Cancelled.index();
        quote! {
            if ::std::thread::panicking() { #panic } else { #cancelled }
        }
    } else {
        quote!(return)
    }
}

/// The outcome of a completed call, from its `result`.
fn completed_outcome(metric: &Metric<'_>, result: &Ident) -> TokenStream2 {
    let ok = Outcome::Ok.index();
    if metric.has_outcome {
        let err = Outcome::Err.index();
        quote!(if #result.is_ok() { #ok } else { #err })
    } else {
        quote!(#ok)
    }
}

/// The body run in place, binding its value to `result`, and the helper it needs.
fn run_body(sig: &Signature, block: &Block, hidden: &Hidden) -> (TokenStream2, TokenStream2) {
    let Hidden { result, call, .. } = hidden;
    let ret_ty: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            InferImpl.visit_type_mut(&mut ty);
            ty
        }
    };
    if sig.asyncness.is_some() {
        (
            quote!(),
            quote! {
                let #result: #ret_ty = async move #block.await;
            },
        )
    } else {
        // Passing the closure to a function bounded by `FnOnce` makes it `FnOnce`, so a body
        // may return a borrow of an argument (`&mut self.field`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_numbered_in_label_order() {
        let shown: Vec<(String, &str)> = Outcome::ALL
            .iter()
            .map(|o| (o.index().to_string(), o.label()))
            .collect();
        assert_eq!(
            shown,
            [
                ("0".to_owned(), "ok"),
                ("1".to_owned(), "err"),
                ("2".to_owned(), "panic"),
                ("3".to_owned(), "cancelled"),
            ]
        );
    }

    fn expanded(kind: Kind, item: TokenStream2) -> String {
        let f: ItemFn = syn::parse2(item).unwrap();
        expand(kind, &Args::default(), f).unwrap().to_string()
    }

    #[test]
    fn a_result_gets_four_children_and_the_outcome_label() {
        let out = expanded(
            Kind::Counted,
            quote!(
                fn f() -> Result<(), ()> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("4usize"), "{out}");
        assert!(
            out.contains(r#"[["ok" , "err" , "panic" , "cancelled"] [__outcome] ,]"#),
            "{out}"
        );
        assert!(
            out.contains("if :: std :: thread :: panicking () { 2 } else { 3 }"),
            "{out}"
        );
        assert!(
            out.contains("if __tallyho_result . is_ok () { 0 } else { 1 }"),
            "{out}"
        );
        assert!(out.contains(r#"counter_family (& ["outcome"])"#), "{out}");
    }

    #[test]
    fn without_a_result_only_completed_calls_count() {
        let out = expanded(
            Kind::Timed,
            quote!(
                fn g() -> u8 {
                    1
                }
            ),
        );
        assert!(out.contains("1usize"), "{out}");
        assert!(
            out.contains(":: core :: option :: Option :: None => return"),
            "{out}"
        );
        assert!(out.contains("Some (0)"), "{out}");
        assert!(
            out.contains(r#"metric ("g_duration_seconds" , "Duration of g.")"#),
            "{out}"
        );
        assert!(!out.contains("outcome\""), "{out}");
    }
}
