//! Checks of a parsed model that need no code generation: each problem is recorded with a span
//! at the user's token and a sentence saying what to write instead.

use std::collections::HashSet;

use quote::ToTokens;
use syn::{Expr, Fields};

use crate::ast::{self, Field, Kind, LiteralDefault, Model};
use crate::attr::MacroKind;
use crate::ctxt::Errors;
use crate::expand::Backend;
use crate::types::SqlType;

/// The fields `#[user_model]` injects, and those `timestamps` adds.
pub const USER_FIELDS: &[&str] = &["id", "email", "password_hash", "is_active", "is_verified"];
pub const TIMESTAMP_FIELDS: &[&str] = &["created_at", "updated_at"];
/// The fields `#[role_model]` injects.
pub const ROLE_FIELDS: &[&str] = &["id", "name", "description"];
/// The fields `#[org_model]` injects.
pub const ORG_FIELDS: &[&str] = &["id", "name", "slug", "created_at", "updated_at"];

/// Traits the macros implement themselves; deriving them as well would conflict.
const GENERATED_DERIVES: &[&str] = &[
    "Queryable",
    "Selectable",
    "Insertable",
    "AsChangeset",
    "Identifiable",
    "Clone",
    "PartialEq",
];

/// The table names the options chose. A model whose only mistakes are its options and these
/// names still expands, with the default names, beside the errors.
pub fn check_table_names(model: &Model, errors: &mut Errors) {
    check_sql_name(&model.table, model.table_span, "table", errors);
    if let Kind::Role {
        join_table,
        join_table_span,
        permissions_table,
        permissions_table_span,
        ..
    } = &model.kind
    {
        check_sql_name(join_table, *join_table_span, "join table", errors);
        if *join_table == model.table {
            errors.push(syn::Error::new(
                *join_table_span,
                format!("the join table cannot also be named `{join_table}`; choose another `join_table = \"…\"`"),
            ));
        }
        check_sql_name(
            permissions_table,
            *permissions_table_span,
            "permissions table",
            errors,
        );
        if *permissions_table == model.table || permissions_table == join_table {
            errors.push(syn::Error::new(
                *permissions_table_span,
                format!("the permissions table cannot also be named `{permissions_table}`; choose another `permissions_table = \"…\"`"),
            ));
        }
    }
    if let Kind::Org {
        members_table,
        members_table_span,
        invitations_table,
        invitations_table_span,
        ..
    } = &model.kind
    {
        check_sql_name(members_table, *members_table_span, "members table", errors);
        if *members_table == model.table {
            errors.push(syn::Error::new(
                *members_table_span,
                format!("the members table cannot also be named `{members_table}`; choose another `members_table = \"…\"`"),
            ));
        }
        check_sql_name(
            invitations_table,
            *invitations_table_span,
            "invitations table",
            errors,
        );
        if *invitations_table == model.table || invitations_table == members_table {
            errors.push(syn::Error::new(
                *invitations_table_span,
                format!("the invitations table cannot also be named `{invitations_table}`; choose another `invitations_table = \"…\"`"),
            ));
        }
    }
}

/// Everything else: the item's shape, its derives and its fields.
pub fn check_model(model: &Model, backends: &[Backend], errors: &mut Errors) {
    let kind = model.kind.macro_kind();
    let attribute = kind.attribute();
    check_shape(model.item, attribute, errors);
    check_derives(model.item, kind, errors);
    let injected = injected_fields(&model.kind);
    check_dropped_columns(model, &injected, errors);
    let mut seen = HashSet::new();
    for field in &model.fields {
        check_field(field, &injected, attribute, backends, errors);
        if !seen.insert(field.column_name.as_str()) {
            errors.error_at(
                field.ident,
                format!(
                    "two fields map to the column `{}`; give one another `#[column(name = \"…\")]`",
                    field.column_name
                ),
            );
        }
    }
}

/// One field on its own: its name, its `#[column(...)]` keys and its type on `backends`.
pub fn check_field(
    field: &Field,
    injected: &[&str],
    attribute: &str,
    backends: &[Backend],
    errors: &mut Errors,
) {
    let ident = field.ident.to_string();
    if injected.contains(&ident.as_str()) {
        errors.error_at(
            field.ident,
            format!(
                "`{ident}` is injected by {attribute}; remove this field or rename it \
                 (the injected fields are {})",
                injected.join(", ")
            ),
        );
    } else if let Some(name) = &field.column.name {
        if injected.contains(&field.column_name.as_str()) {
            errors.error_at(
                name,
                format!(
                    "column `{}` is injected by {attribute}; choose another name",
                    field.column_name
                ),
            );
        }
    }
    if let Some(name) = &field.column.name {
        check_sql_name(&field.column_name, name.span(), "column", errors);
    }
    check_column(field, errors);
    check_postgres_only(field, backends, errors);
    check_array(field, backends, errors);
}

/// A PostgreSQL array needs a build whose only backend is PostgreSQL: one error at the field's
/// type otherwise, naming the features that rule it out.
fn check_array(field: &Field, backends: &[Backend], errors: &mut Errors) {
    if !field
        .sql
        .as_ref()
        .is_some_and(|sql| matches!(sql.sql_type, SqlType::Array(_)))
    {
        return;
    }
    let others: Vec<String> = backends
        .iter()
        .filter(|backend| **backend != Backend::Postgres)
        .map(|backend| format!("`{}`", backend.feature()))
        .collect();
    if !others.is_empty() {
        errors.error_at(
            &field.original.ty,
            format!(
                "a PostgreSQL array, but users-diesel's {} feature{} enabled, so the model's \
                 table could not be created there; build with the `postgres` feature only, or \
                 keep this column in a PostgreSQL table of your own",
                others.join(" and "),
                if others.len() == 1 { " is" } else { "s are" },
            ),
        );
    }
}

/// A dropped column must be one the model no longer has.
pub fn check_dropped_columns(model: &Model, injected: &[&str], errors: &mut Errors) {
    for dropped in &model.dropped_columns {
        let name = dropped.value();
        let current = injected.contains(&name.as_str())
            || model.fields.iter().any(|field| field.column_name == name);
        if current {
            errors.error_at(
                dropped,
                format!(
                    "`{name}` is a column of this model; `dropped_columns` names columns that \
                     earlier versions had and this one drops"
                ),
            );
        } else {
            check_sql_name(&name, dropped.span(), "column", errors);
        }
    }
}

/// The names a model's own fields may not take.
pub fn injected_fields(kind: &Kind) -> Vec<&'static str> {
    match kind {
        Kind::User { timestamps } => {
            let mut fields = USER_FIELDS.to_vec();
            if *timestamps {
                fields.extend(TIMESTAMP_FIELDS);
            }
            fields
        }
        Kind::Role { .. } => ROLE_FIELDS.to_vec(),
        Kind::Org { .. } => ORG_FIELDS.to_vec(),
    }
}

fn check_shape(item: &syn::ItemStruct, attribute: &str, errors: &mut Errors) {
    let name = &item.ident;
    match &item.fields {
        Fields::Named(_) => {}
        Fields::Unnamed(fields) => errors.error_at(
            fields,
            format!(
                "{attribute} needs a struct with named fields; write \
                 `pub struct {name} {{ pub display_name: Option<String> }}` (or `pub struct {name} {{}}`)"
            ),
        ),
        Fields::Unit => errors.error_at(
            &item.ident,
            format!("{attribute} needs a struct with named fields; write `pub struct {name} {{}}`"),
        ),
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.error_at(
            &item.generics,
            format!(
                "{attribute} does not support generic parameters: a model maps to one table; \
                 remove them"
            ),
        );
    }
}

/// Whether a derive of the user's is one the macros write themselves (`Debug` among them).
pub fn is_generated_derive(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|segment| {
        segment.ident == "Debug" || GENERATED_DERIVES.iter().any(|name| segment.ident == name)
    })
}

fn check_derives(item: &syn::ItemStruct, kind: MacroKind, errors: &mut Errors) {
    let attribute = kind.attribute();
    for path in ast::derives(&item.attrs) {
        let Some(name) = path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        if name == "Debug" {
            let why = match kind {
                MacroKind::User => "writes a `Debug` impl that redacts `password_hash`",
                MacroKind::Role | MacroKind::Org => "already writes a `Debug` impl",
            };
            errors.error_at(
                &path,
                format!("{attribute} {why}; remove `Debug` from this derive"),
            );
        } else if GENERATED_DERIVES.contains(&name.as_str()) {
            errors.error_at(
                &path,
                format!("{attribute} already derives `{name}`; remove it from this derive"),
            );
        }
    }
}

fn check_column(field: &Field, errors: &mut Errors) {
    let column = &field.column;
    if let (Some(_), Some(index)) = (&column.unique, &column.index) {
        errors.error_at(
            index,
            "`unique` already creates an index; keep only #[column(unique)]",
        );
    }
    let sql_type = field.sql.as_ref().map(|sql| sql.sql_type);
    if let Some(length) = &column.max_length {
        if sql_type.is_some_and(|sql| !sql.is_sized()) {
            errors.error_at(
                length,
                "`max_length` applies to text and binary columns only (String, Vec<u8>); remove it",
            );
        }
    }
    if let Some(old_name) = &column.renamed_from {
        if old_name.value() == field.column_name {
            errors.error_at(
                old_name,
                "`renamed_from` names the column's old name, which must differ from its name; \
                 remove it once every database has been migrated",
            );
        } else {
            check_sql_name(&old_name.value(), old_name.span(), "column", errors);
        }
    }
    check_numeric(field, sql_type, errors);
    if let Some(default) = &field.default {
        if is_nested_option_literal(&default.expr) {
            errors.error_at(
                &default.expr,
                "write the default value itself, without `Some(…)`",
            );
        }
        check_default_type(field, errors);
    }
}

/// `precision` and `scale` go together, on a `BigDecimal` and nowhere else, within the limits
/// of every backend (SQLite's exact decimals: 18 digits).
fn check_numeric(field: &Field, sql_type: Option<SqlType>, errors: &mut Errors) {
    let column = &field.column;
    let example = "e.g. #[column(precision = 10, scale = 2)]";
    if sql_type != Some(SqlType::Numeric) {
        for key in [&column.precision, &column.scale].into_iter().flatten() {
            errors.error_at(
                key,
                "`precision` and `scale` apply to `BigDecimal` columns only; remove it",
            );
        }
        return;
    }
    match (field.precision, field.scale) {
        (Some(precision), Some(scale)) => {
            if precision > 18 {
                if let Some(lit) = &column.precision {
                    errors.error_at(
                        lit,
                        "SQLite keeps a decimal exactly as a 64-bit integer, which holds 18 \
                         digits; choose a precision up to 18",
                    );
                }
            }
            if scale > precision {
                if let Some(lit) = &column.scale {
                    errors.error_at(lit, "the scale is at most the precision");
                }
            }
        }
        // The unparsable one is already reported.
        _ if column.precision.is_some() && column.scale.is_some() => {}
        _ => errors.error_at(
            &field.original.ty,
            format!(
                "a `BigDecimal` column needs its precision and scale, so every backend stores \
                 the same digits; {example}"
            ),
        ),
    }
}

/// A PostgreSQL-only SQL type is one error at the field, naming what rules it out.
fn check_postgres_only(field: &Field, backends: &[Backend], errors: &mut Errors) {
    let (Some(name), Some(path)) = (&field.postgres_only, &field.column.sql_type) else {
        return;
    };
    let others: Vec<String> = backends
        .iter()
        .filter(|backend| **backend != Backend::Postgres)
        .map(|backend| format!("`{}`", backend.feature()))
        .collect();
    let message = if others.is_empty() {
        format!(
            "`{name}` is a PostgreSQL-only type that users-diesel's migrations do not create; \
             keep this column in a table of your own (its `table!` and migration)"
        )
    } else {
        format!(
            "`{name}` exists on PostgreSQL only, and users-diesel's {} feature{} enabled, so \
             the model's table could not be created there; keep this column in a \
             PostgreSQL-only table of your own, or build without {}",
            others.join(" and "),
            if others.len() == 1 { " is" } else { "s are" },
            if others.len() == 1 { "it" } else { "them" },
        )
    };
    errors.error_at(path, message);
}

/// A literal default must be a literal of the column's type: it is also the SQL `DEFAULT`.
fn check_default_type(field: &Field, errors: &mut Errors) {
    let (Some(default), Some(sql)) = (&field.default, &field.sql) else {
        return;
    };
    let Some(literal) = &default.literal else {
        return;
    };
    if field.column.sql_type.is_some() {
        return;
    }
    let sql_type = sql.sql_type;
    use SqlType as T;
    let (fits, literal) = match literal {
        LiteralDefault::Int(_) => (
            matches!(sql_type, T::SmallInt | T::Integer | T::BigInt),
            "an integer",
        ),
        LiteralDefault::Float(_) => (matches!(sql_type, T::Float | T::Double), "a float"),
        LiteralDefault::Bool(_) => (sql_type == T::Bool, "a bool"),
        LiteralDefault::Str(_) => (sql_type == T::Text, "a string"),
    };
    if !fits {
        let example = match sql_type {
            T::SmallInt | T::Integer | T::BigInt => "`default = 0`",
            T::Float | T::Double => "`default = 0.0`",
            T::Bool => "`default = false`",
            T::Text => "`default = \"\"`",
            T::Enum => "a variant, e.g. `default = Plan::Free`",
            _ => "an expression of the field's type, e.g. `default = MyType::new()`",
        };
        errors.error_at(
            &default.expr,
            format!(
                "this default is {literal}, but the `{}` column is `{}`; write {example}",
                field.ident,
                sql_type.variant()
            ),
        );
    }
}

fn is_nested_option_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::Call(call) if call.func.to_token_stream().to_string() == "Some")
}

/// Table and column names become Rust identifiers (the `table!` module and its columns) and
/// SQL identifiers, so they must be plain lowercase-friendly identifiers.
fn check_sql_name(name: &str, span: proc_macro2::Span, what: &str, errors: &mut Errors) {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let valid_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_start || !valid_rest || syn::parse_str::<proc_macro2::Ident>(name).is_err() {
        errors.push(syn::Error::new(
            span,
            format!(
                "`{name}` cannot be a {what} name: use letters, digits and `_`, not starting \
                 with a digit, and not a Rust keyword, e.g. \"app_users\""
            ),
        ));
    }
}
