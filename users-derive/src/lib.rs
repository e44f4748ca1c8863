//! The `#[user_model]` and `#[role_model]` attribute macros of the `users` framework.
//!
//! Use them through `users_diesel::prelude`. This crate is a thin entry: each macro calls a
//! plain function over `proc_macro2` tokens, which unit and snapshot tests call directly.

mod ast;
mod attr;
mod ctxt;
mod entry;
mod erased;
mod expand;
mod fallback;
mod flavors;
mod stores;
mod types;
mod user_enum;
mod valid;

use proc_macro::TokenStream;

/// Turns a struct into a user model: injects `id`, `email`, `password_hash`, `is_active` and
/// `is_verified`, and emits the Diesel `table!`, derives, stores and migration.
///
/// Use it as `users_diesel::user_model`, whose documentation lists every option and
/// `#[column(...)]` key with an example.
#[proc_macro_attribute]
pub fn user_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand_user_model(attr.into(), item.into()).into()
}

/// Turns a struct into a role model: injects `id`, `name` and `description`, and emits the
/// roles table, the user↔role join table with its struct and joins, the stores and the
/// migration.
///
/// Use it as `users_diesel::role_model`, whose documentation lists every option with an example.
#[proc_macro_attribute]
pub fn role_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand_role_model(attr.into(), item.into()).into()
}

/// Turns a struct into an organization model: injects `id`, `name`, `slug`, `created_at` and
/// `updated_at`, and emits the organizations table, its members and invitations tables with
/// their joins, the stores and the migration.
///
/// Use it as `users_diesel::org_model`, whose documentation lists every option with an example.
#[proc_macro_attribute]
pub fn org_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand_org_model(attr.into(), item.into()).into()
}

/// Stores a fieldless enum in a model's column: as text, one name per variant (the variant's
/// name in snake case, or `#[user_enum(rename = "…")]`), which the migrations restrict to those
/// names with a CHECK constraint on every backend.
///
/// The enum also needs `Debug` (Diesel's `ToSql` requires it) and is used as a field type
/// directly: `pub plan: Plan` or `pub plan: Option<Plan>`.
#[proc_macro_derive(UserEnum, attributes(user_enum))]
pub fn user_enum(item: TokenStream) -> TokenStream {
    user_enum::expand_user_enum(item.into()).into()
}

/// Internal to `users-core`: emits an `impl` block of manager operations, written as async
/// methods of `AsyncUsers`, in both flavors (see the `flavors` module). Not for applications.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn flavors(attr: TokenStream, item: TokenStream) -> TokenStream {
    flavors::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Internal to `users-core`: emits a sync store trait and its async twin (see the `stores`
/// module). Not for applications.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn store_trait(attr: TokenStream, item: TokenStream) -> TokenStream {
    stores::expand_trait(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Internal to `users-diesel`: emits a store implementation, written in the async form over the
/// placeholder connection `Conn`, for each backend in both flavors (see the `stores` module).
/// Not for applications.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn store_impl(attr: TokenStream, item: TokenStream) -> TokenStream {
    stores::expand_impl(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Internal to `users-diesel`: emits an item, written over the placeholder connection `Conn`,
/// for each backend's sync connection (see the `stores` module). Not for applications.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn each_connection(attr: TokenStream, item: TokenStream) -> TokenStream {
    stores::expand_each_connection(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Internal to `users-axum`: an object-safe trait written as the inherent methods of its one
/// implementation (see the `erased` module). Not for applications.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn erased(attr: TokenStream, item: TokenStream) -> TokenStream {
    erased::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[cfg(test)]
mod tests;
