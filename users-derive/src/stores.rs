//! `#[store_trait]` and `#[store_impl]`: the store traits of `users-core` and their
//! implementations in `users-diesel`, written once for the sync and async connections.
//!
//! Internal to the framework (hidden from the docs), like `#[flavors]`.
//!
//! - `#[store_trait(TWIN)]` on a sync store trait emits it as written and its async twin: the
//!   twin is the trait `TWIN` (its attributes, header and own items, as in
//!   `#[cfg(feature = "async")] pub trait AsyncStore<C: Send> { … }`) holding, besides, every
//!   item of the sync trait it does not define itself, each method returning a `Send` future of
//!   what it returns there. `#[store_trait(TWIN, unstored: NoStore => no_store())]` also
//!   implements both traits for `NoStore`, each method returning `Err(no_store())`.
//! - `#[store_impl(AsyncStore => Store)]` on an `impl` block written in the async form over the
//!   placeholder connection type `Conn` (and backend type `Db`) emits it for each backend
//!   feature of the calling crate (`sqlite`, `postgres`, `mysql`): the sync flavor over Diesel's
//!   connection, with the names of the list renamed, no `async` and no `.await`; the async one,
//!   under the `async` feature, over diesel-async's, in a module that uses diesel-async's
//!   `RunQueryDsl`.
//! - `#[each_connection]` on any item emits it for each backend feature, with `Conn` and `Db`
//!   the backend's sync Diesel connection and backend types.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Expr, FnArg, ImplItem, ItemImpl, ItemTrait, ReturnType, Token, TraitItem, TraitItemFn, Type,
};

use crate::flavors::{flavored, Flavor, Rename};

/// The argument of `#[store_trait(...)]`.
struct TwinArgs {
    twin: ItemTrait,
    unstored: Option<(Type, Expr)>,
}

impl Parse for TwinArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let twin = input.parse()?;
        let mut unstored = None;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: Ident = input.parse()?;
            if key != "unstored" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `unstored: Type => error`",
                ));
            }
            input.parse::<Token![:]>()?;
            let store = input.parse()?;
            input.parse::<Token![=>]>()?;
            unstored = Some((store, input.parse()?));
        }
        Ok(TwinArgs { twin, unstored })
    }
}

/// The name of a trait item, if it has one the twin can define again.
fn item_name(item: &TraitItem) -> Option<&Ident> {
    match item {
        TraitItem::Fn(method) => Some(&method.sig.ident),
        TraitItem::Type(ty) => Some(&ty.ident),
        TraitItem::Const(constant) => Some(&constant.ident),
        _ => None,
    }
}

/// Expands `#[store_trait(TWIN…)]` on the sync trait `item`.
pub fn expand_trait(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let TwinArgs { mut twin, unstored } = syn::parse2(attr)?;
    let sync: ItemTrait = syn::parse2(item)?;
    let own: Vec<Ident> = twin.items.iter().filter_map(item_name).cloned().collect();
    let copied = sync
        .items
        .iter()
        .filter(|item| item_name(item).is_none_or(|name| !own.contains(name)))
        .map(|item| match item {
            TraitItem::Fn(method) => TraitItem::Fn(returning_future(method)),
            other => other.clone(),
        });
    twin.items = copied.chain(twin.items.drain(..)).collect();
    let refusals = match unstored {
        Some((store, error)) => {
            // Both refuse the sync trait's methods: the twin's are the same, returning futures.
            let sync_impl = refusing(&sync, &sync.items, &store, &error, Flavor::Sync)?;
            let twin_impl = refusing(&twin, &sync.items, &store, &error, Flavor::Async)?;
            quote!(#sync_impl #twin_impl)
        }
        None => TokenStream::new(),
    };
    Ok(quote!(#sync #twin #refusals))
}

/// The method as the twin declares it: returning a `Send` future of what it returned.
fn returning_future(method: &TraitItemFn) -> TraitItemFn {
    let mut method = method.clone();
    let output = match &method.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    method.sig.output = syn::parse_quote!(
        -> impl ::std::future::Future<Output = #output> + Send
    );
    method
}

/// The implementation of `store_trait` (its name, generics and `cfg`) for `store`, each of the
/// sync trait's `methods` returning `Err(error)` (as an `async fn` in the async flavor).
fn refusing(
    store_trait: &ItemTrait,
    methods: &[TraitItem],
    store: &Type,
    error: &Expr,
    flavor: Flavor,
) -> syn::Result<TokenStream> {
    let name = &store_trait.ident;
    let cfgs = store_trait
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"));
    let (impl_generics, ty_generics, where_clause) = store_trait.generics.split_for_impl();
    let mut refusals = Vec::new();
    for item in methods {
        let TraitItem::Fn(method) = item else {
            return Err(syn::Error::new_spanned(
                item,
                "a store that refuses every call implements only methods",
            ));
        };
        let mut sig = method.sig.clone();
        for input in sig.inputs.iter_mut() {
            if let FnArg::Typed(typed) = input {
                *typed.pat = syn::parse_quote!(_);
            }
        }
        if flavor == Flavor::Async {
            // The twin's methods return `impl Future<Output = T> + Send`; an `async fn`
            // returning `T` implements them.
            sig.asyncness = Some(Default::default());
        }
        refusals.push(quote!(#sig { Err(#error) }));
    }
    Ok(quote! {
        #(#cfgs)*
        impl #impl_generics #name #ty_generics for #store #where_clause {
            #(#refusals)*
        }
    })
}

/// One backend: its feature, and its sync and async connection and backend types.
struct Backend {
    feature: &'static str,
    sync: TokenStream,
    asynchronous: TokenStream,
    db: TokenStream,
}

fn backends() -> [Backend; 3] {
    [
        Backend {
            feature: "sqlite",
            sync: quote!(diesel::SqliteConnection),
            asynchronous: quote!(crate::asynchronous::AsyncSqliteConnection),
            db: quote!(diesel::sqlite::Sqlite),
        },
        Backend {
            feature: "postgres",
            sync: quote!(diesel::PgConnection),
            asynchronous: quote!(diesel_async::AsyncPgConnection),
            db: quote!(diesel::pg::Pg),
        },
        Backend {
            feature: "mysql",
            sync: quote!(diesel::MysqlConnection),
            asynchronous: quote!(diesel_async::AsyncMysqlConnection),
            db: quote!(diesel::mysql::Mysql),
        },
    ]
}

/// Expands `#[store_impl(AsyncStore => Store, …)]` on `item`.
pub fn expand_impl(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let renames: Vec<Rename> =
        syn::parse::Parser::parse2(Punctuated::<Rename, Token![,]>::parse_terminated, attr)?
            .into_iter()
            .collect();
    let block: ItemImpl = syn::parse2(item)?;
    let Some((_, store, _)) = &block.trait_ else {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "`#[store_impl]` goes on an implementation of an async store trait",
        ));
    };
    let module = format_ident!(
        "{}_over_async_connections",
        crate::user_enum::snake_case(
            &store
                .segments
                .last()
                .map_or(String::new(), |s| s.ident.to_string())
        )
    );
    let asynchronous = block.to_token_stream();
    let mut sync_block = block.clone();
    for item in sync_block.items.iter_mut() {
        if let ImplItem::Fn(method) = item {
            method.sig.asyncness = None;
        }
    }
    let synchronous = flavored(sync_block.to_token_stream(), Flavor::Sync, &renames);
    let mut sync_impls = Vec::new();
    let mut async_impls = Vec::new();
    for backend in backends() {
        let feature = backend.feature;
        let sync = substituted(&synchronous, &backend.sync, &backend.db);
        sync_impls.push(quote!(#[cfg(feature = #feature)] #sync));
        let flavored = flavored(asynchronous.clone(), Flavor::Async, &[]);
        let asynchronous = substituted(&flavored, &backend.asynchronous, &backend.db);
        async_impls.push(quote!(#[cfg(feature = #feature)] #asynchronous));
    }
    Ok(quote! {
        #(#sync_impls)*
        #[cfg(feature = "async")]
        mod #module {
            use diesel_async::RunQueryDsl;

            use super::*;

            #(#async_impls)*
        }
    })
}

/// Expands `#[each_connection]` on `item`: the item once for each backend feature of the calling
/// crate, with `Conn` and `Db` the backend's sync Diesel connection and backend types.
pub fn expand_each_connection(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            "`#[each_connection]` takes no arguments",
        ));
    }
    let copies = backends().into_iter().map(|backend| {
        let feature = backend.feature;
        let item = substituted(&item, &backend.sync, &backend.db);
        quote!(#[cfg(feature = #feature)] #item)
    });
    Ok(quote!(#(#copies)*))
}

/// `tokens` with the placeholders `Conn` and `Db` replaced by `conn` and `db`.
fn substituted(tokens: &TokenStream, conn: &TokenStream, db: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    for token in tokens.clone() {
        match token {
            TokenTree::Ident(ident) if ident == "Conn" => out.extend(respanned(conn, ident.span())),
            TokenTree::Ident(ident) if ident == "Db" => out.extend(respanned(db, ident.span())),
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), substituted(&group.stream(), conn, db));
                new.set_span(group.span());
                out.extend([TokenTree::Group(new)]);
            }
            other => out.extend([other]),
        }
    }
    out
}

/// `tokens` at `span`, so that errors in a substituted type point at the placeholder.
fn respanned(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(tokens: TokenStream) -> String {
        let file: syn::File = syn::parse2(tokens).unwrap();
        prettyplease::unparse(&file)
    }

    #[test]
    fn a_store_trait_has_an_async_twin_and_a_refusing_store() {
        let out = expand_trait(
            quote! {
                /// The async twin.
                #[cfg(feature = "async")]
                pub trait AsyncThingStore<C: Send> {},
                unstored: NoStore => no_store()
            },
            quote! {
                /// Things.
                pub trait ThingStore<C> {
                    /// Finds a thing.
                    fn find_thing(conn: &mut C, id: Uuid) -> Result<Option<Thing>, UsersError>;
                }
            },
        )
        .unwrap();
        insta::assert_snapshot!(pretty(out));
    }

    #[test]
    fn the_twin_keeps_its_own_items() {
        let out = expand_trait(
            quote! {
                pub trait AsyncThingStore<C: Send> {
                    fn transaction(conn: &mut C) -> Boxed;
                }
            },
            quote! {
                pub trait ThingStore<C> {
                    fn find(conn: &mut C) -> Result<(), E>;
                    fn transaction(conn: &mut C) -> Result<(), E>;
                }
            },
        )
        .unwrap();
        let out = pretty(out);
        assert!(
            out.contains("fn transaction(conn: &mut C) -> Boxed;"),
            "{out}"
        );
        assert_eq!(out.matches("fn transaction").count(), 2, "{out}");
        assert!(
            out.contains("fn find(conn: &mut C) -> impl ::std::future::Future<Output = Result<(), E>> + Send;"),
            "{out}"
        );
    }

    #[test]
    fn a_store_impl_is_emitted_for_each_backend_and_flavor() {
        let out = expand_impl(
            quote!(AsyncThingStore => ThingStore),
            quote! {
                impl<U: UserModel> users_core::AsyncThingStore<Conn> for Things<U> {
                    async fn find_thing(conn: &mut Conn, id: Uuid) -> Result<Option<Thing>, UsersError> {
                        let query = things::table.find(id).select(Row::as_select());
                        let row = query.first::<Row>(conn).await.optional().map_err(UsersError::database)?;
                        Ok(filtered::<Db>(row))
                    }
                }
            },
        )
        .unwrap();
        insta::assert_snapshot!(pretty(out));
    }

    #[test]
    fn an_item_for_each_connection() {
        let out = expand_each_connection(
            TokenStream::new(),
            quote!(impl Store for Database<Conn> { const SQL: &str = <Conn>::SQL; }),
        )
        .unwrap();
        let out = pretty(out);
        assert!(
            out.contains(
                "#[cfg(feature = \"mysql\")]\nimpl Store for Database<diesel::MysqlConnection>"
            ),
            "{out}"
        );
        assert_eq!(out.matches("impl Store").count(), 3, "{out}");
    }

    #[test]
    fn the_async_module_is_named_after_the_trait() {
        let out = expand_impl(
            quote!(AsyncSessionStore => SessionStore),
            quote!(impl users_core::AsyncSessionStore<Conn> for Sessions {}),
        )
        .unwrap();
        assert!(out
            .to_string()
            .contains("mod async_session_store_over_async_connections"));
    }
}
