//! Code generation: reads the typed model, never tokens. What both macros emit is here; what
//! only one emits is in [`user`] and [`role`]; the async stores are in [`async_store`].

mod async_store;
mod org;
mod role;
mod user;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use crate::ast::{Field, Kind, LiteralDefault, Model};
use crate::types::SqlType;

/// A Diesel backend the generated code is checked against and implements stores for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// Every backend, in the order the generated code lists them.
    #[cfg(test)]
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    /// The backends users-diesel was built with (it switches on this crate's features).
    pub fn enabled() -> Vec<Backend> {
        [
            (cfg!(feature = "sqlite"), Backend::Sqlite),
            (cfg!(feature = "postgres"), Backend::Postgres),
            (cfg!(feature = "mysql"), Backend::Mysql),
        ]
        .into_iter()
        .filter_map(|(enabled, backend)| enabled.then_some(backend))
        .collect()
    }

    /// The cargo feature of users-diesel that enables this backend.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    pub fn diesel_backend(self) -> TokenStream {
        match self {
            Backend::Sqlite => quote!(diesel::sqlite::Sqlite),
            Backend::Postgres => quote!(diesel::pg::Pg),
            Backend::Mysql => quote!(diesel::mysql::Mysql),
        }
    }

    /// The connection type a store of this flavor is implemented for.
    pub fn connection(self, flavor: Flavor) -> TokenStream {
        match (flavor, self) {
            (Flavor::Sync, Backend::Sqlite) => quote!(diesel::sqlite::SqliteConnection),
            (Flavor::Sync, Backend::Postgres) => quote!(diesel::pg::PgConnection),
            (Flavor::Sync, Backend::Mysql) => quote!(diesel::mysql::MysqlConnection),
            // Imported by the block of the async stores.
            (Flavor::Async, Backend::Sqlite) => quote!(AsyncSqliteConnection),
            (Flavor::Async, Backend::Postgres) => quote!(AsyncPgConnection),
            (Flavor::Async, Backend::Mysql) => quote!(AsyncMysqlConnection),
        }
    }
}

/// How a store runs its queries: over a Diesel connection, or a diesel-async one. The statements
/// are the same token for token; an async store's methods are `async fn`s that await each query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Sync,
    Async,
}

impl Flavor {
    /// What goes before `fn` in a store method.
    pub fn asyncness(self) -> TokenStream {
        match self {
            Flavor::Sync => quote!(),
            Flavor::Async => quote!(async),
        }
    }

    /// `RunQueryDsl::<method>(<query>, conn)`, awaited in an async store: the `RunQueryDsl` of
    /// Diesel or of diesel-async, which the block of the stores imports. A method call
    /// (`query.first(conn)`) would be ambiguous in an application that has both traits in scope.
    pub fn run(self, method: TokenStream, query: TokenStream) -> TokenStream {
        match self {
            Flavor::Sync => quote!(RunQueryDsl::#method(#query, conn)),
            Flavor::Async => quote!(RunQueryDsl::#method(#query, conn).await),
        }
    }
}

/// A column the macro adds to the user's struct.
pub struct Injected {
    pub name: &'static str,
    pub doc: &'static str,
    pub ty: TokenStream,
    pub sql: TokenStream,
    pub column: TokenStream,
    pub attrs: TokenStream,
}

/// The injected fields of a model: those before the user's fields and those after.
pub struct InjectedFields {
    pub head: Vec<Injected>,
    pub tail: Vec<Injected>,
}

/// Everything a model expands to; with `asynchronous`, async stores too.
pub fn model(model: &Model, backends: &[Backend], asynchronous: bool) -> TokenStream {
    let fields = match &model.kind {
        Kind::User { timestamps } => user::injected_fields(model, *timestamps),
        Kind::Role { .. } => role::injected_fields(model),
        Kind::Org { .. } => org::injected_fields(model),
    };
    let item = model_struct(model, &fields, backends);
    // Bound to an existing table, the fields' types check it (see `checked_injected_type`).
    let table = match model.schema {
        Some(_) => quote!(),
        None => table(model, &fields),
    };
    let krate = &model.krate;
    let debug = debug_impl(model, &fields);
    let schema_columns = schema_columns(model, &fields);
    let (related, impls) = match &model.kind {
        Kind::User { timestamps } => (
            quote!(),
            user::impls(model, *timestamps, &schema_columns, backends),
        ),
        Kind::Role {
            join_table,
            join_table_span,
            ..
        } => {
            let user = role::user_type(model);
            let role_user = role::role_user_impl(model);
            let join_items = role::join_items(model, join_table, &user, backends);
            (
                quote!(#role_user #join_items),
                role::impls(
                    model,
                    join_table,
                    *join_table_span,
                    &user,
                    &schema_columns,
                    backends,
                ),
            )
        }
        Kind::Org { .. } => {
            let user = role::user_type(model);
            let org_user = role::role_user_impl(model);
            let tables = org::table_items(model);
            (
                quote!(#org_user #tables),
                org::impls(model, &user, &schema_columns, backends),
            )
        }
    };
    let async_stores = asynchronous.then(|| async_store::stores(model, backends));
    quote! {
        #item
        #table
        #related
        const _: () = {
            use #krate::__private::diesel::prelude::*;
            use #krate::__private::diesel::RunQueryDsl;
            use #krate::__private::{Column, ColumnType, Id, ModelSchema, Table, UsersError};

            #impls
            #debug
        };
        #async_stores
    }
}

fn model_struct(model: &Model, fields: &InjectedFields, backends: &[Backend]) -> TokenStream {
    let item = model.item;
    let attrs = &item.attrs;
    let vis = &item.vis;
    let ident = &item.ident;
    let table = table_path(model);
    let checks = backends.iter().map(|backend| backend.diesel_backend());
    let head = fields.head.iter().map(|field| injected_field(model, field));
    let tail = fields.tail.iter().map(|field| injected_field(model, field));
    let own = model.fields.iter().map(|field| own_field(model, field));
    // diesel's `AsChangeset` derive writes `column.eq(value)` for a `serialize_as` field
    // without naming the trait (diesel_derives 2.3), so a module without Diesel's prelude would
    // read `eq` as `Iterator::eq`: the trait goes in scope here, unnamed.
    let expression_methods = model
        .fields
        .iter()
        .any(|field| field.sql.as_ref().is_some_and(|sql| sql.portable))
        .then(|| {
            let krate = &model.krate;
            quote! {
                #[allow(unused_imports)]
                use #krate::__private::diesel::ExpressionMethods as _;
            }
        });
    quote! {
        #expression_methods
        #(#attrs)*
        #[derive(
            diesel::Queryable,
            diesel::Selectable,
            diesel::Insertable,
            diesel::AsChangeset,
            diesel::Identifiable,
            ::core::clone::Clone,
            ::core::cmp::PartialEq
        )]
        #[diesel(table_name = #table, check_for_backend(#(#checks),*))]
        #[diesel(treat_none_as_null = true)]
        #vis struct #ident {
            #(#head,)*
            #(#own,)*
            #(#tail,)*
        }
    }
}

/// A field the attribute injects (`id`, `email`, …), with its docs and attributes.
fn injected_field(model: &Model, field: &Injected) -> TokenStream {
    let Injected { doc, attrs, .. } = field;
    let name = Ident::new(field.name, injected_span(model));
    let ty = match model.schema {
        Some(_) => checked_injected_type(model, field),
        None => field.ty.clone(),
    };
    quote! {
        #[doc = #doc]
        #attrs
        pub #name: #ty
    }
}

/// One of the model's own fields, with its column name and storage type for Diesel.
fn own_field(model: &Model, field: &Field) -> TokenStream {
    let original = field.original;
    let attrs = field.passthrough_attrs();
    let (vis, ident) = (&original.vis, field.ident);
    let ty = checked_own_type(model, field);
    let rename = field.column.name.as_ref().map(|_| {
        let column = format_ident!("{}", field.column_name);
        quote!(#[diesel(column_name = #column)])
    });
    let portable = field.sql.as_ref().filter(|sql| sql.portable).map(|_| {
        let krate = &model.krate;
        let ty = &original.ty;
        let portable = quote!(#krate::__private::Portable<#ty>);
        quote!(#[diesel(serialize_as = #portable, deserialize_as = #portable)])
    });
    quote! {
        #(#attrs)*
        #rename
        #portable
        #vis #ident: #ty
    }
}

fn table(model: &Model, fields: &InjectedFields) -> TokenStream {
    let krate = &model.krate;
    let table = table_path(model);
    let doc = format!(
        " The `{}` table of [`{}`], written by `{}`.",
        model.table,
        model.item.ident,
        model.kind.macro_kind().attribute()
    );
    let injected = |fields: &[Injected]| -> Vec<TokenStream> {
        fields
            .iter()
            .map(|field| {
                let name = format_ident!("{}", field.name);
                let (sql, doc) = (&field.sql, field.doc);
                quote!(#[doc = #doc] #name -> #sql)
            })
            .collect()
    };
    let head = injected(&fields.head);
    let tail = injected(&fields.tail);
    let own = model.fields.iter().filter_map(|field| {
        let mapping = field.sql.as_ref()?;
        let sql = match mapping.sql_type {
            SqlType::Numeric => {
                let (precision, scale) = numeric_arguments(field);
                quote!(#krate::sql_types::Numeric<#precision, #scale>)
            }
            other => other.table_type(krate),
        };
        let sql = if mapping.nullable {
            quote!(Nullable<#sql>)
        } else {
            sql
        };
        let column = format_ident!("{}", field.column_name);
        let docs = column_docs(field);
        Some(quote!(#(#docs)* #column -> #sql))
    });
    quote! {
        diesel::table! {
            use diesel::sql_types::*;
            use #krate::sql_types::Uuid;

            #[doc = #doc]
            #table (id) {
                #(#head,)*
                #(#own,)*
                #(#tail,)*
            }
        }
    }
}

/// With `schema = …`, an injected field's type: `Checked<T, { holds::<column, …>() }>`, which is
/// `T` when the column's SQL type can hold it and otherwise one error, spanned at the schema
/// path, after which rustc knows the field's type as an error and reports no other use of it.
fn checked_injected_type(model: &Model, field: &Injected) -> TokenStream {
    checked_type(model, field.name, &field.ty, &field.sql)
}

/// `Checked<ty, { check }>` for the injected column `name` of SQL type `sql`.
fn checked_type(model: &Model, name: &str, ty: &TokenStream, sql: &TokenStream) -> TokenStream {
    let krate = &model.krate;
    let span = injected_span(model);
    let table = table_path(model);
    let column = Ident::new(name, span);
    let column = respanned(quote!(#table::#column), span);
    let checks = respanned(quote!(#krate::__private::schema_check), span);
    let check = match name {
        "id" => quote_spanned!(span=> #checks::holds_id::<#column>()),
        "created_at" | "updated_at" => quote_spanned!(span=> #checks::holds_timestamp::<#column>()),
        _ => {
            let expected = respanned(qualified_sql_type(krate, sql), span);
            quote_spanned!(span=> #checks::holds::<#column, #expected>())
        }
    };
    quote!(#krate::__private::schema_check::Checked<#ty, { #check }>)
}

/// `Nullable<Text>` as `diesel::sql_types::Nullable<diesel::sql_types::Text>`, through `krate`.
fn qualified_sql_type(krate: &syn::Path, sql: &TokenStream) -> TokenStream {
    sql.clone()
        .into_iter()
        .map(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => {
                quote!(#krate::__private::diesel::sql_types::#ident)
            }
            other => other.into_token_stream(),
        })
        .collect()
}

/// With `schema = …`, `let arg: &Checked<str, { … }> = arg;` for a store method's argument
/// compared with the injected column `column`: a mistyped column is then the one error of its
/// field's type (the same check at the same token, which rustc reports once), not one per query.
pub fn checked_arg(model: &Model, arg: &str, column: &str, ty: TokenStream) -> TokenStream {
    if model.schema.is_none() {
        return quote!();
    }
    let arg = format_ident!("{}", arg);
    let checked = checked_type(model, column, &ty, &injected_sql_type(column));
    let reference = (column != "id").then(|| quote!(&));
    quote!(let #arg: #reference #checked = #arg;)
}

/// `let column = table::column;` for an injected column a query names; with `schema = …`, typed
/// `Checked<table::column, { … }>`, the same check as its field's type at the same token (which
/// rustc reports once), after which the column is an error type that adds no error of its own.
pub fn checked_column(model: &Model, column: &str) -> TokenStream {
    let table = table_path(model);
    let name = format_ident!("{}", column);
    if model.schema.is_none() {
        return quote!(let #name = #table::#name;);
    }
    let span = injected_span(model);
    let path = respanned(quote!(#table::#name), span);
    let ty = checked_type(model, column, &path, &injected_sql_type(column));
    quote!(let #name: #ty = #path;)
}

/// The SQL type of an injected user column that a store method names.
fn injected_sql_type(column: &str) -> TokenStream {
    match column {
        "id" => quote!(Uuid),
        "is_active" | "is_verified" => quote!(Bool),
        _ => quote!(Text),
    }
}

/// With `schema = …`, the type of a field of the user's own: `Checked<T, { fits::<column, T>() }>`,
/// one error at the field's type when its column cannot take it (see [`checked_injected_type`]).
/// A field that binds through `Portable` keeps its type: the derives check it at the field.
fn checked_own_type(model: &Model, field: &Field) -> TokenStream {
    let ty = &field.original.ty;
    if model.schema.is_none() || field.sql.as_ref().is_some_and(|sql| sql.portable) {
        return quote!(#ty);
    }
    let krate = &model.krate;
    let span = ty.span();
    let table = table_path(model);
    let fits = respanned(quote!(#krate::__private::schema_check::fits), span);
    // At the field's name, as the derives name the column: a missing column is one error.
    let column = format_ident!("{}", field.column_name, span = field.ident.span());
    let table = respanned(table, span);
    let fits = quote_spanned!(span=> #fits::<#table::#column, #ty>());
    quote!(#krate::__private::schema_check::Checked<#ty, { #fits }>)
}

fn debug_impl(model: &Model, fields: &InjectedFields) -> TokenStream {
    let ident = &model.item.ident;
    let name = ident.to_string();
    let field = |field_name: &str| {
        let member = format_ident!("{}", field_name);
        if field_name == "password_hash" {
            quote!(.field("password_hash", &"<redacted>"))
        } else {
            quote!(.field(#field_name, &self.#member))
        }
    };
    let head = fields.head.iter().map(|f| field(f.name));
    let own = model.fields.iter().map(|f| {
        let member = f.ident;
        let field_name = member.to_string();
        quote!(.field(#field_name, &self.#member))
    });
    let tail = fields.tail.iter().map(|f| field(f.name));
    quote! {
        #[automatically_derived]
        impl ::core::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name)
                    #(#head)*
                    #(#own)*
                    #(#tail)*
                    .finish()
            }
        }
    }
}

/// A field's starting value in `from_credentials`: its `#[column(default = …)]`, `None` for
/// an `Option`, or `Default::default()` spanned at its type (for `register_with` to overwrite:
/// `register` refuses a model with such fields) so a missing `Default` points there.
pub fn default_value(field: &Field) -> TokenStream {
    let ty = &field.original.ty;
    let nullable = field.sql.as_ref().is_some_and(|sql| sql.nullable);
    let Some(default) = &field.default else {
        return if nullable {
            quote_spanned!(ty.span()=> ::core::option::Option::None)
        } else {
            quote_spanned!(ty.span()=> ::core::default::Default::default())
        };
    };
    let expr = &default.expr;
    let value = match default.literal {
        Some(LiteralDefault::Str(_)) => {
            quote_spanned!(expr.span()=> ::std::string::String::from(#expr))
        }
        _ => quote!(#expr),
    };
    if nullable {
        quote_spanned!(expr.span()=> ::core::option::Option::Some(#value))
    } else {
        value
    }
}

/// A decimal field's precision and scale as the arguments of `Numeric<P, S>` (an out-of-range
/// one is already an error of its own).
fn numeric_arguments(field: &Field) -> (proc_macro2::Literal, proc_macro2::Literal) {
    let argument = |value: Option<u32>| {
        proc_macro2::Literal::u8_unsuffixed(value.unwrap_or(0).min(u32::from(u8::MAX)) as u8)
    };
    (argument(field.precision), argument(field.scale))
}

/// Before `value` (`user` or `role`) is written: each decimal field fits its column, or the
/// write is `UsersError::OutOfRange` naming the column, the same on every backend.
pub(crate) fn decimal_checks(model: &Model, value: &str) -> TokenStream {
    let krate = &model.krate;
    let value = format_ident!("{value}");
    let checks = model.fields.iter().filter_map(|field| {
        let mapping = field.sql.as_ref()?;
        if mapping.sql_type != SqlType::Numeric {
            return None;
        }
        let (precision, scale) = numeric_arguments(field);
        let ident = field.ident;
        let column = &field.column_name;
        let present = if mapping.nullable {
            quote!(#value.#ident.as_ref())
        } else {
            quote!(::core::option::Option::Some(&#value.#ident))
        };
        Some(quote! {
            #krate::__private::check_fits::<#precision, #scale>(#present, #column)?;
        })
    });
    quote!(#(#checks)*)
}

/// `Column::new("name", ColumnType::Text).nullable().unique()…` for one of the user's fields.
fn column_description(model: &Model, field: &Field) -> Option<TokenStream> {
    let sql = field.sql.as_ref()?;
    let krate = &model.krate;
    let name = &field.column_name;
    let column_type = match sql.sql_type {
        SqlType::Numeric => {
            let precision = proc_macro2::Literal::u32_unsuffixed(field.precision.unwrap_or(0));
            let scale = proc_macro2::Literal::u32_unsuffixed(field.scale.unwrap_or(0));
            quote!(Numeric { precision: #precision, scale: #scale })
        }
        SqlType::Enum => {
            // Spanned at the field's type: a type that is no `UserEnum` is an error there.
            let inner = &sql.inner;
            let values = quote_spanned!(inner.span()=> <#inner as #krate::UserEnum>::VALUES);
            quote!(Enum { values: #values })
        }
        SqlType::Array(element) => {
            let element = format_ident!("{}", element.variant());
            quote!(Array { element: &ColumnType::#element })
        }
        other => format_ident!("{}", other.variant()).into_token_stream(),
    };
    let mut tokens = quote!(Column::new(#name, ColumnType::#column_type));
    if sql.nullable {
        tokens.extend(quote!(.nullable()));
    }
    if field.column.unique.is_some() {
        tokens.extend(quote!(.unique()));
    }
    if field.column.index.is_some() {
        tokens.extend(quote!(.indexed()));
    }
    if let Some(length) = field.max_length {
        let length = proc_macro2::Literal::u32_unsuffixed(length);
        tokens.extend(quote!(.max_length(#length)));
    }
    if let Some(old_name) = &field.column.renamed_from {
        tokens.extend(quote!(.renamed_from(#old_name)));
    }
    if let Some(default) = field.default.as_ref().and_then(|d| d.literal.as_ref()) {
        let value = match default {
            LiteralDefault::Int(value) => {
                let value = proc_macro2::Literal::i64_unsuffixed(*value);
                quote!(DefaultValue::Int(#value))
            }
            LiteralDefault::Float(value) => quote!(DefaultValue::Float(#value)),
            LiteralDefault::Bool(value) => quote!(DefaultValue::Bool(#value)),
            LiteralDefault::Str(value) => quote!(DefaultValue::Str(#value)),
        };
        tokens.extend(quote!(.default(#krate::__private::#value)));
    }
    Some(tokens)
}

/// How a store passes the model to `values` and `set`: by reference, or by value where a field
/// binds through `Portable`, which Diesel binds only from owned values.
pub fn write_source(model: &Model, value: TokenStream) -> TokenStream {
    if model
        .fields
        .iter()
        .any(|field| field.sql.as_ref().is_some_and(|sql| sql.portable))
    {
        quote!(#value.clone())
    } else {
        value
    }
}

/// The SQL names of the fields `register` cannot fill (no `Option`, no default).
pub fn required_fields<'m>(model: &'m Model) -> Vec<&'m str> {
    model
        .fields
        .iter()
        .filter(|field| field.is_required())
        .map(|field| field.column_name.as_str())
        .collect()
}

/// A column's documentation in `table!`: the field's own doc comments, or a line naming it
/// (every generated public item is documented, so `#![deny(missing_docs)]` holds downstream).
fn column_docs(field: &Field) -> Vec<TokenStream> {
    let docs: Vec<TokenStream> = field
        .original
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .map(|attr| quote!(#attr))
        .collect();
    if docs.is_empty() {
        let doc = format!(" The `{}` column.", field.column_name);
        vec![quote!(#[doc = #doc])]
    } else {
        docs
    }
}

/// The store methods a user and a role model share: load by id, load by a unique text column,
/// delete by id.
///
/// Loads of one row by a unique column use `get_result`, not `first`: the key already limits
/// the answer to one row, and recent SQLite (3.53 is bundled) plans a bound `LIMIT ?` as the
/// constant bound to it, so `first` would make it re-prepare the statement on every call.
pub fn shared_store_methods(
    model: &Model,
    connection: &TokenStream,
    flavor: Flavor,
    by: &str,
) -> TokenStream {
    let ident = &model.item.ident;
    let table = table_path(model);
    let find_by = format_ident!("find_by_{}", by);
    let column = format_ident!("{}", by);
    let asyncness = flavor.asyncness();
    let find = flavor.run(
        quote!(get_result),
        quote!(#table::table.find(id).select(#ident::as_select())),
    );
    let find_by_column = flavor.run(
        quote!(get_result),
        quote!(#table::table.filter(#table::#column.eq(#column)).select(#ident::as_select())),
    );
    let delete = flavor.run(
        quote!(execute),
        quote!(diesel::delete(#table::table.find(id))),
    );
    let checked_id = checked_arg(model, "id", "id", quote!(Id<#ident>));
    let checked_by = checked_arg(model, by, by, quote!(str));
    quote! {
        #asyncness fn find(conn: &mut #connection, id: Id<#ident>) -> ::core::result::Result<::core::option::Option<Self>, UsersError> {
            #checked_id
            #find.optional().map_err(database_error)
        }

        #asyncness fn #find_by(conn: &mut #connection, #column: &str) -> ::core::result::Result<::core::option::Option<Self>, UsersError> {
            #checked_by
            #find_by_column.optional().map_err(database_error)
        }

        #asyncness fn delete(conn: &mut #connection, id: Id<#ident>) -> ::core::result::Result<bool, UsersError> {
            #checked_id
            #delete.map(|deleted| deleted > 0).map_err(database_error)
        }
    }
}

/// `name: <starting value>` for each of the user's fields, for the `from_*` constructors.
pub fn field_defaults(model: &Model) -> Vec<TokenStream> {
    model
        .fields
        .iter()
        .map(|field| {
            let member = field.ident;
            let value = default_value(field);
            quote!(#member: #value)
        })
        .collect()
}

/// The `Column` descriptions of a model's table, injected and own, in order.
fn schema_columns(model: &Model, fields: &InjectedFields) -> Vec<TokenStream> {
    let head = fields.head.iter().map(|f| f.column.clone());
    let own = model
        .fields
        .iter()
        .filter_map(|field| column_description(model, field));
    let tail = fields.tail.iter().map(|f| f.column.clone());
    head.chain(own).chain(tail).collect()
}

/// The path of the model's table module: the one `table!` emits, or the `schema = …` path.
pub fn table_path(model: &Model) -> TokenStream {
    match &model.schema {
        Some(path) => quote!(#path),
        None => sql_ident(&model.table).into_token_stream(),
    }
}

/// The path of a table beside the model's own: in the same module as the `schema = …` table
/// (as `diesel print-schema` writes them), or emitted next to the model.
pub fn sibling_table_path(model: &Model, name: &str) -> TokenStream {
    let table = sql_ident(name);
    match &model.schema {
        Some(path) => {
            let mut path = path.clone();
            if let Some(last) = path.segments.last_mut() {
                last.ident = table;
            }
            quote!(#path)
        }
        None => table.into_token_stream(),
    }
}

/// Where errors about an injected column belong: the `schema = …` path that lacks or mistypes
/// it, or the macro itself.
fn injected_span(model: &Model) -> Span {
    let table = model.schema.as_ref().and_then(|path| path.segments.last());
    table.map_or_else(Span::call_site, |segment| segment.ident.span())
}

/// `tokens` with every token at `span`: a failed bound or call names the item it reaches
/// through them, and the error should point at the user's token, not at the whole attribute.
pub fn respanned(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// A validated SQL name as a Rust identifier (validation rejected the rest; expansion only
/// runs without errors).
pub fn sql_ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}
