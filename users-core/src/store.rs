//! What the manager needs from storage, per connection type.
//!
//! The traits are implemented on the *model* for each connection type `C` of an enabled
//! backend (`impl UserStore<SqliteConnection> for User`), by code that `#[user_model]` writes.
//! That keeps the orphan rule happy and keeps Diesel trait bounds out of application code: the
//! manager asks for `U: UserStore<C>` and nothing else.

use users_derive::store_trait;

use std::time::SystemTime;

use crate::{
    OrgInvitation, OrgMemberOf, OrgMembership, OrgModel, OrgView, RoleModel, UserListing,
    UserModel, UsersError, Uuid,
};

#[store_trait(
    /// Storage of one user model over async connections of type `C`: the async twin of
    /// [`UserStore`](crate::UserStore), with the same contract for each method.
    #[cfg(feature = "async")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no async user store for connections of type `{C}`",
        label = "not an async connection of an enabled backend",
        note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
                (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
                feature on; for a pooled connection write `&mut *conn`"
    )]
    pub trait AsyncUserStore<C: Send>: UserModel {
        /// Runs the future that `f` makes in a database transaction: committed if it resolves to
        /// `Ok`, rolled back otherwise. Inside a transaction already, it is a savepoint.
        ///
        /// `f` borrows the connection for the transaction's duration and returns its future boxed
        /// with [`ScopedFutureExt::scope_boxed`](scoped_futures::ScopedFutureExt::scope_boxed), as
        /// diesel-async's `AsyncConnection::transaction` takes it; the
        /// [`AsyncUsers`](crate::AsyncUsers) example has a toy store that implements it.
        ///
        /// Dropping the returned future before it finishes can leave the transaction open on the
        /// connection (a diesel-async limitation); pools discard such connections.
        fn transaction<'a, T, F>(conn: &'a mut C, f: F) -> crate::TransactionFuture<'a, T>
        where
            F: for<'r> FnOnce(&'r mut C) -> scoped_futures::ScopedBoxFuture<'a, 'r, Result<T, UsersError>> + Send + 'a,
            T: Send + 'a;
    }
)]
/// Storage of one user model over connections of type `C`.
///
/// Emails passed in are already normalised; the store compares them with plain `=` on the
/// unique index. Implementations map a unique violation on the email column to
/// [`UsersError::EmailTaken`] and every other database failure to [`UsersError::Database`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no user store for connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`"
)]
pub trait UserStore<C>: UserModel {
    /// Inserts a new user and returns the stored row (timestamps set by the store).
    fn insert(conn: &mut C, user: &Self) -> Result<Self, UsersError>;

    /// Loads the user with this id.
    fn find(conn: &mut C, id: Self::Id) -> Result<Option<Self>, UsersError>;

    /// Loads the user with this id and locks its row until the transaction ends, so
    /// that a read-decide-write sequence (a password reset, an email change) cannot
    /// interleave with another one on the same user. Call it inside the store's
    /// `transaction`.
    fn find_for_update(conn: &mut C, id: Self::Id) -> Result<Option<Self>, UsersError>;

    /// Loads the user with this normalised email address.
    fn find_by_email(conn: &mut C, email: &str) -> Result<Option<Self>, UsersError>;

    /// Writes every field of `user` to its row and returns the stored row;
    /// [`UsersError::UserNotFound`] if the row does not exist.
    fn update(conn: &mut C, user: &Self) -> Result<Self, UsersError>;

    /// Deletes the user with this id; `false` if there was none.
    fn delete(conn: &mut C, id: Self::Id) -> Result<bool, UsersError>;

    /// The users that `listing` selects, by id, at most `listing.limit`.
    fn list(conn: &mut C, listing: &UserListing) -> Result<Vec<Self>, UsersError>;

    /// Runs `f` in a database transaction: committed if it returns `Ok`, rolled back otherwise.
    /// Inside a transaction already, it is a savepoint.
    fn transaction<T, F>(conn: &mut C, f: F) -> Result<T, UsersError>
    where
        F: FnOnce(&mut C) -> Result<T, UsersError>;
}

#[store_trait(
    /// Storage of one role model, and of its join table with the user model, over async
    /// connections of type `C`: the async twin of [`RoleStore`](crate::RoleStore), with the same
    /// contract for each method. Written by `#[role_model]`.
    #[cfg(feature = "async")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no async role store for connections of type `{C}`",
        label = "not an async connection of an enabled backend",
        note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
                (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
                feature on; for a pooled connection write `&mut *conn`",
        note = "`AsyncUsers<U, R>` needs `R` to be a `#[role_model]` whose `user = …` is `U`"
    )]
    pub trait AsyncRoleStore<C: Send>: RoleModel {
        /// The user model the roles are assigned to.
        type User: UserModel;
    }
)]
/// Storage of one role model, and of its join table with the user model, over connections of
/// type `C`. Written by `#[role_model]`.
///
/// Each query is one statement: `has_any_role` and `count_roles_named` use the join
/// table's primary key and the unique index on the role name; `roles_of_users` loads the roles of
/// many users in one query. Implementations map a unique violation on the role name to
/// [`UsersError::RoleExists`], and a missing user or role behind a join row to
/// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no role store for connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`",
    note = "`Users<U, R>` needs `R` to be a `#[role_model]` whose `user = …` is `U`"
)]
pub trait RoleStore<C>: RoleModel {
    /// The user model the roles are assigned to.
    type User: UserModel;

    /// Inserts a new role and returns it.
    fn insert(conn: &mut C, role: &Self) -> Result<Self, UsersError>;

    /// Loads the role with this id.
    fn find(conn: &mut C, id: Self::Id) -> Result<Option<Self>, UsersError>;

    /// Loads the role with this name.
    fn find_by_name(conn: &mut C, name: &str) -> Result<Option<Self>, UsersError>;

    /// Writes every field of `role` to its row; [`UsersError::RoleNotFound`] if there
    /// is none.
    fn update(conn: &mut C, role: &Self) -> Result<Self, UsersError>;

    /// Deletes the role with this id, and its assignments; `false` if there was none.
    fn delete(conn: &mut C, id: Self::Id) -> Result<bool, UsersError>;

    /// Gives the user the role; doing it again changes nothing.
    fn assign(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        role: Self::Id,
    ) -> Result<(), UsersError>;

    /// Takes the role from the user; `false` if the user did not have it.
    fn revoke(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        role: Self::Id,
    ) -> Result<bool, UsersError>;

    /// Whether the user has at least one of the roles with these names.
    fn has_any_role(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        names: &[&str],
    ) -> Result<bool, UsersError>;

    /// How many of the roles with these (distinct) names the user has.
    fn count_roles_named(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        names: &[&str],
    ) -> Result<usize, UsersError>;

    /// The user's roles, by name.
    fn roles_of(conn: &mut C, user: <Self::User as UserModel>::Id)
        -> Result<Vec<Self>, UsersError>;

    /// The user with this id and their roles, by name, in one query (the user's row joined to
    /// their roles): what a request that shows or checks the user's roles reads.
    #[allow(clippy::type_complexity)]
    fn user_with_roles(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
    ) -> Result<Option<(Self::User, Vec<Self>)>, UsersError>;

    /// The roles of each of `users`, in the same order, in one query.
    fn roles_of_users(conn: &mut C, users: &[Self::User]) -> Result<Vec<Vec<Self>>, UsersError>;

    /// The users who have the role with this name, oldest first.
    fn users_with_role(conn: &mut C, name: &str) -> Result<Vec<Self::User>, UsersError>;

    /// Every role, by name.
    fn all(conn: &mut C) -> Result<Vec<Self>, UsersError>;

    /// Gives the role the permission (a normalised name); doing it again changes nothing.
    /// [`UsersError::RoleNotFound`] if the role is gone.
    fn grant_permission(conn: &mut C, role: Self::Id, permission: &str) -> Result<(), UsersError>;

    /// Takes the permission from the role; `false` if the role did not have it.
    fn revoke_permission(
        conn: &mut C,
        role: Self::Id,
        permission: &str,
    ) -> Result<bool, UsersError>;

    /// The role's permissions, by name.
    fn permissions_of(conn: &mut C, role: Self::Id) -> Result<Vec<String>, UsersError>;

    /// Whether one of the user's roles has the permission, in one indexed query.
    fn has_permission(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        permission: &str,
    ) -> Result<bool, UsersError>;
}

#[store_trait(
    /// Storage of one organization model, its members and its invitations, over async
    /// connections of type `C`: the async twin of [`OrgStore`](crate::OrgStore), with the same
    /// contract for each method. Written by `#[org_model]`.
    #[cfg(feature = "async")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no async organization store for connections of type `{C}`",
        label = "not an async connection of an enabled backend",
        note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
                (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
                feature on; for a pooled connection write `&mut *conn`",
        note = "the organization operations need an `#[org_model]` whose `user = …` is the manager's user model"
    )]
    pub trait AsyncOrgStore<C: Send>: OrgModel {
        /// The user model whose users are members.
        type User: UserModel;
    }
)]
/// Storage of one organization model, its members table and its invitations table, over
/// connections of type `C`. Written by `#[org_model]`.
///
/// Every method is one statement. Implementations map a unique violation on the slug to
/// [`UsersError::OrgExists`], and a membership or invitation of a missing user or
/// organization to [`UsersError::UserNotFound`] or [`UsersError::OrgNotFound`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no organization store for connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`",
    note = "the organization operations need an `#[org_model]` whose `user = …` is the manager's user model"
)]
pub trait OrgStore<C>: OrgModel {
    /// The user model whose users are members.
    type User: UserModel;

    /// Inserts a new organization (its timestamps set now) and returns it.
    fn insert(conn: &mut C, org: &Self) -> Result<Self, UsersError>;

    /// Loads the organization with this id.
    fn find(conn: &mut C, id: Self::Id) -> Result<Option<Self>, UsersError>;

    /// Loads the organization with this id and locks its row until the transaction ends
    /// (`FOR UPDATE`; SQLite's write transactions hold the database instead): what serialises
    /// changes to its owners.
    fn find_for_update(conn: &mut C, id: Self::Id) -> Result<Option<Self>, UsersError>;

    /// Loads the organization with this (normalised) slug.
    fn find_by_slug(conn: &mut C, slug: &str) -> Result<Option<Self>, UsersError>;

    /// Writes every field of `org` (its `updated_at` set now); [`UsersError::OrgNotFound`] if
    /// it is gone.
    fn update(conn: &mut C, org: &Self) -> Result<Self, UsersError>;

    /// Deletes the organization, its members and its invitations; `false` if there was none.
    fn delete(conn: &mut C, id: Self::Id) -> Result<bool, UsersError>;

    /// The user's membership of the organization, by the members table's primary key.
    fn membership(
        conn: &mut C,
        org: Self::Id,
        user: <Self::User as UserModel>::Id,
    ) -> Result<Option<OrgMembership>, UsersError>;

    /// The organization with the user's membership of it, in one query; `None` if either is
    /// missing or the user is not a member.
    fn org_of_member(
        conn: &mut C,
        org: Self::Id,
        user: <Self::User as UserModel>::Id,
    ) -> Result<Option<OrgView<Self>>, UsersError>;

    /// The organizations the user belongs to with their membership, by name, in one query.
    fn orgs_of(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
    ) -> Result<Vec<OrgView<Self>>, UsersError>;

    /// The members of the organization with their memberships, in the order they joined, in
    /// one query.
    fn members(conn: &mut C, org: Self::Id) -> Result<Vec<OrgMemberOf<Self::User>>, UsersError>;

    /// Adds a member; `false` (and nothing written) if the user is already one.
    fn add_member(conn: &mut C, membership: &OrgMembership) -> Result<bool, UsersError>;

    /// Gives a member another role; `false` if the user is not a member.
    fn set_member_role(
        conn: &mut C,
        org: Self::Id,
        user: <Self::User as UserModel>::Id,
        role: &str,
    ) -> Result<bool, UsersError>;

    /// Removes a member; `false` if the user was not one.
    fn remove_member(
        conn: &mut C,
        org: Self::Id,
        user: <Self::User as UserModel>::Id,
    ) -> Result<bool, UsersError>;

    /// How many members of the organization hold `role`.
    fn count_role(conn: &mut C, org: Self::Id, role: &str) -> Result<usize, UsersError>;

    /// Stores a new invitation.
    fn insert_invitation(conn: &mut C, invitation: &OrgInvitation) -> Result<(), UsersError>;

    /// The organization's invitation with this id, accepted, expired or pending.
    fn invitation(
        conn: &mut C,
        org: Self::Id,
        id: Uuid,
    ) -> Result<Option<OrgInvitation>, UsersError>;

    /// The invitation whose token has this digest (unique).
    fn invitation_by_digest(
        conn: &mut C,
        digest: &str,
    ) -> Result<Option<OrgInvitation>, UsersError>;

    /// The organization's invitations neither accepted nor expired at `now`, oldest first.
    fn pending_invitations(
        conn: &mut C,
        org: Self::Id,
        now: SystemTime,
    ) -> Result<Vec<OrgInvitation>, UsersError>;

    /// How many of the organization's invitations are pending at `now`, and how many of those
    /// `inviter` sent, in one query.
    fn count_pending_invitations(
        conn: &mut C,
        org: Self::Id,
        inviter: <Self::User as UserModel>::Id,
        now: SystemTime,
    ) -> Result<(usize, usize), UsersError>;

    /// Marks the invitation accepted at `at` if it still is pending; `false` if another
    /// acceptance came first (or it is gone): what makes a token single-use under concurrency.
    fn accept_invitation(conn: &mut C, id: Uuid, at: SystemTime) -> Result<bool, UsersError>;

    /// Deletes the invitation (revoked or declined); `false` if there was none.
    fn delete_invitation(conn: &mut C, id: Uuid) -> Result<bool, UsersError>;
}
