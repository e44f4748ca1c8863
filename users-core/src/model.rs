//! The traits `#[user_model]` and `#[role_model]` implement, so the manager can work on any model.

use std::fmt::{Debug, Display};
use std::hash::Hash;
use std::str::FromStr;

use uuid::Uuid;

/// A typed id: a UUID that knows which model it belongs to.
///
/// Implemented by every type that has the listed properties; the framework's own ids are
/// `users_diesel::Id<Model>`.
pub trait ModelId:
    Copy + Eq + Hash + Debug + Display + FromStr + From<Uuid> + Into<Uuid> + Send + Sync + 'static
{
}

impl<T> ModelId for T where
    T: Copy
        + Eq
        + Hash
        + Debug
        + Display
        + FromStr
        + From<Uuid>
        + Into<Uuid>
        + Send
        + Sync
        + 'static
{
}

/// A user model: a struct with the five injected fields, written by `#[user_model]`.
///
/// The accessors exist for generic code such as the [`Users`](crate::Users) manager;
/// application code uses the public fields directly.
pub trait UserModel: Clone + Debug + Send + Sync + Sized + 'static {
    /// The model's typed id.
    type Id: ModelId;

    /// The name of the model's table.
    const TABLE: &'static str;

    /// The store of the model's login sessions: `users_diesel::Sessions<Self>` for a
    /// `#[user_model]`, [`NoStore`](crate::NoStore) for a model without any. The
    /// managers' session operations (`start_session`, `sessions`, `end_session`, …) need it to
    /// be a [`SessionStore`](crate::SessionStore) of the connection.
    type Sessions;

    /// The store of the model's second factors: `users_diesel::SecondFactors<Self>` for a
    /// `#[user_model]`, [`NoStore`](crate::NoStore) for a model without any. The managers'
    /// second-factor operations (`enroll_totp`, `second_factor_challenge`,
    /// `complete_second_factor`, …) need it to be a
    /// [`SecondFactorStore`](crate::SecondFactorStore) of the connection.
    type SecondFactors;

    /// The store of the model's linked provider accounts ("sign in with …"):
    /// `users_diesel::OAuthAccounts<Self>` for a `#[user_model]`, [`NoStore`](crate::NoStore)
    /// for a model without any. The managers' provider operations (`oauth_sign_in`,
    /// `link_oauth`, `unlink_oauth`, `oauth_accounts`) need it to be an
    /// [`OAuthAccountStore`](crate::OAuthAccountStore) of the connection.
    type OAuthAccounts;

    /// The store of the model's security events: `users_diesel::Events<Self>` for a
    /// `#[user_model]`, [`NoStore`](crate::NoStore) for a model without any. The managers record
    /// events in it once told to ([`Users::record_events`](crate::Users::record_events)).
    type Events;

    /// The custom fields that registration cannot fill by itself: neither an `Option` nor
    /// given a `#[column(default = …)]`. [`Users::register`](crate::Users::register) refuses a
    /// model that has any (a compile error); `register_with` must set them.
    const REQUIRED_FIELDS: &'static [&'static str] = &[];

    /// A new, active, unverified user with the given credentials. Every custom field starts at
    /// its `#[column(default = …)]` value or `None`; a field of
    /// [`REQUIRED_FIELDS`](Self::REQUIRED_FIELDS) at `Default::default()`, only for the
    /// `register_with` closure to overwrite. Timestamps (if any) start at the current time.
    fn from_credentials(id: Self::Id, email: String, password_hash: String) -> Self;

    /// The user's id.
    fn id(&self) -> Self::Id;
    /// The normalised email address.
    fn email(&self) -> &str;
    /// Replaces the email address; callers pass it normalised.
    fn set_email(&mut self, email: String);
    /// The argon2id PHC string of the password.
    fn password_hash(&self) -> &str;
    /// Replaces the password hash.
    fn set_password_hash(&mut self, password_hash: String);
    /// Whether the account may log in.
    fn is_active(&self) -> bool;
    /// Activates or deactivates the account.
    fn set_active(&mut self, active: bool);
    /// Whether the email address has been verified.
    fn is_verified(&self) -> bool;
    /// Marks the email address as verified or not.
    fn set_verified(&mut self, verified: bool);

    /// The user's own words: the values of the model's text fields (a name, a username, a
    /// company). The password strength estimate
    /// ([`UsersConfig::password_strength`](crate::UsersConfig::password_strength)) counts them,
    /// with the email address, as easy to guess, so that a password made of them is weak.
    ///
    /// `#[user_model]` returns every custom `String` and `Option<String>` field that has a
    /// value; a model written by hand has none unless it overrides this.
    fn profile_words(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// A role model, written by `#[role_model]`.
pub trait RoleModel: Clone + Debug + Send + Sync + Sized + 'static {
    /// The model's typed id.
    type Id: ModelId;

    /// The name of the model's table.
    const TABLE: &'static str;

    /// The name of the table that assigns roles to users.
    const JOIN_TABLE: &'static str;

    /// A new role. Every custom field starts at its `#[column(default = …)]` value, or at
    /// `Default::default()` where it has none.
    fn from_name(id: Self::Id, name: String, description: Option<String>) -> Self;

    /// The role's id.
    fn id(&self) -> Self::Id;
    /// The role's unique name.
    fn name(&self) -> &str;
    /// Renames the role.
    fn set_name(&mut self, name: String);
    /// The role's description, if it has one.
    fn description(&self) -> Option<&str>;
    /// Replaces the description.
    fn set_description(&mut self, description: Option<String>);
}

/// The role type of an application without roles: `Users<User>` means `Users<User, NoRoles>`.
///
/// It has no values, so no role operation can ever be reached with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRoles {}

impl RoleModel for NoRoles {
    type Id = Uuid;
    const TABLE: &'static str = "";
    const JOIN_TABLE: &'static str = "";

    fn from_name(_: Uuid, _: String, _: Option<String>) -> Self {
        unreachable!("NoRoles has no values; role operations require a #[role_model] type")
    }
    fn id(&self) -> Uuid {
        match *self {}
    }
    fn name(&self) -> &str {
        match *self {}
    }
    fn set_name(&mut self, _: String) {
        match *self {}
    }
    fn description(&self) -> Option<&str> {
        match *self {}
    }
    fn set_description(&mut self, _: Option<String>) {
        match *self {}
    }
}

/// Fails compilation of [`Users::register`](crate::Users::register) (and its async twin) for a
/// model with [`UserModel::REQUIRED_FIELDS`]: it would have to invent their values.
pub(crate) const fn assert_registrable<U: UserModel>() {
    assert!(
        U::REQUIRED_FIELDS.is_empty(),
        "this user model has fields that are neither an `Option` nor given a \
         `#[column(default = …)]` (see its REQUIRED_FIELDS): register it with `register_with`, \
         setting them, or give them a default"
    );
}
