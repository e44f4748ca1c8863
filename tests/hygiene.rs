//! Generated code names everything by an absolute path, so the names of the module around a
//! model cannot change its meaning: a `Result` alias (as common as `use anyhow::Result;`), a
//! local `String` type, or no prelude at all. Each case is held to the lints of `lint_clean.rs`,
//! `unused_imports` among them.
#![deny(
    warnings,
    missing_docs,
    unused_qualifications,
    unused_imports,
    clippy::pedantic
)]

/// A module whose `Result` takes one type parameter.
pub mod result_alias {
    use users_diesel::prelude::*;

    /// The module's own `Result`.
    pub type Result<T> = std::result::Result<T, String>;

    /// A user model beside the alias, with timestamps.
    #[user_model(table = "alias_users", timestamps)]
    pub struct User {
        /// A nickname.
        #[column(default = "anonymous")]
        pub nickname: Option<String>,
    }

    /// A role model beside the alias.
    #[role_model(
        table = "alias_roles",
        join_table = "alias_user_roles",
        permissions_table = "alias_role_permissions",
        user = User
    )]
    pub struct Role {}

    /// An organization model beside the alias.
    #[org_model(
        table = "alias_orgs",
        members_table = "alias_org_members",
        invitations_table = "alias_org_invitations",
        user = User
    )]
    pub struct Org {
        /// A plan.
        #[column(default = "free")]
        pub plan: Option<String>,
    }

    /// Uses the alias, as the module's own code would.
    ///
    /// # Errors
    ///
    /// Never.
    pub fn table_name() -> Result<&'static str> {
        Ok(<User as UserModel>::TABLE)
    }
}

/// A module with a `String` of its own.
pub mod local_string {
    use users_diesel::prelude::*;

    /// Not the standard library's string.
    #[derive(Debug, Default)]
    pub struct String;

    /// A user model beside the local `String`.
    #[user_model(table = "string_users")]
    pub struct User {
        /// A nickname.
        pub nickname: Option<std::string::String>,
        /// A count.
        #[column(default = 1)]
        pub visits: i32,
    }

    /// A role model beside the local `String`.
    #[role_model(
        table = "string_roles",
        join_table = "string_user_roles",
        permissions_table = "string_role_permissions",
        user = User
    )]
    pub struct Role {
        /// A label.
        #[column(default = "none")]
        pub label: std::string::String,
    }

    /// An organization model beside the local `String`.
    #[org_model(
        table = "string_orgs",
        members_table = "string_org_members",
        invitations_table = "string_org_invitations",
        user = User
    )]
    pub struct Org {
        /// A label.
        #[column(default = "none")]
        pub label: std::string::String,
    }
}

/// The tables of [`no_prelude`], as `diesel print-schema` writes them: Diesel's `table!` needs
/// the prelude in the module it writes, so they live outside.
#[allow(missing_docs)]
pub mod bare_schema {
    diesel::table! {
        bare_users (id) {
            id -> Binary,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
            created_at -> Timestamp,
            updated_at -> Timestamp,
            nickname -> Nullable<Text>,
        }
    }

    diesel::table! {
        bare_roles (id) {
            id -> Binary,
            name -> Text,
            description -> Nullable<Text>,
            rank -> Integer,
        }
    }

    diesel::table! {
        bare_user_roles (user_id, role_id) {
            user_id -> Binary,
            role_id -> Binary,
        }
    }

    diesel::table! {
        role_permissions (role_id, permission) {
            role_id -> Binary,
            permission -> Text,
        }
    }

    diesel::joinable!(bare_user_roles -> bare_users (user_id));
    diesel::joinable!(bare_user_roles -> bare_roles (role_id));
    diesel::joinable!(role_permissions -> bare_roles (role_id));
    diesel::allow_tables_to_appear_in_same_query!(
        bare_users,
        bare_roles,
        bare_user_roles,
        role_permissions
    );
}

/// A module without the standard prelude: every name the expansion uses is absolute.
pub mod no_prelude {
    #![no_implicit_prelude]

    // Diesel's own derives name `diesel` and `std` as the module sees them.
    use ::diesel;
    use ::std;
    use ::users_diesel::prelude::*;

    /// A user model without a prelude.
    #[user_model(schema = super::bare_schema::bare_users, timestamps)]
    pub struct User {
        /// A nickname.
        pub nickname: ::std::option::Option<::std::string::String>,
    }

    /// A role model without a prelude.
    #[role_model(schema = super::bare_schema::bare_roles, join_table = "bare_user_roles", user = User)]
    pub struct Role {
        /// A rank.
        #[column(default = 0)]
        pub rank: i32,
    }
}

#[test]
fn the_models_work_beside_the_names_they_could_have_caught() {
    use users_diesel::prelude::*;

    assert_eq!(result_alias::table_name(), Ok("alias_users"));
    let alias = result_alias::User::from_credentials(Id::new(), "a@example.com".into(), "h".into());
    assert_eq!(alias.nickname.as_deref(), Some("anonymous"));

    let local = local_string::User::from_credentials(Id::new(), "b@example.com".into(), "h".into());
    assert_eq!(local.visits, 1);
    let role = local_string::Role::from_name(Id::new(), "staff".into(), None);
    assert_eq!(role.label, "none");
    let _: local_string::String = local_string::String;
    let org = local_string::Org::from_name(Id::new(), "Acme".into(), "acme".into());
    assert_eq!(org.label, "none");
    let org = result_alias::Org::from_name(Id::new(), "Acme".into(), "acme".into());
    assert_eq!(org.plan.as_deref(), Some("free"));

    let bare = no_prelude::User::from_credentials(Id::new(), "c@example.com".into(), "h".into());
    assert_eq!(bare.nickname, None);
    assert_eq!(<no_prelude::Role as RoleModel>::TABLE, "bare_roles");
}
