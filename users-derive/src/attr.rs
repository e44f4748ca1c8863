//! Parsing of the macros' options and of `#[column(...)]` field attributes.
//!
//! Parsing records problems in [`Errors`] and carries on, so every bad option of an item is
//! reported at once; [`crate::valid`] checks what parses but makes no sense.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, Expr, LitInt, LitStr, Path};

use crate::ctxt::Errors;

// #[user_model(table = "accounts")], #[role_model(table = "groups")]
pub const TABLE: &str = "table";
// #[user_model(timestamps)]
pub const TIMESTAMPS: &str = "timestamps";
// #[user_model(schema = crate::schema::users)], #[role_model(schema = crate::schema::roles)]
pub const SCHEMA: &str = "schema";
// #[user_model(crate = my_app::users_diesel)]
pub const CRATE: &str = "crate";
// #[role_model(join_table = "memberships")]
pub const JOIN_TABLE: &str = "join_table";
// #[role_model(permissions_table = "group_permissions")]
pub const PERMISSIONS_TABLE: &str = "permissions_table";
// #[org_model(members_table = "team_members")]
pub const MEMBERS_TABLE: &str = "members_table";
// #[org_model(invitations_table = "team_invitations")]
pub const INVITATIONS_TABLE: &str = "invitations_table";
// #[role_model(user = crate::models::Account)]
pub const USER: &str = "user";
// #[user_model(dropped_columns = ["handle"])], #[role_model(dropped_columns = ["level"])]
pub const DROPPED_COLUMNS: &str = "dropped_columns";

/// Which macro is being expanded: decides the valid options and what is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroKind {
    User,
    Role,
    Org,
}

impl MacroKind {
    /// The attribute as the user writes it, for messages.
    pub fn attribute(self) -> &'static str {
        match self {
            MacroKind::User => "#[user_model]",
            MacroKind::Role => "#[role_model]",
            MacroKind::Org => "#[org_model]",
        }
    }

    fn options_help(self) -> &'static str {
        match self {
            MacroKind::User => {
                "valid options are `table = \"name\"`, `timestamps`, \
                 `schema = path::to::table`, `crate = path::to::users_diesel` and \
                 `dropped_columns = [\"name\", …]`, \
                 e.g. #[user_model(table = \"accounts\", timestamps)]"
            }
            MacroKind::Role => {
                "valid options are `table = \"name\"`, `join_table = \"name\"`, \
                 `permissions_table = \"name\"`, `user = UserType`, `schema = path::to::table`, \
                 `crate = path::to::users_diesel` and `dropped_columns = [\"name\", …]`, e.g. #[role_model(table = \"groups\", join_table = \"memberships\", user = Account)]"
            }
            MacroKind::Org => {
                "valid options are `table = \"name\"`, `members_table = \"name\"`, \
                 `invitations_table = \"name\"`, `user = UserType`, \
                 `crate = path::to::users_diesel` and `dropped_columns = [\"name\", …]`, \
                 e.g. #[org_model(table = \"teams\", members_table = \"team_members\", user = Account)]"
            }
        }
    }

    fn accepts(self, key: &str) -> bool {
        match self {
            MacroKind::User => [TABLE, TIMESTAMPS, SCHEMA, CRATE, DROPPED_COLUMNS].contains(&key),
            MacroKind::Role => [
                TABLE,
                JOIN_TABLE,
                PERMISSIONS_TABLE,
                USER,
                SCHEMA,
                CRATE,
                DROPPED_COLUMNS,
            ]
            .contains(&key),
            MacroKind::Org => [
                TABLE,
                MEMBERS_TABLE,
                INVITATIONS_TABLE,
                USER,
                CRATE,
                DROPPED_COLUMNS,
            ]
            .contains(&key),
        }
    }
}

/// The options of `#[user_model(...)]` or `#[role_model(...)]`, each kept with its tokens for
/// error spans.
#[derive(Default, Clone)]
pub struct Options {
    pub table: Option<LitStr>,
    pub timestamps: Option<Path>,
    pub schema: Option<Path>,
    pub krate: Option<Path>,
    pub join_table: Option<LitStr>,
    pub permissions_table: Option<LitStr>,
    pub members_table: Option<LitStr>,
    pub invitations_table: Option<LitStr>,
    pub user: Option<Path>,
    pub dropped_columns: Option<Vec<LitStr>>,
}

/// Parses the tokens inside the macro's parentheses.
pub fn parse_options(kind: MacroKind, tokens: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.clone();
        let name = path_name(&key);
        if !kind.accepts(&name) {
            skip_value(&meta)?;
            errors.error_with_help(&key, unknown("option", &key), kind.options_help());
            return Ok(());
        }
        match name.as_str() {
            TABLE => set_once(&mut options.table, meta.value()?.parse()?, &key, errors),
            JOIN_TABLE => set_once(
                &mut options.join_table,
                meta.value()?.parse()?,
                &key,
                errors,
            ),
            PERMISSIONS_TABLE => set_once(
                &mut options.permissions_table,
                meta.value()?.parse()?,
                &key,
                errors,
            ),
            MEMBERS_TABLE => set_once(
                &mut options.members_table,
                meta.value()?.parse()?,
                &key,
                errors,
            ),
            INVITATIONS_TABLE => set_once(
                &mut options.invitations_table,
                meta.value()?.parse()?,
                &key,
                errors,
            ),
            TIMESTAMPS => {
                reject_value(
                    &meta,
                    "`timestamps` takes no value: write #[user_model(timestamps)]",
                )?;
                set_once(&mut options.timestamps, key.clone(), &key, errors);
            }
            SCHEMA => set_once(&mut options.schema, meta.value()?.parse()?, &key, errors),
            CRATE => set_once(&mut options.krate, meta.value()?.parse()?, &key, errors),
            USER => set_once(&mut options.user, meta.value()?.parse()?, &key, errors),
            DROPPED_COLUMNS => {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let names =
                    content.parse_terminated(|input| input.parse::<LitStr>(), syn::Token![,])?;
                set_once(
                    &mut options.dropped_columns,
                    names.into_iter().collect(),
                    &key,
                    errors,
                );
            }
            // `accepts` admits only the names above.
            _ => errors.error_with_help(&key, unknown("option", &key), kind.options_help()),
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        errors.push_with_help(error, kind.options_help());
    }
    options
}

/// The keys of one field's `#[column(...)]` attributes.
#[derive(Default)]
pub struct ColumnAttrs {
    pub unique: Option<Path>,
    pub index: Option<Path>,
    pub default: Option<Expr>,
    pub max_length: Option<LitInt>,
    pub name: Option<LitStr>,
    pub sql_type: Option<Path>,
    pub renamed_from: Option<LitStr>,
    pub precision: Option<LitInt>,
    pub scale: Option<LitInt>,
}

// #[column(unique)]
pub const UNIQUE: &str = "unique";
// #[column(index)]
pub const INDEX: &str = "index";
// #[column(default = 0)]
pub const DEFAULT: &str = "default";
// #[column(max_length = 64)]
pub const MAX_LENGTH: &str = "max_length";
// #[column(name = "sql_name")]
pub const NAME: &str = "name";
// #[column(sql_type = diesel::sql_types::Text)]
pub const SQL_TYPE: &str = "sql_type";
// #[column(renamed_from = "old_name")]
pub const RENAMED_FROM: &str = "renamed_from";
// #[column(precision = 10, scale = 2)]
pub const PRECISION: &str = "precision";
pub const SCALE: &str = "scale";

const COLUMN_HELP: &str = "valid keys are `unique`, `index`, `default = <expr>`, \
     `max_length = <integer>`, `name = \"sql_name\"`, `sql_type = path::to::SqlType`, \
     `precision = <integer>`, `scale = <integer>` and `renamed_from = \"old_name\"`, \
     e.g. #[column(unique, max_length = 64)]";

/// Whether an attribute is one of ours on a field.
pub fn is_column_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("column")
}

/// Parses every `#[column(...)]` attribute of a field into one set of keys.
pub fn parse_column_attrs(attrs: &[Attribute], errors: &mut Errors) -> ColumnAttrs {
    let mut column = ColumnAttrs::default();
    for attr in attrs.iter().filter(|attr| is_column_attr(attr)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.clone();
            if key.is_ident(UNIQUE) {
                reject_value(&meta, "`unique` takes no value: write #[column(unique)]")?;
                set_once(&mut column.unique, key.clone(), &key, errors);
            } else if key.is_ident(INDEX) {
                reject_value(&meta, "`index` takes no value: write #[column(index)]")?;
                set_once(&mut column.index, key.clone(), &key, errors);
            } else if key.is_ident(DEFAULT) {
                let value = meta.value()?.parse::<Expr>()?;
                set_once(&mut column.default, value, &key, errors);
            } else if key.is_ident(MAX_LENGTH) {
                let value = meta.value()?.parse::<LitInt>()?;
                set_once(&mut column.max_length, value, &key, errors);
            } else if key.is_ident(NAME) {
                let value = meta.value()?.parse::<LitStr>()?;
                set_once(&mut column.name, value, &key, errors);
            } else if key.is_ident(SQL_TYPE) {
                let value = meta.value()?.parse::<Path>()?;
                set_once(&mut column.sql_type, value, &key, errors);
            } else if key.is_ident(RENAMED_FROM) {
                let value = meta.value()?.parse::<LitStr>()?;
                set_once(&mut column.renamed_from, value, &key, errors);
            } else if key.is_ident(PRECISION) {
                let value = meta.value()?.parse::<LitInt>()?;
                set_once(&mut column.precision, value, &key, errors);
            } else if key.is_ident(SCALE) {
                let value = meta.value()?.parse::<LitInt>()?;
                set_once(&mut column.scale, value, &key, errors);
            } else {
                skip_value(&meta)?;
                errors.error_with_help(&key, unknown("`#[column]` key", &key), COLUMN_HELP);
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push_with_help(error, COLUMN_HELP);
        }
    }
    column
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &Path, errors: &mut Errors) {
    if slot.is_some() {
        errors.error_at(key, format!("duplicate `{}`: give it once", path_name(key)));
    } else {
        *slot = Some(value);
    }
}

fn reject_value(meta: &ParseNestedMeta, message: &str) -> syn::Result<()> {
    if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
        Ok(())
    } else {
        Err(meta.error(message))
    }
}

/// Consumes whatever follows an unknown key so parsing can go on to the next one.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|nested| skip_value(&nested))?;
    }
    Ok(())
}

fn unknown(what: &str, key: &Path) -> String {
    format!("unknown {what} `{}`", path_name(key))
}

pub fn path_name(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}
