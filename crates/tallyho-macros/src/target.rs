//! What a macro is applied to: a function with a body, and whether it returns a `Result`.

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Item, ItemFn, ReturnType, Type};

use crate::Kind;

/// The function the attribute is on, or an error pointing at what it is on instead.
pub(crate) fn parse_fn(kind: Kind, item: TokenStream2) -> syn::Result<ItemFn> {
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
pub(crate) fn returns_result(output: &ReturnType) -> bool {
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
