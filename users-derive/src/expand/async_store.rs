//! The async stores: `AsyncUserStore` or `AsyncRoleStore` per enabled backend, over the
//! diesel-async connection of that backend. Their methods are the sync stores' methods in their
//! async flavor (the same statements, awaited), plus a transaction over diesel-async.

use proc_macro2::TokenStream;
use quote::quote;

use super::role::role_store_methods;
use super::user::user_store_methods;
use super::{Backend, Flavor};
use crate::ast::{Kind, Model};

/// The async store impls of a model, in a block of their own: it imports diesel-async's
/// `RunQueryDsl` and, rather than Diesel's whole prelude (which has Diesel's `RunQueryDsl`), only
/// the query builder traits the stores use.
pub fn stores(model: &Model, backends: &[Backend]) -> TokenStream {
    let krate = &model.krate;
    let (imports, impls): (TokenStream, Vec<TokenStream>) = match &model.kind {
        Kind::User { timestamps } => {
            let now = timestamps.then(|| quote!(now,));
            (
                quote!(database_error, #now user_write_error, AsyncUserStore),
                backends
                    .iter()
                    .map(|backend| user_store_impl(model, *timestamps, *backend))
                    .collect(),
            )
        }
        Kind::Role {
            join_table, user, ..
        } => (
            quote!(
                database_error,
                join_write_error,
                role_write_error,
                AsyncRoleStore,
                UserModel
            ),
            backends
                .iter()
                .map(|backend| {
                    let ident = &model.item.ident;
                    let connection = backend.connection(Flavor::Async);
                    let methods =
                        role_store_methods(model, join_table, user, *backend, Flavor::Async);
                    quote! {
                        impl AsyncRoleStore<#connection> for #ident {
                            type User = #user;

                            #methods
                        }
                    }
                })
                .collect(),
        ),
    };
    let transactions = matches!(model.kind, Kind::User { .. }).then(|| {
        let sqlite = backends
            .contains(&Backend::Sqlite)
            .then(|| quote!(async_sqlite_transaction,));
        let other = backends
            .iter()
            .any(|backend| *backend != Backend::Sqlite)
            .then(|| quote!(async_transaction,));
        quote!(#sqlite #other)
    });
    let scoped = matches!(model.kind, Kind::User { .. })
        .then(|| quote!(ScopedBoxFuture, TransactionFuture,));
    let associations =
        matches!(model.kind, Kind::Role { .. }).then(|| quote!(BelongingToDsl, GroupedBy,));
    let connections = backends
        .iter()
        .map(|backend| backend.connection(Flavor::Async));
    quote! {
        const _: () = {
            use #krate::__private::diesel::prelude::{
                #associations ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper,
            };
            use #krate::__private::diesel_async::RunQueryDsl;
            use #krate::__private::{#transactions #imports};
            use #krate::__private::{#(#connections,)* #scoped Id, UsersError};

            #(#impls)*
        };
    }
}

fn user_store_impl(model: &Model, timestamps: bool, backend: Backend) -> TokenStream {
    let ident = &model.item.ident;
    let connection = backend.connection(Flavor::Async);
    let methods = user_store_methods(model, timestamps, backend, Flavor::Async);
    // As in the sync stores: SQLite's outermost transaction begins IMMEDIATE.
    let transaction = match backend {
        Backend::Sqlite => quote!(async_sqlite_transaction),
        Backend::Postgres | Backend::Mysql => quote!(async_transaction),
    };
    quote! {
        impl AsyncUserStore<#connection> for #ident {
            #methods

            fn transaction<'a, T, F>(conn: &'a mut #connection, f: F) -> TransactionFuture<'a, T>
            where
                F: for<'r> FnOnce(&'r mut #connection) -> ScopedBoxFuture<'a, 'r, Result<T, UsersError>>
                    + Send
                    + 'a,
                T: Send + 'a,
            {
                #transaction(conn, f)
            }
        }
    }
}
