//! Generated code is lint-clean in a downstream crate that denies warnings, unqualified paths
//! and missing docs, and (under `cargo clippy`) clippy's pedantic group. Every macro option and
//! `#[column]` key is used here. With the `async` feature (as in `--all-features`), the async
//! stores of every enabled backend are generated and held to the same lints.
#![deny(warnings, missing_docs, unused_qualifications, clippy::pedantic)]

use users_diesel::prelude::*;

/// The framework, reached through a re-export.
mod framework {
    pub use users_diesel as reexported;
}

/// A user model with every option.
#[user_model(table = "accounts", timestamps, crate = crate::framework::reexported)]
pub struct Account {
    /// A handle.
    #[column(unique, max_length = 32, name = "handle")]
    pub username: String,
    /// A team.
    #[column(index)]
    pub team: Option<i64>,
    /// A plan.
    #[column(default = "free")]
    pub plan: String,
    /// Raw settings.
    #[column(sql_type = diesel::sql_types::Binary)]
    pub settings: Vec<u8>,
}

/// A role model with every option.
#[role_model(table = "groups", join_table = "memberships", user = Account)]
pub struct Group {
    /// A rank.
    #[column(default = 0)]
    pub rank: i32,
}

/// An organization model with every option.
#[org_model(
    table = "companies",
    members_table = "company_people",
    invitations_table = "company_invitations",
    user = Account,
    crate = crate::framework::reexported,
    dropped_columns = ["legacy_plan"]
)]
pub struct Company {
    /// Seats.
    #[column(default = 5)]
    pub seats: i32,
}

/// A printed schema, as `diesel print-schema` writes it.
#[allow(missing_docs)]
mod schema {
    diesel::table! {
        members (id) {
            id -> Binary,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
            nickname -> Nullable<Text>,
        }
    }

    diesel::table! {
        teams (id) {
            id -> Binary,
            name -> Text,
            description -> Nullable<Text>,
        }
    }

    diesel::table! {
        team_members (user_id, role_id) {
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

    diesel::joinable!(team_members -> members (user_id));
    diesel::joinable!(team_members -> teams (role_id));
    diesel::joinable!(role_permissions -> teams (role_id));
    diesel::allow_tables_to_appear_in_same_query!(members, teams, team_members, role_permissions);
}

/// A user model bound to a printed schema.
#[user_model(schema = schema::members)]
pub struct Member {
    /// A nickname.
    pub nickname: Option<String>,
}

/// A role model bound to a printed schema.
#[role_model(schema = schema::teams, join_table = "team_members", user = Member)]
pub struct Team {}

#[test]
fn models_are_usable() {
    let account = Account::from_credentials(Id::new(), "a@example.com".into(), "hash".into());
    assert_eq!(account.plan, "free");
    let group = Group::from_name(Id::new(), "staff".into(), None);
    assert_eq!(group.rank, 0);
    assert_eq!(<Group as RoleModel>::TABLE, "groups");
    assert_eq!(<Member as UserModel>::TABLE, "members");
    assert_eq!(<Team as RoleModel>::TABLE, "teams");
    let company = Company::from_name(Id::new(), "Acme".into(), "acme".into());
    assert_eq!(company.seats, 5);
    assert_eq!(<Company as OrgModel>::MEMBERS_TABLE, "company_people");
}
