//! Code generation for `#[user_model]`: reads the typed model, never tokens.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::{Field, UserModel};
use crate::valid::{literal_default, LiteralDefault};

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

    fn diesel_backend(self) -> TokenStream {
        match self {
            Backend::Sqlite => quote!(diesel::sqlite::Sqlite),
            Backend::Postgres => quote!(diesel::pg::Pg),
            Backend::Mysql => quote!(diesel::mysql::Mysql),
        }
    }

    fn connection(self) -> TokenStream {
        match self {
            Backend::Sqlite => quote!(diesel::sqlite::SqliteConnection),
            Backend::Postgres => quote!(diesel::pg::PgConnection),
            Backend::Mysql => quote!(diesel::mysql::MysqlConnection),
        }
    }
}

/// A column the macro adds to the user's struct.
struct Injected {
    name: &'static str,
    doc: &'static str,
    ty: TokenStream,
    sql: TokenStream,
    column: TokenStream,
    attrs: TokenStream,
}

fn injected_fields(model: &UserModel) -> Vec<Injected> {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let hash_attrs = if model.serde {
        quote!(#[serde(skip)])
    } else {
        quote!()
    };
    vec![
        Injected {
            name: "id",
            doc: " The user's id: a UUIDv7, so ids sort by creation time.",
            ty: quote!(#krate::Id<#ident>),
            sql: quote!(Uuid),
            column: quote!(Column::new("id", ColumnType::Uuid)),
            attrs: quote!(),
        },
        Injected {
            name: "email",
            doc: " The email address, trimmed and lowercased; unique.",
            ty: quote!(String),
            sql: quote!(Text),
            column: quote!(Column::new("email", ColumnType::Text)
                .unique()
                .max_length(254)),
            attrs: quote!(),
        },
        Injected {
            name: "password_hash",
            doc: " The argon2id hash of the password, as a PHC string. Never printed by `Debug`.",
            ty: quote!(String),
            sql: quote!(Text),
            column: quote!(Column::new("password_hash", ColumnType::Text)),
            attrs: hash_attrs,
        },
        Injected {
            name: "is_active",
            doc: " Whether the user may log in.",
            ty: quote!(bool),
            sql: quote!(Bool),
            column: quote!(
                Column::new("is_active", ColumnType::Bool).default(DefaultValue::Bool(true))
            ),
            attrs: quote!(),
        },
        Injected {
            name: "is_verified",
            doc: " Whether the user has verified their email address.",
            ty: quote!(bool),
            sql: quote!(Bool),
            column: quote!(
                Column::new("is_verified", ColumnType::Bool).default(DefaultValue::Bool(false))
            ),
            attrs: quote!(),
        },
    ]
}

fn timestamp_fields(model: &UserModel) -> Vec<Injected> {
    if !model.timestamps {
        return Vec::new();
    }
    let krate = &model.krate;
    vec![
        Injected {
            name: "created_at",
            doc: " When the user was inserted (UTC); set by the store.",
            ty: quote!(#krate::__private::chrono::NaiveDateTime),
            sql: quote!(Timestamp),
            column: quote!(Column::new("created_at", ColumnType::Timestamp)),
            attrs: quote!(#[diesel(skip_update)]),
        },
        Injected {
            name: "updated_at",
            doc: " When the user was last written (UTC); set by the store.",
            ty: quote!(#krate::__private::chrono::NaiveDateTime),
            sql: quote!(Timestamp),
            column: quote!(Column::new("updated_at", ColumnType::Timestamp)),
            attrs: quote!(),
        },
    ]
}

pub fn user_model(model: &UserModel, backends: &[Backend]) -> TokenStream {
    let head = injected_fields(model);
    let tail = timestamp_fields(model);
    let item = user_struct(model, &head, &tail, backends);
    let table = table(model, &head, &tail);
    let impls = user_impls(model, &head, &tail, backends);
    quote! {
        #item
        #table
        #impls
    }
}

fn user_struct(
    model: &UserModel,
    head: &[Injected],
    tail: &[Injected],
    backends: &[Backend],
) -> TokenStream {
    let item = model.item;
    let attrs = &item.attrs;
    let vis = &item.vis;
    let ident = &item.ident;
    let table = table_ident(model);
    let checks = backends.iter().map(|backend| backend.diesel_backend());
    let injected = |fields: &[Injected]| -> Vec<TokenStream> {
        fields
            .iter()
            .map(|field| {
                let Injected { doc, ty, attrs, .. } = field;
                let name = format_ident!("{}", field.name);
                quote! {
                    #[doc = #doc]
                    #attrs
                    pub #name: #ty
                }
            })
            .collect()
    };
    let head = injected(head);
    let tail = injected(tail);
    let own = model.fields.iter().map(|field| {
        let original = field.original;
        let attrs = field.passthrough_attrs();
        let (vis, ident, ty) = (&original.vis, field.ident, &original.ty);
        let rename = field.column.name.as_ref().map(|_| {
            let column = format_ident!("{}", field.column_name);
            quote!(#[diesel(column_name = #column)])
        });
        quote! {
            #(#attrs)*
            #rename
            #vis #ident: #ty
        }
    });
    quote! {
        #(#attrs)*
        #[derive(
            diesel::Queryable,
            diesel::Selectable,
            diesel::Insertable,
            diesel::AsChangeset,
            diesel::Identifiable,
            Clone,
            PartialEq
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

fn table(model: &UserModel, head: &[Injected], tail: &[Injected]) -> TokenStream {
    let krate = &model.krate;
    let table = table_ident(model);
    let doc = format!(
        " The `{}` table of [`{}`], written by `#[user_model]`.",
        model.table, model.item.ident
    );
    let injected = |fields: &[Injected]| -> Vec<TokenStream> {
        fields
            .iter()
            .map(|field| {
                let name = format_ident!("{}", field.name);
                let sql = &field.sql;
                quote!(#name -> #sql)
            })
            .collect()
    };
    let head = injected(head);
    let tail = injected(tail);
    let own = model.fields.iter().filter_map(|field| {
        let sql = &field.sql.as_ref()?.diesel_type;
        let column = format_ident!("{}", field.column_name);
        Some(quote!(#column -> #sql))
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

fn user_impls(
    model: &UserModel,
    head: &[Injected],
    tail: &[Injected],
    backends: &[Backend],
) -> TokenStream {
    let krate = &model.krate;
    let debug = debug_impl(model, head, tail);
    let user_model = user_model_impl(model);
    let schema = schema_impl(model, head, tail);
    let stores = backends
        .iter()
        .map(|backend| user_store_impl(model, &backend.connection()));
    quote! {
        const _: () = {
            use #krate::__private::diesel::prelude::*;
            use #krate::__private::{
                database_error, now, transaction, user_write_error, Column, ColumnType,
                DefaultValue, Id, ModelSchema, Table, UserModel, UserStore, UsersError,
            };

            #debug
            #user_model
            #schema
            #(#stores)*
        };
    }
}

fn debug_impl(model: &UserModel, head: &[Injected], tail: &[Injected]) -> TokenStream {
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
    let head = head.iter().map(|f| field(f.name));
    let own = model.fields.iter().map(|f| {
        let member = f.ident;
        let field_name = member.to_string();
        quote!(.field(#field_name, &self.#member))
    });
    let tail = tail.iter().map(|f| field(f.name));
    quote! {
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

fn user_model_impl(model: &UserModel) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table;
    let defaults = model.fields.iter().map(|field| {
        let member = field.ident;
        let value = default_value(field);
        quote!(#member: #value)
    });
    let (now, timestamps) = if model.timestamps {
        (
            quote!(let now = now();),
            quote!(created_at: now, updated_at: now,),
        )
    } else {
        (quote!(), quote!())
    };
    quote! {
        impl UserModel for #ident {
            type Id = Id<#ident>;

            const TABLE: &'static str = #table;

            fn from_credentials(id: Id<#ident>, email: String, password_hash: String) -> Self {
                #now
                #ident {
                    id,
                    email,
                    password_hash,
                    is_active: true,
                    is_verified: false,
                    #(#defaults,)*
                    #timestamps
                }
            }

            fn id(&self) -> Id<#ident> {
                self.id
            }

            fn email(&self) -> &str {
                &self.email
            }

            fn set_email(&mut self, email: String) {
                self.email = email;
            }

            fn password_hash(&self) -> &str {
                &self.password_hash
            }

            fn set_password_hash(&mut self, password_hash: String) {
                self.password_hash = password_hash;
            }

            fn is_active(&self) -> bool {
                self.is_active
            }

            fn set_active(&mut self, active: bool) {
                self.is_active = active;
            }

            fn is_verified(&self) -> bool {
                self.is_verified
            }

            fn set_verified(&mut self, verified: bool) {
                self.is_verified = verified;
            }
        }
    }
}

/// A field's starting value in `from_credentials`: its `#[column(default = …)]`, or
/// `Default::default()` spanned at its type so a missing `Default` points there.
fn default_value(field: &Field) -> TokenStream {
    let ty = &field.original.ty;
    let Some(default) = &field.column.default else {
        return quote_spanned!(ty.span()=> ::core::default::Default::default());
    };
    let nullable = field.sql.as_ref().is_some_and(|sql| sql.nullable);
    let value = match literal_default(default) {
        Some(LiteralDefault::Str(_)) => {
            quote_spanned!(default.span()=> ::std::string::String::from(#default))
        }
        _ => quote!(#default),
    };
    if nullable {
        quote_spanned!(default.span()=> ::core::option::Option::Some(#value))
    } else {
        value
    }
}

fn schema_impl(model: &UserModel, head: &[Injected], tail: &[Injected]) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table;
    let head = head.iter().map(|f| &f.column);
    let tail = tail.iter().map(|f| &f.column);
    let own = model.fields.iter().filter_map(column_description);
    quote! {
        impl ModelSchema for #ident {
            const TABLES: &'static [Table] = &[Table {
                name: #table,
                columns: &[
                    #(#head,)*
                    #(#own,)*
                    #(#tail,)*
                ],
                primary_key: &["id"],
                foreign_keys: &[],
            }];

            const MIGRATION_ORDER: u8 = 1;
        }
    }
}

/// `Column::new("name", ColumnType::Text).nullable().unique()…` for one of the user's fields.
fn column_description(field: &Field) -> Option<TokenStream> {
    let sql = field.sql.as_ref()?;
    let name = &field.column_name;
    let column_type = &sql.column_type;
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
    if let Some(length) = &field.column.max_length {
        let length = proc_macro2::Literal::u32_unsuffixed(length.base10_parse().unwrap_or(0));
        tokens.extend(quote!(.max_length(#length)));
    }
    let default = field.column.default.as_ref().and_then(literal_default);
    if let Some(default) = default {
        let value = match default {
            LiteralDefault::Int(value) => {
                let value = proc_macro2::Literal::i64_unsuffixed(value);
                quote!(DefaultValue::Int(#value))
            }
            LiteralDefault::Float(value) => quote!(DefaultValue::Float(#value)),
            LiteralDefault::Bool(value) => quote!(DefaultValue::Bool(#value)),
            LiteralDefault::Str(value) => quote!(DefaultValue::Str(#value)),
        };
        tokens.extend(quote!(.default(#value)));
    }
    Some(tokens)
}

fn user_store_impl(model: &UserModel, connection: &TokenStream) -> TokenStream {
    let ident = &model.item.ident;
    let table = table_ident(model);
    let table_name = &model.table;
    let (insert_prepare, update_prepare, update_result) = if model.timestamps {
        (
            quote! {
                let now = now();
                let user = &#ident { created_at: now, updated_at: now, ..user.clone() };
            },
            quote!(let user = &#ident { updated_at: now(), ..user.clone() };),
            // `created_at` is not part of the changeset, so read the stored row back.
            quote!(#table::table.find(user.id).select(#ident::as_select()).first(conn).map_err(database_error)),
        )
    } else {
        (quote!(), quote!(), quote!(Ok(user.clone())))
    };
    quote! {
        impl UserStore<#connection> for #ident {
            fn insert(conn: &mut #connection, user: &Self) -> Result<Self, UsersError> {
                #insert_prepare
                diesel::insert_into(#table::table)
                    .values(user)
                    .execute(conn)
                    .map_err(|error| user_write_error(error, #table_name))?;
                Ok(user.clone())
            }

            fn find(conn: &mut #connection, id: Id<#ident>) -> Result<Option<Self>, UsersError> {
                #table::table
                    .find(id)
                    .select(#ident::as_select())
                    .first(conn)
                    .optional()
                    .map_err(database_error)
            }

            fn find_by_email(conn: &mut #connection, email: &str) -> Result<Option<Self>, UsersError> {
                #table::table
                    .filter(#table::email.eq(email))
                    .select(#ident::as_select())
                    .first(conn)
                    .optional()
                    .map_err(database_error)
            }

            fn update(conn: &mut #connection, user: &Self) -> Result<Self, UsersError> {
                #update_prepare
                let updated = diesel::update(#table::table.find(user.id))
                    .set(user)
                    .execute(conn)
                    .map_err(|error| user_write_error(error, #table_name))?;
                if updated == 0 {
                    return Err(UsersError::UserNotFound);
                }
                #update_result
            }

            fn delete(conn: &mut #connection, id: Id<#ident>) -> Result<bool, UsersError> {
                diesel::delete(#table::table.find(id))
                    .execute(conn)
                    .map(|deleted| deleted > 0)
                    .map_err(database_error)
            }

            fn transaction<T, F>(conn: &mut #connection, f: F) -> Result<T, UsersError>
            where
                F: FnOnce(&mut #connection) -> Result<T, UsersError>,
            {
                transaction(conn, f)
            }
        }
    }
}

fn table_ident(model: &UserModel) -> Ident {
    // An invalid name was reported by validation; expansion only runs without errors.
    Ident::new(&model.table, Span::call_site())
}
