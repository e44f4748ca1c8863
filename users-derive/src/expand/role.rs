//! What only `#[role_model]` emits: the role's injected fields, the join table with its struct
//! and joins, `RoleModel` and the stores.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Path;

use super::{
    field_defaults, respanned, shared_store_methods, sibling_table_path, sql_ident, table_path,
    write_source, Backend, Flavor, Injected, InjectedFields,
};
use crate::ast::{Kind, Model};

/// `id`, `name` and `description` first; roles have no timestamps.
pub fn injected_fields(model: &Model) -> InjectedFields {
    let krate = &model.krate;
    let ident = &model.item.ident;
    InjectedFields {
        head: vec![
            Injected {
                name: "id",
                doc: " The role's id: a UUIDv7.",
                ty: quote!(#krate::Id<#ident>),
                sql: quote!(Uuid),
                column: quote!(Column::new("id", ColumnType::Uuid)),
                attrs: quote!(),
            },
            Injected {
                name: "name",
                doc: " The role's unique name, e.g. `admin`.",
                ty: quote!(::std::string::String),
                sql: quote!(Text),
                column: quote!(Column::new("name", ColumnType::Text).unique()),
                attrs: quote!(),
            },
            Injected {
                name: "description",
                doc: " What the role is for.",
                ty: quote!(::core::option::Option<::std::string::String>),
                sql: quote!(Nullable<Text>),
                column: quote!(Column::new("description", ColumnType::Text).nullable()),
                attrs: quote!(),
            },
        ],
        tail: Vec::new(),
    }
}

/// The name of the join struct: the user type's name followed by the role's, e.g. `UserRole`.
fn join_struct(model: &Model) -> Ident {
    let user = user_path(model)
        .and_then(|user| user.segments.last())
        .map_or_else(|| "User".to_owned(), |s| s.ident.to_string());
    format_ident!("{}{}", user, model.item.ident)
}

/// The permissions table's SQL name and the span of its option (or of the struct's name).
pub fn permissions_table<'m>(model: &'m Model) -> (&'m str, Span) {
    match &model.kind {
        Kind::Role {
            permissions_table,
            permissions_table_span,
            ..
        } => (permissions_table, *permissions_table_span),
        Kind::User { .. } | Kind::Org { .. } => ("", Span::call_site()),
    }
}

/// The user model's path as written (`User` unless `user = …`), of a role or organization
/// model.
fn user_path<'m>(model: &'m Model) -> Option<&'m Path> {
    match &model.kind {
        Kind::Role { user, .. } | Kind::Org { user, .. } => Some(user),
        Kind::User { .. } => None,
    }
}

/// `impl RoleUser for Role { type Type = User; }` (or for an organization model): the one place
/// the generated code names the user type. Everything else names it `<Role as RoleUser>::Type`
/// ([`user_type`]), so a user type that is not in scope is one error, here, and an error type
/// everywhere else.
pub fn role_user_impl(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let user = user_path(model);
    quote! {
        #[automatically_derived]
        impl #krate::__private::RoleUser for #ident {
            type Type = #user;
        }
    }
}

/// The user model's type, through [`role_user_impl`].
pub fn user_type(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    quote!(<#ident as #krate::__private::RoleUser>::Type)
}

/// The join table, its struct, and the joins between roles and the join table. The joins that
/// involve the user table are impls in [`impls`], since only the user *type* is known here.
pub fn join_items(
    model: &Model,
    join_table: &str,
    user: &TokenStream,
    backends: &[Backend],
) -> TokenStream {
    let krate = &model.krate;
    let role = &model.item.ident;
    let vis = &model.item.vis;
    let roles = table_path(model);
    let join = sibling_table_path(model, join_table);
    let join_struct = join_struct(model);
    let checks = backends.iter().map(|backend| backend.diesel_backend());
    let user_path = user_path(model);
    let table_doc = format!(
        " The join table between [`{}`] and [`{role}`], written by `#[role_model]`.",
        quote!(#user_path).to_string().replace(' ', "")
    );
    let struct_doc = format!(" One assignment of a [`{role}`] to a user: a row of `{join_table}`.");
    let permissions_doc = format!(" The permissions of [`{role}`], written by `#[role_model]`.");
    let permissions = sibling_table_path(model, permissions_table(model).0);
    // A schema bound with `schema = …` has its own join table and joins, as
    // `diesel print-schema` writes them from the foreign keys.
    let table = model.schema.is_none().then(|| {
        quote! {
            diesel::table! {
                use diesel::sql_types::*;
                use #krate::sql_types::Uuid;

                #[doc = #table_doc]
                #join (user_id, role_id) {
                    /// The user who has the role.
                    user_id -> Uuid,
                    /// The role the user has.
                    role_id -> Uuid,
                }
            }

            diesel::table! {
                use diesel::sql_types::*;
                use #krate::sql_types::Uuid;

                #[doc = #permissions_doc]
                #permissions (role_id, permission) {
                    /// The role that holds the permission.
                    role_id -> Uuid,
                    /// The permission's (normalised) name.
                    permission -> Text,
                }
            }

            diesel::joinable!(#join -> #roles (role_id));
            diesel::joinable!(#permissions -> #roles (role_id));
            diesel::allow_tables_to_appear_in_same_query!(#roles, #join, #permissions);
        }
    });
    quote! {
        #table

        #[doc = #struct_doc]
        #[derive(
            diesel::Queryable,
            diesel::Selectable,
            diesel::Insertable,
            diesel::Identifiable,
            diesel::Associations,
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash
        )]
        #[diesel(table_name = #join, primary_key(user_id, role_id))]
        #[diesel(belongs_to(#user, foreign_key = user_id), belongs_to(#role, foreign_key = role_id))]
        #[diesel(check_for_backend(#(#checks),*))]
        #vis struct #join_struct {
            /// The user who has the role.
            pub user_id: #krate::Id<#user>,
            /// The role the user has.
            pub role_id: #krate::Id<#role>,
        }
    }
}

/// `RoleModel`, `ModelSchema`, the joins with the user table, and a `RoleStore` per backend.
pub fn impls(
    model: &Model,
    join_table: &str,
    join_table_span: Span,
    user: &TokenStream,
    columns: &[TokenStream],
    backends: &[Backend],
) -> TokenStream {
    let krate = &model.krate;
    let role_model = role_model_impl(model, join_table);
    let schema = schema_impl(model, join_table, user, columns);
    let joins = model
        .schema
        .is_none()
        .then(|| user_table_joins(model, join_table, user));
    let stores = backends
        .iter()
        .map(|backend| role_store_impl(model, join_table, user, *backend));
    let table_check = not_user_table(krate, user, &model.table, "table", model.table_span);
    let join_check = not_user_table(krate, user, join_table, "join_table", join_table_span);
    let (permissions, permissions_span) = permissions_table(model);
    let permissions_check = not_user_table(
        krate,
        user,
        permissions,
        "permissions_table",
        permissions_span,
    );
    quote! {
        use #krate::__private::{
            database_error, join_write_error, role_write_error, ForeignKey, RoleModel, RoleStore,
            UserModel,
        };

        #table_check
        #join_check
        #permissions_check

        #role_model
        #schema
        #joins
        #(#stores)*
    }
}

/// A constant that fails to compile, naming the option to change, if the role model's table
/// `name` (its `option`) is the user model's table: only the user model knows its table's name,
/// so the check runs where both meet.
fn not_user_table(
    krate: &Path,
    user: &TokenStream,
    name: &str,
    option: &str,
    span: Span,
) -> TokenStream {
    let what = match option {
        "table" => "role table",
        "join_table" => "join table",
        _ => "permissions table",
    };
    let message = format!(
        "#[role_model]: the {what} `{name}` is also the user model's table; \
         name it differently with #[role_model({option} = \"…\")]"
    );
    let assert_not_user_table = respanned(quote!(#krate::__private::assert_not_user_table), span);
    quote_spanned! {span=>
        const _: () = #assert_not_user_table(
            <#user as UserModel>::TABLE,
            #name,
            #message,
        );
    }
}

fn role_model_impl(model: &Model, join_table: &str) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table;
    let defaults = field_defaults(model);
    quote! {
        #[automatically_derived]
        impl RoleModel for #ident {
            type Id = Id<#ident>;

            const TABLE: &'static str = #table;

            const JOIN_TABLE: &'static str = #join_table;

            fn from_name(id: Id<#ident>, name: ::std::string::String, description: ::core::option::Option<::std::string::String>) -> Self {
                #ident {
                    id,
                    name,
                    description,
                    #(#defaults,)*
                }
            }

            fn id(&self) -> Id<#ident> {
                self.id
            }

            fn name(&self) -> &str {
                &self.name
            }

            fn set_name(&mut self, name: ::std::string::String) {
                self.name = name;
            }

            fn description(&self) -> ::core::option::Option<&str> {
                self.description.as_deref()
            }

            fn set_description(&mut self, description: ::core::option::Option<::std::string::String>) {
                self.description = description;
            }
        }
    }
}

fn schema_impl(
    model: &Model,
    join_table: &str,
    user: &TokenStream,
    columns: &[TokenStream],
) -> TokenStream {
    let ident = &model.item.ident;
    let table = &model.table;
    let dropped = &model.dropped_columns;
    let (permissions_table, _) = permissions_table(model);
    // A permission's name is at most 64 characters, as a role's; in bytes, four per character.
    let max_length = proc_macro2::Literal::u32_unsuffixed(4 * 64);
    quote! {
        #[automatically_derived]
        impl ModelSchema for #ident {
            const TABLES: &'static [Table] = &[
                Table {
                    name: #table,
                    columns: &[#(#columns),*],
                    primary_key: &["id"],
                    foreign_keys: &[],
                    dropped_columns: &[#(#dropped),*],
                },
                Table {
                    name: #join_table,
                    columns: &[
                        Column::new("user_id", ColumnType::Uuid),
                        Column::new("role_id", ColumnType::Uuid).indexed(),
                    ],
                    primary_key: &["user_id", "role_id"],
                    foreign_keys: &[
                        ForeignKey { column: "user_id", references: <#user as UserModel>::TABLE },
                        ForeignKey { column: "role_id", references: #table },
                    ],
                    dropped_columns: &[],
                },
                Table {
                    name: #permissions_table,
                    columns: &[
                        Column::new("role_id", ColumnType::Uuid),
                        Column::new("permission", ColumnType::Text).max_length(#max_length),
                    ],
                    primary_key: &["role_id", "permission"],
                    foreign_keys: &[ForeignKey { column: "role_id", references: #table }],
                    dropped_columns: &[],
                },
            ];

            // After the user models: the join table references the user table.
            const MIGRATION_ORDER: u8 = 2;
        }
    }
}

/// `joinable!` and `allow_tables_to_appear_in_same_query!` need the user table's module path,
/// which the role macro cannot know. The impls whose `Self` is the user table come from
/// `#[user_model]`, for every table that implements `RoleTableOf<User>` or `JoinTableOf<User>`;
/// the role's own impls are generic over the tables that implement `UserTableOf<Role>`. So no
/// impl header names the user table: a user type that is not in scope is one error, at
/// [`role_user_impl`], not a conflict between Diesel's impls for every table involved.
fn user_table_joins(model: &Model, join_table: &str, user: &TokenStream) -> TokenStream {
    let krate = &model.krate;
    let role = &model.item.ident;
    let roles = table_path(model);
    let join = sql_ident(join_table);
    let private = quote!(#krate::__private);
    quote! {
        #[automatically_derived]
        impl #private::RoleTableOf<#user> for #roles::table {}
        #[automatically_derived]
        impl #private::RoleTableOf<#user> for #join::table {}

        #[automatically_derived]
        impl<T: #private::UserTableOf<#role> + diesel::Table> diesel::query_source::TableNotEqual<T> for #roles::table {}
        #[automatically_derived]
        impl<T: #private::UserTableOf<#role> + diesel::Table> diesel::query_source::TableNotEqual<T> for #join::table {}

        type UserJoin = diesel::dsl::Eq<
            diesel::dsl::Nullable<#join::user_id>,
            diesel::dsl::Nullable<<<#user as diesel::associations::HasTable>::Table as diesel::Table>::PrimaryKey>,
        >;

        #[automatically_derived]
        impl #private::JoinTableOf<#user> for #join::table {
            type OnUser = UserJoin;

            fn on_user() -> UserJoin {
                let users = <#user as diesel::associations::HasTable>::table();
                #join::user_id.nullable().eq(diesel::Table::primary_key(&users).nullable())
            }
        }

        #[automatically_derived]
        impl<T: #private::UserTableOf<#role> + diesel::Table> diesel::JoinTo<T> for #join::table {
            type FromClause = T;
            type OnClause = UserJoin;

            fn join_target(users: T) -> (T, UserJoin) {
                (users, <#join::table as #private::JoinTableOf<#user>>::on_user())
            }
        }
    }
}

fn role_store_impl(
    model: &Model,
    join_table: &str,
    user: &TokenStream,
    backend: Backend,
) -> TokenStream {
    let ident = &model.item.ident;
    let connection = backend.connection(Flavor::Sync);
    let methods = role_store_methods(model, join_table, user, backend, Flavor::Sync);
    quote! {
        #[automatically_derived]
        impl RoleStore<#connection> for #ident {
            type User = #user;

            #methods
        }
    }
}

/// What the role store's methods are written with: the names of the generated code.
struct RoleStoreNames<'a> {
    ident: &'a Ident,
    connection: TokenStream,
    asyncness: TokenStream,
    roles: TokenStream,
    join: TokenStream,
    join_struct: Ident,
    user: &'a TokenStream,
    user_id: TokenStream,
}

/// Every role store method, for either flavor: the same statements.
pub fn role_store_methods(
    model: &Model,
    join_table: &str,
    user: &TokenStream,
    backend: Backend,
    flavor: Flavor,
) -> TokenStream {
    let names = RoleStoreNames {
        ident: &model.item.ident,
        connection: backend.connection(flavor),
        asyncness: flavor.asyncness(),
        roles: table_path(model),
        join: sibling_table_path(model, join_table),
        join_struct: join_struct(model),
        user,
        user_id: quote!(<#user as UserModel>::Id),
    };
    let shared = shared_store_methods(model, &names.connection, flavor, "name");
    let writes = role_writes(model, join_table, &names, backend, flavor);
    let checks = role_checks(&names, flavor);
    let lists = role_lists(model, &names, flavor);
    let permissions = role_permissions(model, join_table, &names, backend, flavor);
    quote! {
        #writes

        #shared

        #checks

        #lists

        #permissions
    }
}

/// The role store's writes: `insert`, `update`, `assign` and `revoke`.
fn role_writes(
    model: &Model,
    join_table: &str,
    names: &RoleStoreNames<'_>,
    backend: Backend,
    flavor: Flavor,
) -> TokenStream {
    let RoleStoreNames {
        ident,
        connection,
        asyncness,
        roles,
        join,
        join_struct,
        user_id,
        ..
    } = names;
    let role_value = write_source(model, quote!(role));
    // MySQL has no ON CONFLICT; Diesel spells "do nothing" there as a no-op ON DUPLICATE KEY
    // UPDATE, which unlike INSERT IGNORE still reports a missing user or role.
    let on_conflict = match backend {
        Backend::Mysql => quote!(.on_conflict(diesel::dsl::DuplicatedKeys).do_nothing()),
        Backend::Sqlite | Backend::Postgres => quote!(.on_conflict_do_nothing()),
    };
    let insert = flavor.run(
        quote!(execute),
        quote!(diesel::insert_into(#roles::table).values(#role_value)),
    );
    let update = flavor.run(
        quote!(execute),
        quote!(diesel::update(#roles::table.find(role.id)).set(#role_value)),
    );
    let assign = flavor.run(
        quote!(execute),
        quote! {
            diesel::insert_into(#join::table)
                .values(#join_struct { user_id: user, role_id: role })
                #on_conflict
        },
    );
    let revoke = flavor.run(
        quote!(execute),
        quote!(diesel::delete(#join::table.find((user, role)))),
    );
    let checks = super::decimal_checks(model, "role");
    quote! {
        #asyncness fn insert(conn: &mut #connection, role: &Self) -> ::core::result::Result<Self, UsersError> {
            #checks
            #insert.map_err(role_write_error::<Self>)?;
            ::core::result::Result::Ok(::core::clone::Clone::clone(role))
        }

        #asyncness fn update(conn: &mut #connection, role: &Self) -> ::core::result::Result<Self, UsersError> {
            #checks
            let updated = #update.map_err(role_write_error::<Self>)?;
            if updated == 0 {
                return ::core::result::Result::Err(UsersError::RoleNotFound);
            }
            ::core::result::Result::Ok(::core::clone::Clone::clone(role))
        }

        #asyncness fn assign(conn: &mut #connection, user: #user_id, role: Id<#ident>) -> ::core::result::Result<(), UsersError> {
            #assign
                .map(::core::mem::drop)
                .map_err(|error| join_write_error(error, #join_table))
        }

        #asyncness fn revoke(conn: &mut #connection, user: #user_id, role: Id<#ident>) -> ::core::result::Result<bool, UsersError> {
            #revoke.map(|deleted| deleted > 0).map_err(database_error)
        }
    }
}

/// The permissions of roles: grant, revoke, list, and the check of a user's, one statement
/// each, over the permissions table (emitted beside the roles table, or the `schema = …`
/// module's, as `diesel print-schema` writes it).
fn role_permissions(
    model: &Model,
    join_table: &str,
    names: &RoleStoreNames<'_>,
    backend: Backend,
    flavor: Flavor,
) -> TokenStream {
    let RoleStoreNames {
        ident,
        connection,
        asyncness,
        user_id,
        ..
    } = names;
    let permissions = permissions_table(model).0;
    let table = sibling_table_path(model, permissions);
    let join = sibling_table_path(model, join_table);
    // MySQL's no-op ON DUPLICATE KEY UPDATE, unlike INSERT IGNORE, still reports a missing role.
    let on_conflict = match backend {
        Backend::Mysql => quote!(.on_conflict(diesel::dsl::DuplicatedKeys).do_nothing()),
        Backend::Sqlite | Backend::Postgres => quote!(.on_conflict_do_nothing()),
    };
    let grant = flavor.run(
        quote!(execute),
        quote! {
            diesel::insert_into(#table::table)
                .values((#table::role_id.eq(role), #table::permission.eq(permission)))
                #on_conflict
        },
    );
    let revoke = flavor.run(
        quote!(execute),
        quote!(diesel::delete(#table::table.find((role, permission)))),
    );
    let list = flavor.run(
        quote!(load),
        quote! {
            #table::table
                .filter(#table::role_id.eq(role))
                .order(#table::permission)
                .select(#table::permission)
        },
    );
    // A statement the connection keeps prepared: `exists` over the user's join rows and the
    // permission's key.
    let check = flavor.run(
        quote!(get_result),
        quote! {
            diesel::select(diesel::dsl::exists(
                #join::table
                    .inner_join(#table::table.on(#table::role_id.eq(#join::role_id)))
                    .filter(#join::user_id.eq(user))
                    .filter(#table::permission.eq(permission)),
            ))
        },
    );
    quote! {
        #asyncness fn grant_permission(conn: &mut #connection, role: Id<#ident>, permission: &str) -> ::core::result::Result<(), UsersError> {
            #grant
                .map(::core::mem::drop)
                .map_err(|error| join_write_error(error, #permissions))
        }

        #asyncness fn revoke_permission(conn: &mut #connection, role: Id<#ident>, permission: &str) -> ::core::result::Result<bool, UsersError> {
            #revoke.map(|deleted| deleted > 0).map_err(database_error)
        }

        #asyncness fn permissions_of(conn: &mut #connection, role: Id<#ident>) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, UsersError> {
            #list.map_err(database_error)
        }

        #asyncness fn has_permission(conn: &mut #connection, user: #user_id, permission: &str) -> ::core::result::Result<bool, UsersError> {
            #check.map_err(database_error)
        }
    }
}

/// `has_any_role` and `count_roles_named`: the role checks, one statement each.
fn role_checks(names: &RoleStoreNames<'_>, flavor: Flavor) -> TokenStream {
    let RoleStoreNames {
        connection,
        asyncness,
        roles,
        join,
        user_id,
        ..
    } = names;
    let roles_named = quote! {
        #join::table
            .inner_join(#roles::table)
            .filter(#join::user_id.eq(user))
            .filter(#roles::name.eq_any(::core::iter::Iterator::copied(names.iter())))
    };
    let has_any_role = flavor.run(
        quote!(get_result),
        quote!(diesel::select(diesel::dsl::exists(#roles_named))),
    );
    let has_one_role = flavor.run(
        quote!(get_result),
        quote! {
            diesel::select(diesel::dsl::exists(
                #join::table
                    .inner_join(#roles::table)
                    .filter(#join::user_id.eq(user))
                    .filter(#roles::name.eq(*name)),
            ))
        },
    );
    let count_roles_named = flavor.run(quote!(get_result::<i64>), quote!(#roles_named.count()));
    quote! {
        #asyncness fn has_any_role(conn: &mut #connection, user: #user_id, names: &[&str]) -> ::core::result::Result<bool, UsersError> {
            // One name (`has_role`) is compared with `=`, a statement the connection keeps
            // prepared; SQLite and MySQL prepare an `IN (…)` list anew on every call.
            let found = if let [name] = names {
                #has_one_role
            } else {
                #has_any_role
            };
            found.map_err(database_error)
        }

        #asyncness fn count_roles_named(conn: &mut #connection, user: #user_id, names: &[&str]) -> ::core::result::Result<usize, UsersError> {
            #count_roles_named
                .map(|count| <usize as ::core::convert::TryFrom<i64>>::try_from(count).unwrap_or(0))
                .map_err(database_error)
        }
    }
}

/// `roles_of`, `roles_of_users`, `users_with_role` and `all`: the role lists, one statement each.
fn role_lists(model: &Model, names: &RoleStoreNames<'_>, flavor: Flavor) -> TokenStream {
    let krate = &model.krate;
    let RoleStoreNames {
        ident,
        connection,
        asyncness,
        roles,
        join,
        join_struct,
        user,
        user_id,
        ..
    } = names;
    let roles_of = flavor.run(
        quote!(load),
        quote! {
            #join::table
                .inner_join(#roles::table)
                .filter(#join::user_id.eq(user))
                .select(#ident::as_select())
                .order(#roles::name)
        },
    );
    let user_with_roles = flavor.run(
        quote!(load),
        quote! {
            users
                .left_join(#join::table)
                .left_join(#roles::table.on(#roles::id.eq(#join::role_id)))
                .filter(diesel::Table::primary_key(&users).eq(user))
                .select((#user::as_select(), ::core::option::Option::<#ident>::as_select()))
                .order(#roles::name)
        },
    );
    let roles_of_users = flavor.run(
        quote!(load),
        quote! {
            #join_struct::belonging_to(users)
                .inner_join(#roles::table)
                .select((#join_struct::as_select(), #ident::as_select()))
                .order(#roles::name)
        },
    );
    let users_with_role = flavor.run(
        quote!(load),
        quote! {
            #join::table
                .inner_join(<#user as diesel::associations::HasTable>::table())
                .inner_join(#roles::table)
                .filter(#roles::name.eq(name))
                .select(#user::as_select())
                .order(#join::user_id)
        },
    );
    let all = flavor.run(
        quote!(load),
        quote!(#roles::table.select(#ident::as_select()).order(#roles::name)),
    );
    quote! {
        #asyncness fn roles_of(conn: &mut #connection, user: #user_id) -> ::core::result::Result<::std::vec::Vec<Self>, UsersError> {
            #roles_of.map_err(database_error)
        }

        #asyncness fn user_with_roles(conn: &mut #connection, user: #user_id) -> ::core::result::Result<::core::option::Option<(#user, ::std::vec::Vec<Self>)>, UsersError> {
            let users = <#user as diesel::associations::HasTable>::table();
            let rows: ::std::vec::Vec<(#user, ::core::option::Option<Self>)> =
                #user_with_roles.map_err(database_error)?;
            let mut rows = ::core::iter::IntoIterator::into_iter(rows);
            let ::core::option::Option::Some((found, first)) = ::core::iter::Iterator::next(&mut rows) else {
                return ::core::result::Result::Ok(::core::option::Option::None);
            };
            let rest = ::core::iter::Iterator::filter_map(rows, |(_, role)| role);
            let roles = ::core::iter::Iterator::collect(::core::iter::Iterator::chain(
                ::core::iter::IntoIterator::into_iter(first),
                rest,
            ));
            ::core::result::Result::Ok(::core::option::Option::Some((found, roles)))
        }

        #asyncness fn roles_of_users(conn: &mut #connection, users: &[#user]) -> ::core::result::Result<::std::vec::Vec<::std::vec::Vec<Self>>, UsersError> {
            let mut roles_of_users = ::std::vec::Vec::with_capacity(users.len());
            // A statement binds at most so many ids (SQLite refuses more than 32,766 values).
            for users in users.chunks(#krate::__private::MAX_BOUND_IDS) {
                let assignments: ::std::vec::Vec<(#join_struct, Self)> =
                    #roles_of_users.map_err(database_error)?;
                for assigned in assignments.grouped_by(users) {
                    let mut roles = ::std::vec::Vec::with_capacity(assigned.len());
                    for (_, role) in assigned {
                        roles.push(role);
                    }
                    roles_of_users.push(roles);
                }
            }
            ::core::result::Result::Ok(roles_of_users)
        }

        #asyncness fn users_with_role(conn: &mut #connection, name: &str) -> ::core::result::Result<::std::vec::Vec<#user>, UsersError> {
            #users_with_role.map_err(database_error)
        }

        #asyncness fn all(conn: &mut #connection) -> ::core::result::Result<::std::vec::Vec<Self>, UsersError> {
            #all.map_err(database_error)
        }
    }
}
