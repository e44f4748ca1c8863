//! The models the web example and the admin CLI share: one database file, one schema.

use users_diesel::prelude::*;

/// An application's user.
#[user_model(timestamps)]
pub struct User {
    /// The name shown to other users.
    pub display_name: Option<String>,
}

/// A role, with the `user_roles` join table to [`User`].
#[role_model]
pub struct Role {}

/// A team of users, with its `org_members` and `org_invitations` tables.
#[org_model]
pub struct Org {}

/// The migrations of the models, of the users' login sessions, second factors and linked
/// provider accounts, of the throttle's counters and of the organizations.
pub fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Sessions<User>>()
        .with::<SecondFactors<User>>()
        .with::<OAuthAccounts<User>>()
        .with::<users_diesel::Throttle>()
        .with::<Events<User>>()
        .with::<Org>()
}
