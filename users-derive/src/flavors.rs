//! `#[flavors]`: the manager operations of `users-core`, written once as async methods of
//! `AsyncUsers`, and their blocking twins on `Users`.
//!
//! The attribute is internal to `users-core` (hidden from the docs): it takes an `impl` block
//! written in the async form and emits it twice.
//!
//! - The async flavor is the block as written, under `#[cfg(feature = "async")]`.
//! - The sync flavor has every name of the attribute's list renamed (`AsyncUsers => Users`,
//!   …), no `async` on its methods, no `.await` anywhere, and no `Send` bound on the methods'
//!   type parameters (the async stores need `Send` connections, the blocking ones do not).
//!
//! In both, the identifier `flavor` becomes `async` or `sync`: the helper macros of
//! `users-core`'s `operations` module take it as their first token, as in
//! `transaction!(flavor, conn, |conn| { … })`.
//!
//! A method marked `#[over(/// docs… fn name_over(conn: impl Trait<C>))]` is emitted twice in
//! each flavor, from one body: as written, over one connection `conn: &mut C` which is lent
//! again for each step (`lend!(flavor, conn)`), and as `name_over`, with the given docs, over
//! any connection source `conn: S` where `S: Trait<C>`.

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Attribute, FnArg, GenericParam, ImplItem, ImplItemFn, ItemImpl, Pat, Token, Type,
    TypeParamBound, WherePredicate,
};

/// The flavor a copy of the block is emitted in.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Flavor {
    Sync,
    Async,
}

/// One name of the attribute's list: `AsyncName => SyncName`.
pub(crate) struct Rename {
    pub(crate) from: Ident,
    pub(crate) to: Ident,
}

impl Parse for Rename {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let from = input.parse()?;
        input.parse::<Token![=>]>()?;
        Ok(Rename {
            from,
            to: input.parse()?,
        })
    }
}

/// The twin of an `#[over(...)]` method: its docs, its name and its connection source's trait.
struct Over {
    docs: Vec<Attribute>,
    name: Ident,
    conn: Ident,
    source: TypeParamBound,
}

impl Parse for Over {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let docs = input.call(Attribute::parse_outer)?;
        input.parse::<Token![fn]>()?;
        let name = input.parse()?;
        let args;
        syn::parenthesized!(args in input);
        let conn = args.parse()?;
        args.parse::<Token![:]>()?;
        args.parse::<Token![impl]>()?;
        let source = args.parse()?;
        Ok(Over {
            docs,
            name,
            conn,
            source,
        })
    }
}

/// Expands `#[flavors(renames…)]` on `item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let renames =
        syn::parse::Parser::parse2(Punctuated::<Rename, Token![,]>::parse_terminated, attr)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    let mut items = Vec::with_capacity(block.items.len());
    for item in block.items.drain(..) {
        match item {
            ImplItem::Fn(mut method) => match take_over(&mut method)? {
                Some(over) => {
                    let twin = twin(&method, over)?;
                    items.push(ImplItem::Fn(lent(method)?));
                    items.push(ImplItem::Fn(twin));
                }
                None => items.push(ImplItem::Fn(method)),
            },
            other => items.push(other),
        }
    }
    block.items = items;
    let asynchronous = flavored(block.to_token_stream(), Flavor::Async, &[]);
    strip_send(&mut block);
    for method in block.items.iter_mut() {
        if let ImplItem::Fn(method) = method {
            method.sig.asyncness = None;
        }
    }
    let renames: Vec<Rename> = renames.into_iter().collect();
    let synchronous = flavored(block.to_token_stream(), Flavor::Sync, &renames);
    Ok(quote! {
        #[cfg(feature = "async")]
        #asynchronous
        #synchronous
    })
}

/// Removes the method's `#[over(...)]` attribute, and parses it.
fn take_over(method: &mut ImplItemFn) -> syn::Result<Option<Over>> {
    let Some(at) = method.attrs.iter().position(|a| a.path().is_ident("over")) else {
        return Ok(None);
    };
    method.attrs.remove(at).parse_args().map(Some)
}

/// The method over one connection: its `conn: &mut C` lent again for each step.
fn lent(mut method: ImplItemFn) -> syn::Result<ImplItemFn> {
    let conn = connection(&method)?;
    let body = &method.block;
    method.block = syn::parse_quote!({
        #[allow(unused_mut)]
        let mut #conn = lend!(flavor, #conn);
        #body
    });
    Ok(method)
}

/// The `…_over` twin of `method`, over a connection source.
fn twin(method: &ImplItemFn, over: Over) -> syn::Result<ImplItemFn> {
    let mut twin = method.clone();
    let conn = connection(method)?;
    if conn != over.conn {
        return Err(syn::Error::new_spanned(
            &over.conn,
            format!("the connection of `{}` is `{conn}`", method.sig.ident),
        ));
    }
    twin.attrs.retain(|a| !a.path().is_ident("doc"));
    twin.attrs.splice(0..0, over.docs);
    twin.sig.ident = over.name;
    let source = format_ident!("S");
    twin.sig.generics.params.push(syn::parse_quote!(#source));
    let bound = over.source;
    twin.sig
        .generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(#source: #bound));
    for input in twin.sig.inputs.iter_mut() {
        if let FnArg::Typed(typed) = input {
            if matches!(&*typed.pat, Pat::Ident(p) if p.ident == conn) {
                *typed = syn::parse_quote!(mut #conn: #source);
            }
        }
    }
    Ok(twin)
}

/// The name of the method's connection: its first argument of type `&mut C`.
fn connection(method: &ImplItemFn) -> syn::Result<Ident> {
    method
        .sig
        .inputs
        .iter()
        .find_map(|input| match input {
            FnArg::Typed(typed) => match (&*typed.pat, &*typed.ty) {
                (Pat::Ident(pat), Type::Reference(r)) if r.mutability.is_some() => {
                    Some(pat.ident.clone())
                }
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .ok_or_else(|| {
            syn::Error::new_spanned(
                &method.sig,
                "an `#[over(...)]` method takes its connection as `conn: &mut C`",
            )
        })
}

/// Removes the `Send` bounds of the methods' own type parameters.
fn strip_send(block: &mut ItemImpl) {
    let is_send = |bound: &TypeParamBound| matches!(bound, TypeParamBound::Trait(t) if t.path.is_ident("Send"));
    for item in block.items.iter_mut() {
        let ImplItem::Fn(method) = item else { continue };
        let generics = &mut method.sig.generics;
        let own: Vec<Ident> = generics
            .params
            .iter_mut()
            .filter_map(|param| match param {
                GenericParam::Type(param) => {
                    param.bounds = std::mem::take(&mut param.bounds)
                        .into_iter()
                        .filter(|b| !is_send(b))
                        .collect();
                    if param.bounds.is_empty() {
                        param.colon_token = None;
                    }
                    Some(param.ident.clone())
                }
                _ => None,
            })
            .collect();
        if let Some(clause) = &mut generics.where_clause {
            for predicate in clause.predicates.iter_mut() {
                if let WherePredicate::Type(predicate) = predicate {
                    let own_param = matches!(&predicate.bounded_ty,
                        Type::Path(p) if own.iter().any(|o| p.path.is_ident(o)));
                    if own_param {
                        predicate.bounds = std::mem::take(&mut predicate.bounds)
                            .into_iter()
                            .filter(|b| !is_send(b))
                            .collect();
                    }
                }
            }
            clause.predicates = std::mem::take(&mut clause.predicates)
                .into_iter()
                .filter(|p| !matches!(p, WherePredicate::Type(t) if t.bounds.is_empty()))
                .collect();
        }
    }
}

/// The tokens in `flavor`: `flavor` named, names renamed, and, in the sync flavor, no `.await`.
pub(crate) fn flavored(tokens: TokenStream, flavor: Flavor, renames: &[Rename]) -> TokenStream {
    let mut out = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Punct(dot) if dot.as_char() == '.' && flavor == Flavor::Sync => {
                match tokens.peek() {
                    Some(TokenTree::Ident(next)) if next == "await" => {
                        tokens.next();
                    }
                    _ => out.push(TokenTree::Punct(dot)),
                }
            }
            TokenTree::Ident(ident) if ident == "flavor" => {
                let name = match flavor {
                    Flavor::Sync => "sync",
                    Flavor::Async => "async",
                };
                out.push(TokenTree::Ident(Ident::new(name, ident.span())));
            }
            TokenTree::Ident(ident) => {
                let renamed = renames.iter().find(|r| r.from == ident);
                out.push(TokenTree::Ident(match renamed {
                    Some(r) => Ident::new(&r.to.to_string(), ident.span()),
                    None => ident,
                }));
            }
            TokenTree::Group(group) => {
                let inner = flavored(group.stream(), flavor, renames);
                let mut new = Group::new(group.delimiter(), inner);
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Delimiter;

    fn expanded(attr: TokenStream, item: TokenStream) -> String {
        let file: syn::File = syn::parse2(expand(attr, item).unwrap()).unwrap();
        prettyplease::unparse(&file)
    }

    #[test]
    fn the_sync_flavor_renames_and_drops_await_and_send() {
        let out = expanded(
            quote!(AsyncUsers => Users, AsyncUserStore => UserStore),
            quote! {
                impl<U> AsyncUsers<U> {
                    /// Finds.
                    pub async fn find<C: Send>(&self, conn: &mut C) -> Result<U, E>
                    where
                        U: AsyncUserStore<C>,
                    {
                        transaction!(flavor, conn, |conn| { U::find(conn).await })
                    }
                }
            },
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn an_over_method_has_a_twin_over_a_connection_source() {
        let out = expanded(
            quote!(AsyncUsers => Users, AsyncConnections => Connections),
            quote! {
                impl<U> AsyncUsers<U> {
                    /// Registers.
                    #[over(
                        /// Registers from a pool.
                        fn register_over(conn: impl AsyncConnections<C>)
                    )]
                    pub async fn register<C: Send>(&self, conn: &mut C, email: &str) -> Result<U, E>
                    where
                        U: AsyncUserStore<C>,
                    {
                        U::insert(&mut *connect!(flavor, conn), email).await
                    }
                }
            },
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn an_over_method_names_its_connection() {
        let error = expand(
            TokenStream::new(),
            quote! {
                impl<U> AsyncUsers<U> {
                    #[over(fn register_over(pool: impl AsyncConnections<C>))]
                    pub async fn register<C: Send>(&self, conn: &mut C) {}
                }
            },
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("the connection of `register` is `conn`")
        );
    }

    #[test]
    fn groups_are_flavored_inside() {
        let delimiter = Delimiter::Brace;
        let group = Group::new(delimiter, quote!(flavor.await));
        let out = flavored(group.to_token_stream(), Flavor::Sync, &[]);
        assert_eq!(out.to_string(), "{ sync }");
    }
}
