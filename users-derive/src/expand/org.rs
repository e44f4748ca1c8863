//! What only `#[org_model]` emits: the organization's injected fields, the members and
//! invitations tables with their joins, `OrgModel` and the stores.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;

use super::{
    field_defaults, shared_store_methods, sql_ident, table_path, write_source, Backend, Flavor,
    Injected, InjectedFields,
};
use crate::ast::{Kind, Model};

/// `id`, `name` and `slug` first, the timestamps last.
pub fn injected_fields(model: &Model) -> InjectedFields {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let timestamp = |name: &'static str, doc: &'static str, attrs: TokenStream| Injected {
        name,
        doc,
        ty: quote!(#krate::__private::chrono::NaiveDateTime),
        sql: quote!(Timestamp),
        column: quote!(Column::new(#name, ColumnType::Timestamp).backfill_now()),
        attrs,
    };
    InjectedFields {
        head: vec![
            Injected {
                name: "id",
                doc: " The organization's id: a UUIDv7.",
                ty: quote!(#krate::Id<#ident>),
                sql: quote!(Uuid),
                column: quote!(Column::new("id", ColumnType::Uuid)),
                attrs: quote!(),
            },
            Injected {
                name: "name",
                doc: " The organization's display name.",
                ty: quote!(::std::string::String),
                sql: quote!(Text),
                // At most 100 characters; in bytes, four per character.
                column: quote!(Column::new("name", ColumnType::Text).max_length(400)),
                attrs: quote!(),
            },
            Injected {
                name: "slug",
                doc: " The organization's unique slug, e.g. `acme-corp`.",
                ty: quote!(::std::string::String),
                sql: quote!(Text),
                column: quote!(Column::new("slug", ColumnType::Text)
                    .unique()
                    .max_length(256)),
                attrs: quote!(),
            },
        ],
        tail: vec![
            timestamp(
                "created_at",
                " When the organization was created (UTC); set by the store.",
                quote!(#[diesel(skip_update)]),
            ),
            timestamp(
                "updated_at",
                " When the organization was last written (UTC); set by the store.",
                quote!(),
            ),
        ],
    }
}

/// The names of the members and invitations tables.
pub fn tables<'m>(model: &'m Model) -> (&'m str, &'m str) {
    match &model.kind {
        Kind::Org {
            members_table,
            invitations_table,
            ..
        } => (members_table, invitations_table),
        _ => ("", ""),
    }
}

/// The members and invitations `table!`s and their joins with the organizations table.
pub fn table_items(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let orgs = table_path(model);
    let (members, invitations) = tables(model);
    let (members, invitations) = (sql_ident(members), sql_ident(invitations));
    let org = &model.item.ident;
    let members_doc = format!(" The members of [`{org}`], written by `#[org_model]`.");
    let invitations_doc = format!(" The invitations to [`{org}`], written by `#[org_model]`.");
    quote! {
        diesel::table! {
            use diesel::sql_types::*;
            use #krate::sql_types::{Timestamptz, Uuid};

            #[doc = #members_doc]
            #members (user_id, org_id) {
                /// The member.
                user_id -> Uuid,
                /// The organization.
                org_id -> Uuid,
                /// The member's organization role.
                role -> Text,
                /// When they joined.
                joined_at -> Timestamptz,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use #krate::sql_types::{Timestamptz, Uuid};

            #[doc = #invitations_doc]
            #invitations (id) {
                /// The invitation's id.
                id -> Uuid,
                /// The organization.
                org_id -> Uuid,
                /// The invited address, normalised.
                email -> Text,
                /// The role the invitee gets.
                role -> Text,
                /// Who invited.
                invited_by -> Uuid,
                /// SHA-256 of the mailed token, base64url.
                token_digest -> Text,
                /// When it was made.
                created_at -> Timestamptz,
                /// After this it cannot be accepted.
                expires_at -> Timestamptz,
                /// When it was accepted.
                accepted_at -> Nullable<Timestamptz>,
            }
        }

        diesel::joinable!(#members -> #orgs (org_id));
        diesel::joinable!(#invitations -> #orgs (org_id));
        diesel::allow_tables_to_appear_in_same_query!(#orgs, #members, #invitations);
    }
}

/// `OrgModel`, `ModelSchema`, the joins of the members table with the user table, and an
/// `OrgStore` per backend.
pub fn impls(
    model: &Model,
    user: &TokenStream,
    columns: &[TokenStream],
    backends: &[Backend],
) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.item.ident;
    let table = &model.table;
    let (members, invitations) = tables(model);
    let members_ident = sql_ident(members);
    let defaults = field_defaults(model);
    let dropped = &model.dropped_columns;
    let private = quote!(#krate::__private);
    let stores = backends.iter().map(|backend| {
        let connection = backend.connection(Flavor::Sync);
        let methods = org_store_methods(model, user, *backend, Flavor::Sync);
        quote! {
            #[automatically_derived]
            impl OrgStore<#connection> for #ident {
                type User = #user;

                #methods
            }
        }
    });
    let role_length = Literal::u32_unsuffixed(4 * 64);
    quote! {
        use #private::{database_error, join_write_error, org_write_error, ForeignKey, OrgModel, OrgStore, UserModel};

        #[automatically_derived]
        impl OrgModel for #ident {
            type Id = Id<#ident>;

            const TABLE: &'static str = #table;
            const MEMBERS_TABLE: &'static str = #members;
            const INVITATIONS_TABLE: &'static str = #invitations;

            fn from_name(id: Id<#ident>, name: ::std::string::String, slug: ::std::string::String) -> Self {
                let now = #private::now();
                #ident {
                    id,
                    name,
                    slug,
                    created_at: now,
                    updated_at: now,
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

            fn slug(&self) -> &str {
                &self.slug
            }

            fn set_slug(&mut self, slug: ::std::string::String) {
                self.slug = slug;
            }
        }

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
                    name: #members,
                    columns: &[
                        Column::new("user_id", ColumnType::Uuid),
                        Column::new("org_id", ColumnType::Uuid).indexed(),
                        Column::new("role", ColumnType::Text).max_length(#role_length),
                        Column::new("joined_at", ColumnType::Timestamptz),
                    ],
                    primary_key: &["user_id", "org_id"],
                    foreign_keys: &[
                        ForeignKey { column: "user_id", references: <#user as UserModel>::TABLE },
                        ForeignKey { column: "org_id", references: #table },
                    ],
                    dropped_columns: &[],
                },
                Table {
                    name: #invitations,
                    columns: &[
                        Column::new("id", ColumnType::Uuid),
                        Column::new("org_id", ColumnType::Uuid).indexed(),
                        Column::new("email", ColumnType::Text).max_length(254).indexed(),
                        Column::new("role", ColumnType::Text).max_length(#role_length),
                        Column::new("invited_by", ColumnType::Uuid).indexed(),
                        Column::new("token_digest", ColumnType::Text).max_length(43).unique(),
                        Column::new("created_at", ColumnType::Timestamptz),
                        Column::new("expires_at", ColumnType::Timestamptz),
                        Column::new("accepted_at", ColumnType::Timestamptz).nullable(),
                    ],
                    primary_key: &["id"],
                    foreign_keys: &[
                        ForeignKey { column: "org_id", references: #table },
                        ForeignKey { column: "invited_by", references: <#user as UserModel>::TABLE },
                    ],
                    dropped_columns: &[],
                },
            ];

            // After the user models: the members and invitations reference the user table.
            const MIGRATION_ORDER: u8 = 2;
        }

        // The members table joins the user table, as a role model's join table does (see
        // `role::user_table_joins`): `#[user_model]` writes the impls whose `Self` is the user
        // table.
        #[automatically_derived]
        impl #private::RoleTableOf<#user> for #members_ident::table {}

        #[automatically_derived]
        impl<T: #private::UserTableOf<#ident> + diesel::Table> diesel::query_source::TableNotEqual<T> for #members_ident::table {}

        #[automatically_derived]
        impl #private::JoinTableOf<#user> for #members_ident::table {
            type OnUser = diesel::dsl::Eq<
                diesel::dsl::Nullable<#members_ident::user_id>,
                diesel::dsl::Nullable<<<#user as diesel::associations::HasTable>::Table as diesel::Table>::PrimaryKey>,
            >;

            fn on_user() -> Self::OnUser {
                let users = <#user as diesel::associations::HasTable>::table();
                #members_ident::user_id.nullable().eq(diesel::Table::primary_key(&users).nullable())
            }
        }

        #(#stores)*
    }
}

/// Every organization store method, for either flavor: the same statements.
pub fn org_store_methods(
    model: &Model,
    user: &TokenStream,
    backend: Backend,
    flavor: Flavor,
) -> TokenStream {
    let krate = &model.krate;
    let private = quote!(#krate::__private);
    let ident = &model.item.ident;
    let connection = backend.connection(flavor);
    let asyncness = flavor.asyncness();
    let orgs = table_path(model);
    let (members_name, invitations_name) = tables(model);
    let members = sql_ident(members_name);
    let invitations = sql_ident(invitations_name);
    let user_id = quote!(<#user as UserModel>::Id);
    let org_value = write_source(model, quote!(org));
    let lock = match backend {
        Backend::Sqlite => quote!(),
        Backend::Postgres | Backend::Mysql => quote!(.for_update()),
    };
    let shared = shared_store_methods(model, &connection, flavor, "slug");
    let member_columns =
        quote!((#members::org_id, #members::user_id, #members::role, #members::joined_at));
    let invitation_columns = quote! {(
        #invitations::id, #invitations::org_id, #invitations::email, #invitations::role,
        #invitations::invited_by, #invitations::token_digest, #invitations::created_at,
        #invitations::expires_at, #invitations::accepted_at,
    )};
    let run = |method: &str, query: TokenStream| {
        let method = proc_macro2::Ident::new(method, Span::call_site());
        flavor.run(quote!(#method), query)
    };
    let insert = run(
        "execute",
        quote!(diesel::insert_into(#orgs::table).values(#org_value)),
    );
    let read_back = run(
        "get_result",
        quote!(#orgs::table.find(org.id).select(#ident::as_select())),
    );
    let find_for_update = run(
        "get_result",
        quote!(#orgs::table.find(id).select(#ident::as_select())#lock),
    );
    let update = run(
        "execute",
        quote!(diesel::update(#orgs::table.find(org.id)).set(#org_value)),
    );
    let membership = run(
        "get_result",
        quote!(#members::table.find((user, org)).select(#member_columns)),
    );
    let org_of_member = run(
        "get_result",
        quote! {
            #members::table
                .inner_join(#orgs::table)
                .filter(#members::user_id.eq(user))
                .filter(#members::org_id.eq(org))
                .select((#ident::as_select(), #member_columns))
        },
    );
    let orgs_of = run(
        "load",
        quote! {
            #members::table
                .inner_join(#orgs::table)
                .filter(#members::user_id.eq(user))
                .order((#orgs::name, #orgs::id))
                .select((#ident::as_select(), #member_columns))
        },
    );
    let members_of = run(
        "load",
        quote! {
            <#user as diesel::associations::HasTable>::table()
                .inner_join(#members::table)
                .filter(#members::org_id.eq(org))
                .order((#members::joined_at, #members::user_id))
                .select((<#user as diesel::SelectableHelper<_>>::as_select(), #member_columns))
        },
    );
    let add_member = run(
        "execute",
        quote! {
            diesel::insert_into(#members::table).values((
                #members::user_id.eq(<#user_id as ::core::convert::From<#private::Uuid>>::from(membership.user_id)),
                #members::org_id.eq(Id::<#ident>::from_uuid(membership.org_id)),
                #members::role.eq(&membership.role),
                #members::joined_at.eq(#private::at(membership.joined_at)),
            ))
        },
    );
    let set_member_role = run(
        "execute",
        quote!(diesel::update(#members::table.find((user, org))).set(#members::role.eq(role))),
    );
    let remove_member = run(
        "execute",
        quote!(diesel::delete(#members::table.find((user, org)))),
    );
    let count_role = run(
        "get_result",
        quote! {
            #members::table
                .filter(#members::org_id.eq(org))
                .filter(#members::role.eq(role))
                .count()
        },
    );
    let insert_invitation = run(
        "execute",
        quote! {
            diesel::insert_into(#invitations::table).values((
                #invitations::id.eq(Id::<#private::OrgInvitation>::from_uuid(invitation.id)),
                #invitations::org_id.eq(Id::<#ident>::from_uuid(invitation.org_id)),
                #invitations::email.eq(&invitation.email),
                #invitations::role.eq(&invitation.role),
                #invitations::invited_by.eq(invited_by),
                #invitations::token_digest.eq(&invitation.token_digest),
                #invitations::created_at.eq(#private::at(invitation.created_at)),
                #invitations::expires_at.eq(#private::at(invitation.expires_at)),
                #invitations::accepted_at.eq(invitation.accepted_at.map(#private::at)),
            ))
        },
    );
    let invitation = run(
        "get_result",
        quote! {
            #invitations::table
                .find(Id::<#private::OrgInvitation>::from_uuid(id))
                .filter(#invitations::org_id.eq(org))
                .select(#invitation_columns)
        },
    );
    let invitation_by_digest = run(
        "get_result",
        quote! {
            #invitations::table
                .filter(#invitations::token_digest.eq(digest))
                .select(#invitation_columns)
        },
    );
    let pending = quote! {
        #invitations::table
            .filter(#invitations::org_id.eq(org))
            .filter(#invitations::accepted_at.is_null())
            .filter(#invitations::expires_at.gt(#private::at(now)))
    };
    let pending_invitations = run(
        "load",
        quote!(#pending.order(#invitations::id).select(#invitation_columns)),
    );
    let count_pending = run("load", quote!(#pending.select(#invitations::invited_by)));
    let accept_invitation = run(
        "execute",
        quote! {
            diesel::update(
                #invitations::table
                    .find(Id::<#private::OrgInvitation>::from_uuid(id))
                    .filter(#invitations::accepted_at.is_null()),
            )
            .set(#invitations::accepted_at.eq(::core::option::Option::Some(#private::at(at))))
        },
    );
    let delete_invitation = run(
        "execute",
        quote!(diesel::delete(#invitations::table.find(Id::<#private::OrgInvitation>::from_uuid(id)))),
    );
    let checks = super::decimal_checks(model, "org");
    quote! {
        #asyncness fn insert(conn: &mut #connection, org: &Self) -> ::core::result::Result<Self, UsersError> {
            #checks
            let now = #private::now();
            let org = &#ident { created_at: now, updated_at: now, ..::core::clone::Clone::clone(org) };
            #insert.map_err(org_write_error::<Self>)?;
            ::core::result::Result::Ok(::core::clone::Clone::clone(org))
        }

        #shared

        #asyncness fn find_for_update(conn: &mut #connection, id: Id<#ident>) -> ::core::result::Result<::core::option::Option<Self>, UsersError> {
            #find_for_update.optional().map_err(database_error)
        }

        #asyncness fn update(conn: &mut #connection, org: &Self) -> ::core::result::Result<Self, UsersError> {
            #checks
            let org = &#ident { updated_at: #private::now(), ..::core::clone::Clone::clone(org) };
            let updated = #update.map_err(org_write_error::<Self>)?;
            if updated == 0 {
                return ::core::result::Result::Err(UsersError::OrgNotFound);
            }
            #read_back.map_err(database_error)
        }

        #asyncness fn membership(conn: &mut #connection, org: Id<#ident>, user: #user_id) -> ::core::result::Result<::core::option::Option<#private::OrgMembership>, UsersError> {
            let row: ::core::option::Option<#private::MemberRow<#ident, #user>> =
                #membership.optional().map_err(database_error)?;
            ::core::result::Result::Ok(row.map(#private::membership))
        }

        #asyncness fn org_of_member(conn: &mut #connection, org: Id<#ident>, user: #user_id) -> ::core::result::Result<::core::option::Option<#private::OrgView<Self>>, UsersError> {
            let row: ::core::option::Option<(Self, #private::MemberRow<#ident, #user>)> =
                #org_of_member.optional().map_err(database_error)?;
            ::core::result::Result::Ok(row.map(|(org, member)| {
                let member = #private::membership(member);
                #private::OrgView { org, role: member.role, joined_at: member.joined_at }
            }))
        }

        #asyncness fn orgs_of(conn: &mut #connection, user: #user_id) -> ::core::result::Result<::std::vec::Vec<#private::OrgView<Self>>, UsersError> {
            let rows: ::std::vec::Vec<(Self, #private::MemberRow<#ident, #user>)> =
                #orgs_of.map_err(database_error)?;
            ::core::result::Result::Ok(::core::iter::Iterator::collect(::core::iter::Iterator::map(
                ::core::iter::IntoIterator::into_iter(rows),
                |(org, member)| {
                    let member = #private::membership(member);
                    #private::OrgView { org, role: member.role, joined_at: member.joined_at }
                },
            )))
        }

        #asyncness fn members(conn: &mut #connection, org: Id<#ident>) -> ::core::result::Result<::std::vec::Vec<#private::OrgMemberOf<#user>>, UsersError> {
            let rows: ::std::vec::Vec<(#user, #private::MemberRow<#ident, #user>)> =
                #members_of.map_err(database_error)?;
            ::core::result::Result::Ok(::core::iter::Iterator::collect(::core::iter::Iterator::map(
                ::core::iter::IntoIterator::into_iter(rows),
                |(user, member)| #private::OrgMemberOf { user, membership: #private::membership(member) },
            )))
        }

        #asyncness fn add_member(conn: &mut #connection, membership: &#private::OrgMembership) -> ::core::result::Result<bool, UsersError> {
            match #add_member {
                ::core::result::Result::Ok(_) => ::core::result::Result::Ok(true),
                ::core::result::Result::Err(error) if #private::is_duplicate(&error) => ::core::result::Result::Ok(false),
                ::core::result::Result::Err(error) => ::core::result::Result::Err(join_write_error(error, #members_name)),
            }
        }

        #asyncness fn set_member_role(conn: &mut #connection, org: Id<#ident>, user: #user_id, role: &str) -> ::core::result::Result<bool, UsersError> {
            #set_member_role.map(|changed| changed > 0).map_err(database_error)
        }

        #asyncness fn remove_member(conn: &mut #connection, org: Id<#ident>, user: #user_id) -> ::core::result::Result<bool, UsersError> {
            #remove_member.map(|deleted| deleted > 0).map_err(database_error)
        }

        #asyncness fn count_role(conn: &mut #connection, org: Id<#ident>, role: &str) -> ::core::result::Result<usize, UsersError> {
            let count: i64 = #count_role.map_err(database_error)?;
            ::core::result::Result::Ok(count as usize)
        }

        #asyncness fn insert_invitation(conn: &mut #connection, invitation: &#private::OrgInvitation) -> ::core::result::Result<(), UsersError> {
            let invited_by = invitation
                .invited_by
                .map(<#user_id as ::core::convert::From<#private::Uuid>>::from)
                .ok_or(UsersError::UserNotFound)?;
            #insert_invitation
                .map(::core::mem::drop)
                .map_err(|error| join_write_error(error, #invitations_name))
        }

        #asyncness fn invitation(conn: &mut #connection, org: Id<#ident>, id: #private::Uuid) -> ::core::result::Result<::core::option::Option<#private::OrgInvitation>, UsersError> {
            let row: ::core::option::Option<#private::InvitationRow<#ident, #user>> =
                #invitation.optional().map_err(database_error)?;
            ::core::result::Result::Ok(row.map(#private::invitation))
        }

        #asyncness fn invitation_by_digest(conn: &mut #connection, digest: &str) -> ::core::result::Result<::core::option::Option<#private::OrgInvitation>, UsersError> {
            let row: ::core::option::Option<#private::InvitationRow<#ident, #user>> =
                #invitation_by_digest.optional().map_err(database_error)?;
            ::core::result::Result::Ok(row.map(#private::invitation))
        }

        #asyncness fn pending_invitations(conn: &mut #connection, org: Id<#ident>, now: ::std::time::SystemTime) -> ::core::result::Result<::std::vec::Vec<#private::OrgInvitation>, UsersError> {
            let rows: ::std::vec::Vec<#private::InvitationRow<#ident, #user>> =
                #pending_invitations.map_err(database_error)?;
            ::core::result::Result::Ok(::core::iter::Iterator::collect(::core::iter::Iterator::map(
                ::core::iter::IntoIterator::into_iter(rows),
                #private::invitation,
            )))
        }

        #asyncness fn count_pending_invitations(conn: &mut #connection, org: Id<#ident>, inviter: #user_id, now: ::std::time::SystemTime) -> ::core::result::Result<(usize, usize), UsersError> {
            let inviters: ::std::vec::Vec<#user_id> = #count_pending.map_err(database_error)?;
            let mine = ::core::iter::Iterator::count(::core::iter::Iterator::filter(
                <[#user_id]>::iter(&inviters),
                |by| **by == inviter,
            ));
            ::core::result::Result::Ok((inviters.len(), mine))
        }

        #asyncness fn accept_invitation(conn: &mut #connection, id: #private::Uuid, at: ::std::time::SystemTime) -> ::core::result::Result<bool, UsersError> {
            #accept_invitation.map(|changed| changed == 1).map_err(database_error)
        }

        #asyncness fn delete_invitation(conn: &mut #connection, id: #private::Uuid) -> ::core::result::Result<bool, UsersError> {
            #delete_invitation.map(|deleted| deleted > 0).map_err(database_error)
        }
    }
}
