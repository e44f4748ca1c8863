//! The async stores: `AsyncUserStore`, `AsyncRoleStore` or `AsyncOrgStore` per enabled backend, over the
//! diesel-async connection of that backend. Their methods are the sync stores' methods in their
//! async flavor (the same statements, awaited), plus a transaction over diesel-async.

use proc_macro2::TokenStream;
use quote::quote;

use super::org::org_store_methods;
use super::role::role_store_methods;
use super::user::user_store_methods;
use super::{Backend, Flavor};
use crate::ast::{Kind, Model};

/// The async store impls of a model, in a block of their own: it imports Diesel's prelude for
/// the query builder, and diesel-async's `RunQueryDsl`, which shadows the prelude's.
pub fn stores(model: &Model, backends: &[Backend]) -> TokenStream {
    let krate = &model.krate;
    let (imports, impls): (TokenStream, Vec<TokenStream>) = match &model.kind {
        Kind::User { .. } => (
            quote!(database_error, user_write_error, AsyncUserStore),
            backends
                .iter()
                .map(|backend| user_store_impl(model, *backend))
                .collect(),
        ),
        Kind::Role { join_table, .. } => (
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
                    let user = super::role::user_type(model);
                    let methods =
                        role_store_methods(model, join_table, &user, *backend, Flavor::Async);
                    quote! {
                        #[automatically_derived]
                        impl AsyncRoleStore<#connection> for #ident {
                            type User = #user;

                            #methods
                        }
                    }
                })
                .collect(),
        ),
        Kind::Org { .. } => (
            quote!(
                database_error,
                join_write_error,
                org_write_error,
                AsyncOrgStore,
                UserModel
            ),
            backends
                .iter()
                .map(|backend| {
                    let ident = &model.item.ident;
                    let connection = backend.connection(Flavor::Async);
                    let user = super::role::user_type(model);
                    let methods = org_store_methods(model, &user, *backend, Flavor::Async);
                    quote! {
                        #[automatically_derived]
                        impl AsyncOrgStore<#connection> for #ident {
                            type User = #user;

                            #methods
                        }
                    }
                })
                .collect(),
        ),
    };
    let connections = backends
        .iter()
        .map(|backend| backend.connection(Flavor::Async));
    quote! {
        const _: () = {
            use #krate::__private::diesel::prelude::*;
            use #krate::__private::diesel_async::RunQueryDsl;
            use #krate::__private::{#(#connections,)* #imports, Id, UsersError};

            #(#impls)*
        };
    }
}

fn user_store_impl(model: &Model, backend: Backend) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let connection = backend.connection(Flavor::Async);
    let timestamps = matches!(model.kind, Kind::User { timestamps: true });
    let methods = user_store_methods(model, timestamps, backend, Flavor::Async);
    // As in the sync stores: SQLite's outermost transaction begins IMMEDIATE.
    let transaction = match backend {
        Backend::Sqlite => quote!(#krate::__private::async_sqlite_transaction),
        Backend::Postgres | Backend::Mysql => quote!(#krate::__private::async_transaction),
    };
    quote! {
        #[automatically_derived]
        impl AsyncUserStore<#connection> for #ident {
            #methods

            fn transaction<'a, T, F>(
                conn: &'a mut #connection,
                f: F,
            ) -> #krate::__private::TransactionFuture<'a, T>
            where
                F: for<'r> ::core::ops::FnOnce(
                        &'r mut #connection,
                    ) -> #krate::__private::ScopedBoxFuture<'a, 'r, ::core::result::Result<T, UsersError>>
                    + ::core::marker::Send
                    + 'a,
                T: ::core::marker::Send + 'a,
            {
                #transaction(conn, f)
            }
        }
    }
}
