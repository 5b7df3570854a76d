//! `buckets = [0.001, 0.01, ...]`: histogram bucket bounds, checked at compile time.

use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

use crate::args::value;

/// `buckets = [..]`: number literals, finite, strictly increasing, at most 1024.
pub(crate) fn parse_buckets(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<f64>> {
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

/// One bound: a number literal, possibly negated.
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
