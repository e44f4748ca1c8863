//! What the macros expand beside their errors (thiserror's `fallback.rs`: "to minimize spurious
//! secondary errors"): the model with each broken part at its default, so the code that uses
//! the model compiles and one mistake is one error, at its token.

use std::collections::HashSet;

use syn::punctuated::Punctuated;
use syn::{Attribute, Fields, FieldsNamed, ItemStruct, Path};

use crate::ast::Model;
use crate::ctxt::Errors;
use crate::expand::Backend;
use crate::valid;

/// The item without what no model can have: derives that the macros write themselves, generic
/// parameters (and the fields, which may name them), and fields that are not named.
pub fn item(item: &ItemStruct) -> ItemStruct {
    let mut item = item.clone();
    item.attrs = item
        .attrs
        .iter()
        .filter_map(without_generated_derives)
        .collect();
    let generic = !item.generics.params.is_empty() || item.generics.where_clause.is_some();
    if generic || !matches!(item.fields, Fields::Named(_)) {
        item.fields = Fields::Named(FieldsNamed {
            brace_token: Default::default(),
            named: Punctuated::new(),
        });
        item.semi_token = None;
    }
    item.generics = Default::default();
    item
}

/// A `#[derive(...)]` without the derives the macros write (`None` if nothing is left); any
/// other attribute as it is.
fn without_generated_derives(attr: &Attribute) -> Option<Attribute> {
    if !attr.path().is_ident("derive") {
        return Some(attr.clone());
    }
    let Ok(paths) = attr.parse_args_with(Punctuated::<Path, syn::Token![,]>::parse_terminated)
    else {
        return Some(attr.clone());
    };
    let kept: Vec<&Path> = paths
        .iter()
        .filter(|path| !valid::is_generated_derive(path))
        .collect();
    (!kept.is_empty()).then(|| syn::parse_quote!(#[derive(#(#kept),*)]))
}

/// The model with the default table names if a name is wrong, without its dropped columns if
/// one is wrong, and with each field that fails its checks stripped of its `#[column(...)]`
/// keys, or left out where that is not enough (its type or its name is the mistake).
pub fn model<'a>(mut model: Model<'a>, backends: &[Backend]) -> Model<'a> {
    if fails(|errors| valid::check_table_names(&model, errors)) {
        model = model.with_default_table_names();
    }
    let injected = valid::injected_fields(&model.kind);
    let attribute = model.kind.macro_kind().attribute();
    // A field without `sql` has a type that cannot be mapped (reported while reading it).
    let passes = |field: &crate::ast::Field| {
        field.sql.is_some()
            && !fails(|errors| valid::check_field(field, &injected, attribute, backends, errors))
    };
    let mut seen = HashSet::new();
    model.fields = std::mem::take(&mut model.fields)
        .into_iter()
        .filter_map(|field| {
            if passes(&field) {
                Some(field)
            } else {
                field.without_column_keys().filter(|field| passes(field))
            }
        })
        .filter(|field| seen.insert(field.column_name.clone()))
        .collect();
    if fails(|errors| valid::check_dropped_columns(&model, &injected, errors)) {
        model.dropped_columns.clear();
    }
    model
}

/// Whether `check` records an error.
pub fn fails(check: impl FnOnce(&mut Errors)) -> bool {
    let mut errors = Errors::default();
    check(&mut errors);
    !errors.is_empty()
}
