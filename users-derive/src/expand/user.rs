//! What only `#[user_model]` emits: the user's injected fields, `UserModel` and the stores.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    checked_arg, checked_column, field_defaults, required_fields, shared_store_methods, table_path,
    write_source, Backend, Flavor, Injected, InjectedFields,
};
use crate::ast::Model;
use crate::types::{last_segment, option_inner};

/// The five injected fields first, the timestamps (if asked for) last.
pub fn injected_fields(model: &Model, timestamps: bool) -> InjectedFields {
    InjectedFields {
        head: head_fields(model),
        tail: timestamp_fields(model, timestamps),
    }
}

fn head_fields(model: &Model) -> Vec<Injected> {
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
            ty: quote!(::std::string::String),
            sql: quote!(Text),
            column: quote!(Column::new("email", ColumnType::Text)
                .unique()
                .max_length(254)),
            attrs: quote!(),
        },
        Injected {
            name: "password_hash",
            doc: " The argon2id hash of the password, as a PHC string. Never printed by `Debug`.",
            ty: quote!(::std::string::String),
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

fn timestamp_fields(model: &Model, timestamps: bool) -> Vec<Injected> {
    if !timestamps {
        return Vec::new();
    }
    let krate = &model.krate;
    vec![
        Injected {
            name: "created_at",
            doc: " When the user was inserted (UTC); set by the store.",
            ty: quote!(#krate::__private::chrono::NaiveDateTime),
            sql: quote!(Timestamp),
            column: quote!(Column::new("created_at", ColumnType::Timestamp).backfill_now()),
            attrs: quote!(#[diesel(skip_update)]),
        },
        Injected {
            name: "updated_at",
            doc: " When the user was last written (UTC); set by the store.",
            ty: quote!(#krate::__private::chrono::NaiveDateTime),
            sql: quote!(Timestamp),
            column: quote!(Column::new("updated_at", ColumnType::Timestamp).backfill_now()),
            attrs: quote!(),
        },
    ]
}

/// `UserModel`, `ModelSchema` and a `UserStore` per backend.
pub fn impls(
    model: &Model,
    timestamps: bool,
    columns: &[TokenStream],
    backends: &[Backend],
) -> TokenStream {
    let krate = &model.krate;
    let user_model = user_model_impl(model, timestamps);
    let schema = schema_impl(model, columns);
    let stores = backends
        .iter()
        .map(|backend| user_store_impl(model, timestamps, *backend));
    let role_joins = role_joins(model);
    quote! {
        use #krate::__private::{database_error, user_write_error, DefaultValue, UserModel, UserStore};

        #user_model
        #schema
        #role_joins
        #(#stores)*
    }
}

/// What `allow_tables_to_appear_in_same_query!` and `joinable!` would write between the user
/// table and the tables of every role model bound to this user model, from the user's side: the
/// role macro writes the rest (see `role::user_table_joins`), and names no user table in an
/// impl header.
fn role_joins(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let table = table_path(model);
    let private = quote!(#krate::__private);
    quote! {
        #[automatically_derived]
        impl<T: #private::RoleTableOf<#ident> + diesel::Table> diesel::query_source::TableNotEqual<T> for #table::table {}

        #[automatically_derived]
        impl<R: #private::RoleUser<Type = #ident>> #private::UserTableOf<R> for #table::table {}

        #[automatically_derived]
        impl<J: #private::JoinTableOf<#ident>> diesel::JoinTo<J> for #table::table {
            type FromClause = J;
            type OnClause = <J as #private::JoinTableOf<#ident>>::OnUser;

            fn join_target(join: J) -> (J, Self::OnClause) {
                (join, <J as #private::JoinTableOf<#ident>>::on_user())
            }
        }
    }
}

fn user_model_impl(model: &Model, timestamps: bool) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let table = &model.table;
    let defaults = field_defaults(model);
    let required = required_fields(model);
    let profile_words = profile_words(model);
    let (now, timestamps) = if timestamps {
        (
            quote!(let now = #krate::__private::now();),
            quote!(created_at: now, updated_at: now,),
        )
    } else {
        (quote!(), quote!())
    };
    quote! {
        #[automatically_derived]
        impl UserModel for #ident {
            type Id = Id<#ident>;
            type Sessions = #krate::Sessions<#ident>;
            type SecondFactors = #krate::SecondFactors<#ident>;
            type OAuthAccounts = #krate::OAuthAccounts<#ident>;
            type Events = #krate::Events<#ident>;

            const TABLE: &'static str = #table;

            const REQUIRED_FIELDS: &'static [&'static str] = &[#(#required),*];

            fn from_credentials(id: Id<#ident>, email: ::std::string::String, password_hash: ::std::string::String) -> Self {
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

            fn set_email(&mut self, email: ::std::string::String) {
                self.email = email;
            }

            fn password_hash(&self) -> &str {
                &self.password_hash
            }

            fn set_password_hash(&mut self, password_hash: ::std::string::String) {
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
            #profile_words
        }
    }
}

/// `UserModel::profile_words` over the model's own `String` and `Option<String>` fields, for
/// the password strength estimate; nothing (the trait's empty default) for a model without any.
fn profile_words(model: &Model) -> TokenStream {
    let words: Vec<TokenStream> = model
        .fields
        .iter()
        .filter_map(|field| {
            let member = field.ident;
            let ty = &field.original.ty;
            if is_string(ty) {
                Some(quote!(::core::option::Option::Some(self.#member.as_str())))
            } else if option_inner(ty).is_some_and(is_string) {
                Some(quote!(self.#member.as_deref()))
            } else {
                None
            }
        })
        .collect();
    if words.is_empty() {
        return quote!();
    }
    quote! {
        fn profile_words(&self) -> ::std::vec::Vec<&str> {
            ::core::iter::Iterator::collect(::core::iter::Iterator::flatten(
                ::core::iter::IntoIterator::into_iter([#(#words),*]),
            ))
        }
    }
}

/// Whether `ty` is `String` (by its last path segment, as the type mapping reads it).
fn is_string(ty: &syn::Type) -> bool {
    last_segment(ty).is_some_and(|last| last.ident == "String" && last.arguments.is_none())
}

fn schema_impl(model: &Model, columns: &[TokenStream]) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table;
    let dropped = &model.dropped_columns;
    quote! {
        #[automatically_derived]
        impl ModelSchema for #ident {
            const TABLES: &'static [Table] = &[Table {
                name: #table,
                columns: &[#(#columns),*],
                primary_key: &["id"],
                foreign_keys: &[],
                dropped_columns: &[#(#dropped),*],
            }];

            const MIGRATION_ORDER: u8 = 1;
        }
    }
}

fn user_store_impl(model: &Model, timestamps: bool, backend: Backend) -> TokenStream {
    let connection = &backend.connection(Flavor::Sync);
    let ident = &model.item.ident;
    let methods = user_store_methods(model, timestamps, backend, Flavor::Sync);
    // SQLite has no row locks; its write transactions take the database lock up front instead.
    let krate = &model.krate;
    let transaction = match backend {
        Backend::Sqlite => quote!(#krate::__private::sqlite_transaction),
        Backend::Postgres | Backend::Mysql => quote!(#krate::__private::transaction),
    };
    quote! {
        #[automatically_derived]
        impl UserStore<#connection> for #ident {
            #methods

            fn transaction<T, F>(conn: &mut #connection, f: F) -> ::core::result::Result<T, UsersError>
            where
                F: ::core::ops::FnOnce(&mut #connection) -> ::core::result::Result<T, UsersError>,
            {
                #transaction(conn, f)
            }
        }
    }
}

/// Every user store method but `transaction`, for either flavor: the same statements.
pub fn user_store_methods(
    model: &Model,
    timestamps: bool,
    backend: Backend,
    flavor: Flavor,
) -> TokenStream {
    let connection = &backend.connection(flavor);
    let asyncness = flavor.asyncness();
    let ident = &model.item.ident;
    let table = table_path(model);
    let krate = &model.krate;
    let user_value = write_source(model, quote!(user));
    let (insert_prepare, update_prepare, update_result) = if timestamps {
        // `created_at` is not part of the changeset, so read the stored row back.
        let read_back = flavor.run(
            quote!(get_result),
            quote!(#table::table.find(user.id).select(#ident::as_select())),
        );
        (
            quote! {
                let now = #krate::__private::now();
                let user = &#ident { created_at: now, updated_at: now, ..::core::clone::Clone::clone(user) };
            },
            quote!(let user = &#ident { updated_at: #krate::__private::now(), ..::core::clone::Clone::clone(user) };),
            quote!(#read_back.map_err(database_error)),
        )
    } else {
        (
            quote!(),
            quote!(),
            quote!(::core::result::Result::Ok(::core::clone::Clone::clone(
                user
            ))),
        )
    };
    let shared = shared_store_methods(model, connection, flavor, "email");
    // SQLite has no row locks; its write transactions take the database lock up front instead.
    let lock = match backend {
        Backend::Sqlite => quote!(),
        Backend::Postgres | Backend::Mysql => quote!(.for_update()),
    };
    let insert = flavor.run(
        quote!(execute),
        quote!(diesel::insert_into(#table::table).values(#user_value)),
    );
    let find_for_update = flavor.run(
        quote!(get_result),
        quote!(#table::table.find(id).select(#ident::as_select())#lock),
    );
    let update = flavor.run(
        quote!(execute),
        quote!(diesel::update(#table::table.find(user.id)).set(#user_value)),
    );
    let checked_id = checked_arg(model, "id", "id", quote!(Id<#ident>));
    let list = list_method(model, backend, flavor);
    let checks = super::decimal_checks(model, "user");
    quote! {
        #asyncness fn insert(conn: &mut #connection, user: &Self) -> ::core::result::Result<Self, UsersError> {
            #checks
            #insert_prepare
            #insert.map_err(user_write_error::<Self>)?;
            ::core::result::Result::Ok(::core::clone::Clone::clone(user))
        }

        #shared

        #asyncness fn find_for_update(conn: &mut #connection, id: Id<#ident>) -> ::core::result::Result<::core::option::Option<Self>, UsersError> {
            #checked_id
            #find_for_update.optional().map_err(database_error)
        }

        #asyncness fn update(conn: &mut #connection, user: &Self) -> ::core::result::Result<Self, UsersError> {
            #checks
            #update_prepare
            let updated = #update.map_err(user_write_error::<Self>)?;
            if updated == 0 {
                return ::core::result::Result::Err(UsersError::UserNotFound);
            }
            #update_result
        }

        #list
    }
}

/// `list`: one boxed query with a `WHERE` for each filter of the listing, selecting the model
/// last. The role filter is an `IN` over the join table, which only the role model names: its
/// name comes at run time, as `RoleModel::JOIN_TABLE`, and is quoted here (a table name, never
/// user input). Bound to an existing table, each column goes through [`checked_column`], so a
/// mistyped or missing one is the error of its field, not one more per filter.
fn list_method(model: &Model, backend: Backend, flavor: Flavor) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let table = table_path(model);
    let connection = backend.connection(flavor);
    let asyncness = flavor.asyncness();
    let db = backend.diesel_backend();
    let (open, close) = match backend {
        Backend::Mysql => ("`", "`"),
        Backend::Sqlite | Backend::Postgres => ("\"", "\""),
    };
    let member_of = format!("id IN (SELECT user_id FROM {open}{{}}{close} WHERE role_id = ");
    let load = flavor.run(quote!(load), quote!(query.select(#ident::as_select())));
    let columns =
        ["id", "email", "is_active", "is_verified"].map(|column| checked_column(model, column));
    quote! {
        #asyncness fn list(conn: &mut #connection, listing: &#krate::__private::UserListing) -> ::core::result::Result<::std::vec::Vec<Self>, UsersError> {
            #(#columns)*
            let mut query = #table::table
                .order(id)
                .limit(listing.limit)
                .into_boxed::<#db>();
            if let ::core::option::Option::Some(after) = listing.after {
                query = query.filter(id.gt(Id::<#ident>::from_uuid(after)));
            }
            if let ::core::option::Option::Some(pattern) = &listing.email_like {
                query = query.filter(email.like(::core::clone::Clone::clone(pattern)).escape('\\'));
            }
            if let ::core::option::Option::Some(active) = listing.is_active {
                query = query.filter(is_active.eq(active));
            }
            if let ::core::option::Option::Some(verified) = listing.is_verified {
                query = query.filter(is_verified.eq(verified));
            }
            if let ::core::option::Option::Some((join_table, role)) = listing.role {
                let member_of = ::std::format!(#member_of, join_table);
                query = query.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(&member_of)
                        .bind::<#krate::sql_types::Uuid, _>(Id::<#ident>::from_uuid(role))
                        .sql(")"),
                );
            }
            #load.map_err(database_error)
        }
    }
}
