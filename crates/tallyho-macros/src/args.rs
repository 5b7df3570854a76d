//! The attribute's arguments: `name`, `help`, `labels(..)`, `registry` and `buckets`.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Ident, Lit, LitStr};

use crate::buckets::parse_buckets;
use crate::Kind;

/// The parsed attribute arguments, each checked as it is read.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) help: Option<LitStr>,
    pub(crate) labels: Option<Vec<Label>>,
    pub(crate) registry: Option<syn::Path>,
    pub(crate) buckets: Option<Vec<f64>>,
}

/// One constant label of `labels(key = "value", ...)`.
pub(crate) struct Label {
    /// The name, without any `r#`.
    pub(crate) name: String,
    /// The name as written, for error spans.
    pub(crate) ident: Ident,
    /// The value.
    pub(crate) value: LitStr,
}

/// The expression after `key =`, with an error pointing at the key when `=` is missing.
pub(crate) fn value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<Expr> {
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
    /// Reads one argument into `self`.
    pub(crate) fn parse(&mut self, kind: Kind, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
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
                tallyho_names::metric_name(&lit.value()).map_err(|p| {
                    syn::Error::new(lit.span(), format!("invalid metric name: {p}"))
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
                self.labels = Some(parse_labels(&meta)?);
            }
            "registry" => {
                if self.registry.is_some() {
                    return Err(duplicate());
                }
                self.registry = Some(parse_registry(&meta)?);
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

/// `labels(key = "value", ...)`: names checked by the shared label name rule, none twice.
fn parse_labels(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Label>> {
    if meta.input.peek(syn::Token![=]) {
        return Err(meta.error("expected `labels(key = \"value\", ...)`"));
    }
    let mut labels: Vec<Label> = Vec::new();
    meta.parse_nested_meta(|inner| {
        let Some(ident) = inner.path.get_ident() else {
            return Err(inner.error("expected a label name: `key = \"value\"`"));
        };
        let name = ident.unraw().to_string();
        tallyho_names::label_name(&name).map_err(|p| {
            let message = if p.is_reserved() {
                format!("label name `{name}` is reserved: {p}")
            } else {
                format!("invalid label name `{name}`: {p}")
            };
            syn::Error::new(ident.span(), message)
        })?;
        if labels.iter().any(|l| l.name == name) {
            return Err(syn::Error::new(
                ident.span(),
                format!("duplicate label `{name}`"),
            ));
        }
        let value = string_lit(&inner, &name)?;
        labels.push(Label {
            name,
            ident: ident.clone(),
            value,
        });
        Ok(())
    })?;
    Ok(labels)
}

/// `registry = path::to::function`, a plain path.
fn parse_registry(meta: &ParseNestedMeta<'_>) -> syn::Result<syn::Path> {
    let expr = value(meta, "registry", "path::to::registry_fn")?;
    match expr {
        Expr::Path(p) if p.qself.is_none() => Ok(p.path),
        other => Err(syn::Error::new_spanned(
            other,
            "expected a path to a function returning `&tallyho::Registry`, \
             without parentheses: `registry = my_crate::metrics_registry`",
        )),
    }
}
