//! The typed model of an annotated struct: the only thing [`crate::expand`] reads.

use proc_macro2::{Ident, Span};
use syn::{Attribute, Expr, Fields, ItemStruct, Lit, LitInt, LitStr, Path, UnOp};

use crate::attr::{self, ColumnAttrs, MacroKind, Options};
use crate::ctxt::Errors;
use crate::types::{self, SqlMapping, Unmapped};

/// A `#[user_model]` or `#[role_model]` struct.
pub struct Model<'a> {
    pub kind: Kind,
    pub item: &'a ItemStruct,
    /// The SQL table name (`users` or `roles` unless `table = "…"`).
    pub table: String,
    /// Where to blame the table name: the `table = "…"` literal, or the struct's name.
    pub table_span: Span,
    /// `schema = path::to::table`: an existing Diesel table to bind to instead of emitting one.
    pub schema: Option<Path>,
    /// The path of `users_diesel` in the user's crate.
    pub krate: Path,
    /// The user's own fields, in order.
    pub fields: Vec<Field<'a>>,
    /// Whether the user derives serde's `Serialize` or `Deserialize`.
    pub serde: bool,
    /// `dropped_columns = ["…"]`: columns of earlier versions that the migrations drop.
    pub dropped_columns: Vec<LitStr>,
}

/// What differs between the two macros.
pub enum Kind {
    User {
        timestamps: bool,
    },
    Role {
        /// The join table's SQL name (`user_roles` unless `join_table = "…"`).
        join_table: String,
        join_table_span: Span,
        /// The SQL name of the table of the roles' permissions (`role_permissions` unless
        /// `permissions_table = "…"`).
        permissions_table: String,
        permissions_table_span: Span,
        /// The user model type (`User` unless `user = …`).
        user: Path,
    },
    Org {
        /// The members table's SQL name (`org_members` unless `members_table = "…"`).
        members_table: String,
        members_table_span: Span,
        /// The invitations table's SQL name (`org_invitations` unless
        /// `invitations_table = "…"`).
        invitations_table: String,
        invitations_table_span: Span,
        /// The user model type (`User` unless `user = …`).
        user: Path,
    },
}

impl Kind {
    pub fn macro_kind(&self) -> MacroKind {
        match self {
            Kind::User { .. } => MacroKind::User,
            Kind::Role { .. } => MacroKind::Role,
            Kind::Org { .. } => MacroKind::Org,
        }
    }
}

/// One of the user's own fields.
pub struct Field<'a> {
    pub original: &'a syn::Field,
    pub ident: &'a Ident,
    /// The `#[column(...)]` keys as written, for error spans.
    pub column: ColumnAttrs,
    /// The SQL column name: `#[column(name = "…")]` or the field's name.
    pub column_name: String,
    /// `None` where the type cannot be mapped (the error is already recorded, or, for a
    /// PostgreSQL-only `sql_type`, kept in `postgres_only` for validation).
    pub sql: Option<SqlMapping>,
    /// `sql_type = …` named this PostgreSQL-only Diesel type.
    pub postgres_only: Option<String>,
    /// `#[column(max_length = N)]`.
    pub max_length: Option<u32>,
    /// `#[column(precision = P, scale = S)]`, each once parsed.
    pub precision: Option<u32>,
    pub scale: Option<u32>,
    /// `#[column(default = …)]`.
    pub default: Option<FieldDefault>,
}

/// A field's `#[column(default = …)]`: the expression, and its value where it is a literal
/// (which becomes the SQL `DEFAULT` too).
pub struct FieldDefault {
    pub expr: Expr,
    pub literal: Option<LiteralDefault>,
}

/// A literal default.
pub enum LiteralDefault {
    Int(i64),
    Float(String),
    Bool(bool),
    Str(String),
}

impl Field<'_> {
    /// Whether `register` cannot fill the field: no `Option`, no default.
    pub fn is_required(&self) -> bool {
        self.default.is_none() && !self.sql.as_ref().is_some_and(|sql| sql.nullable)
    }
}

impl<'a> Field<'a> {
    /// The field with no `#[column(...)]` keys: its own name and the SQL type of its Rust type,
    /// if it has one.
    pub fn without_column_keys(self) -> Option<Self> {
        let sql = types::map_type(&self.original.ty, None).ok()?;
        Some(Field {
            column: ColumnAttrs::default(),
            column_name: self.ident.to_string(),
            sql: Some(sql),
            postgres_only: None,
            max_length: None,
            precision: None,
            scale: None,
            default: None,
            ..self
        })
    }

    /// The field's attributes other than `#[column(...)]`, which the macro consumes.
    pub fn passthrough_attrs(&self) -> impl Iterator<Item = &'a Attribute> {
        self.original
            .attrs
            .iter()
            .filter(|attr| !attr::is_column_attr(attr))
    }
}

impl<'a> Model<'a> {
    pub fn from_syn(
        kind: MacroKind,
        item: &'a ItemStruct,
        options: Options,
        errors: &mut Errors,
    ) -> Self {
        let default_table = match kind {
            MacroKind::User => "users",
            MacroKind::Role => "roles",
            MacroKind::Org => "orgs",
        };
        // Bound to an existing table, the SQL name is that module's name unless `table` says
        // otherwise (a `table!` with `#[sql_name]`).
        let schema_table = options
            .schema
            .as_ref()
            .and_then(|path| path.segments.last());
        let (table, table_span) = match (&options.table, schema_table) {
            (None, Some(segment)) => (segment.ident.to_string(), segment.ident.span()),
            _ => name_or(options.table.as_ref(), default_table, item),
        };
        let kind = match kind {
            MacroKind::User => Kind::User {
                timestamps: options.timestamps.is_some(),
            },
            MacroKind::Role => {
                let (join_table, join_table_span) =
                    name_or(options.join_table.as_ref(), "user_roles", item);
                let (permissions_table, permissions_table_span) =
                    name_or(options.permissions_table.as_ref(), "role_permissions", item);
                Kind::Role {
                    join_table,
                    join_table_span,
                    permissions_table,
                    permissions_table_span,
                    user: options.user.unwrap_or_else(|| syn::parse_quote!(User)),
                }
            }
            MacroKind::Org => {
                let (members_table, members_table_span) =
                    name_or(options.members_table.as_ref(), "org_members", item);
                let (invitations_table, invitations_table_span) =
                    name_or(options.invitations_table.as_ref(), "org_invitations", item);
                Kind::Org {
                    members_table,
                    members_table_span,
                    invitations_table,
                    invitations_table_span,
                    user: options.user.unwrap_or_else(|| syn::parse_quote!(User)),
                }
            }
        };
        Model {
            kind,
            item,
            table,
            table_span,
            dropped_columns: options.dropped_columns.unwrap_or_default(),
            schema: options.schema,
            krate: options
                .krate
                .unwrap_or_else(|| syn::parse_quote!(::users_diesel)),
            fields: fields_from_syn(&item.fields, errors),
            serde: derives(&item.attrs).any(|path| {
                path.segments
                    .last()
                    .is_some_and(|s| s.ident == "Serialize" || s.ident == "Deserialize")
            }),
        }
    }
}

impl Model<'_> {
    /// The same model with the default table names (`users` or `roles`, and `user_roles`): what
    /// the macros expand beside an error in a table name, so the code that uses the model
    /// compiles and the name is the only error.
    pub fn with_default_table_names(mut self) -> Self {
        match &mut self.kind {
            Kind::User { .. } => self.table = "users".to_owned(),
            Kind::Role {
                join_table,
                permissions_table,
                ..
            } => {
                self.table = "roles".to_owned();
                *join_table = "user_roles".to_owned();
                *permissions_table = "role_permissions".to_owned();
            }
            Kind::Org {
                members_table,
                invitations_table,
                ..
            } => {
                self.table = "orgs".to_owned();
                *members_table = "org_members".to_owned();
                *invitations_table = "org_invitations".to_owned();
            }
        }
        self
    }
}

fn name_or(option: Option<&LitStr>, default: &str, item: &ItemStruct) -> (String, Span) {
    match option {
        Some(lit) => (lit.value(), lit.span()),
        None => (default.to_owned(), item.ident.span()),
    }
}

fn fields_from_syn<'a>(fields: &'a Fields, errors: &mut Errors) -> Vec<Field<'a>> {
    let Fields::Named(named) = fields else {
        return Vec::new();
    };
    named
        .named
        .iter()
        .filter_map(|field| {
            let ident = field.ident.as_ref()?;
            let column = attr::parse_column_attrs(&field.attrs, errors);
            let column_name = column
                .name
                .as_ref()
                .map_or_else(|| ident.to_string(), LitStr::value);
            let (sql, postgres_only) = match types::map_type(&field.ty, column.sql_type.as_ref()) {
                Ok(sql) => (Some(sql), None),
                Err(Unmapped::Type(blame, message, help)) => {
                    errors.error_with_help(blame, message, help);
                    (None, None)
                }
                Err(Unmapped::PostgresOnly(name)) => (None, Some(name)),
            };
            let max_length = positive_int(column.max_length.as_ref(), errors);
            let precision = positive_int(column.precision.as_ref(), errors);
            let scale = column.scale.as_ref().and_then(|lit| int(lit, errors));
            let default = column.default.clone().map(|expr| FieldDefault {
                literal: literal_default(&expr),
                expr,
            });
            Some(Field {
                original: field,
                ident,
                column,
                column_name,
                sql,
                postgres_only,
                max_length,
                precision,
                scale,
                default,
            })
        })
        .collect()
}

fn int(lit: &LitInt, errors: &mut Errors) -> Option<u32> {
    match lit.base10_parse::<u32>() {
        Ok(value) => Some(value),
        Err(_) => {
            errors.error_at(lit, "expected an integer from 0 to 4294967295");
            None
        }
    }
}

fn positive_int(lit: Option<&LitInt>, errors: &mut Errors) -> Option<u32> {
    let lit = lit?;
    match int(lit, errors)? {
        0 => {
            errors.error_at(lit, "expected a positive integer");
            None
        }
        value => Some(value),
    }
}

fn literal_default(expr: &Expr) -> Option<LiteralDefault> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => int.base10_parse().ok().map(LiteralDefault::Int),
            Lit::Float(float) => Some(LiteralDefault::Float(float.base10_digits().to_owned())),
            Lit::Bool(b) => Some(LiteralDefault::Bool(b.value)),
            Lit::Str(s) => Some(LiteralDefault::Str(s.value())),
            _ => None,
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
            match literal_default(&unary.expr)? {
                LiteralDefault::Int(value) => Some(LiteralDefault::Int(-value)),
                LiteralDefault::Float(value) => Some(LiteralDefault::Float(format!("-{value}"))),
                _ => None,
            }
        }
        Expr::Group(group) => literal_default(&group.expr),
        _ => None,
    }
}

/// Every path inside the item's `#[derive(...)]` attributes.
pub fn derives(attrs: &[Attribute]) -> impl Iterator<Item = Path> + '_ {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .flat_map(|attr| {
            attr.parse_args_with(
                syn::punctuated::Punctuated::<Path, syn::Token![,]>::parse_terminated,
            )
            .map(|paths| paths.into_iter().collect::<Vec<_>>())
            .unwrap_or_default()
        })
}
