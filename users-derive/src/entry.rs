//! The two macros' entry points: parse → validate → expand.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Fields, Item};

use crate::ast::Model;
use crate::attr::MacroKind;
use crate::ctxt::Errors;
use crate::expand::{self, Backend};
use crate::{attr, fallback, valid};

/// Expands `#[user_model(<attr>)]` on `<item>`. On any error the model is expanded anyway beside
/// every error, with each broken part at its default ([`fallback`]), so one mistake does not
/// cascade.
pub fn expand_user_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_for(
        MacroKind::User,
        attr,
        item,
        &Backend::enabled(),
        cfg!(feature = "async"),
    )
}

/// Expands `#[role_model(<attr>)]` on `<item>`, like [`expand_user_model`].
pub fn expand_role_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_for(
        MacroKind::Role,
        attr,
        item,
        &Backend::enabled(),
        cfg!(feature = "async"),
    )
}

/// Expands `#[org_model(<attr>)]` on `<item>`, like [`expand_user_model`].
pub fn expand_org_model(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_for(
        MacroKind::Org,
        attr,
        item,
        &Backend::enabled(),
        cfg!(feature = "async"),
    )
}

/// Either macro for the given backends rather than the enabled ones, with or without async
/// stores, so expansion snapshots do not depend on the features of the build that runs them.
pub fn expand_for(
    kind: MacroKind,
    attr: TokenStream,
    item: TokenStream,
    backends: &[Backend],
    asynchronous: bool,
) -> TokenStream {
    let mut errors = Errors::default();
    let options = attr::parse_options(kind, attr, &mut errors);
    let item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(item)) => item,
        Ok(other) => {
            errors.error_at(
                item_keyword(&other),
                format!(
                    "{} goes on a struct with named fields, e.g. \
                     `pub struct {} {{ pub display_name: Option<String> }}`",
                    kind.attribute(),
                    match kind {
                        MacroKind::User => "User",
                        MacroKind::Role => "Role",
                        MacroKind::Org => "Org",
                    },
                ),
            );
            return with_errors(other.into_token_stream(), &errors);
        }
        Err(error) => {
            errors.push(error);
            return with_errors(item, &errors);
        }
    };
    let model = Model::from_syn(kind, &item, options.clone(), &mut errors);
    valid::check_table_names(&model, &mut errors);
    valid::check_model(&model, backends, &mut errors);
    if errors.is_empty() {
        return expand::model(&model, backends, asynchronous);
    }
    // Expand the model with each broken part at its default beside the errors (thiserror's
    // `fallback.rs`), so the code that uses the model adds none; the struct alone if even that
    // model does not check out.
    let item = fallback::item(&item);
    let model = fallback::model(
        Model::from_syn(kind, &item, options, &mut Errors::default()),
        backends,
    );
    let checks_out = !fallback::fails(|errors| {
        valid::check_table_names(&model, errors);
        valid::check_model(&model, backends, errors);
    });
    if checks_out {
        return with_errors(expand::model(&model, backends, asynchronous), &errors);
    }
    with_errors(
        strip_column_attrs(item.clone()).into_token_stream(),
        &errors,
    )
}

fn with_errors(item: TokenStream, errors: &Errors) -> TokenStream {
    let errors = errors.to_compile_errors();
    quote!(#item #errors)
}

fn strip_column_attrs(mut item: syn::ItemStruct) -> syn::ItemStruct {
    if let Fields::Named(fields) = &mut item.fields {
        for field in &mut fields.named {
            field.attrs.retain(|attr| !attr::is_column_attr(attr));
        }
    }
    item
}

/// The token to blame when the macro is put on the wrong kind of item.
fn item_keyword(item: &Item) -> TokenStream {
    match item {
        Item::Enum(item) => item.enum_token.into_token_stream(),
        Item::Union(item) => item.union_token.into_token_stream(),
        Item::Fn(item) => item.sig.fn_token.into_token_stream(),
        Item::Trait(item) => item.trait_token.into_token_stream(),
        Item::Impl(item) => item.impl_token.into_token_stream(),
        Item::Type(item) => item.type_token.into_token_stream(),
        other => other.into_token_stream(),
    }
}
