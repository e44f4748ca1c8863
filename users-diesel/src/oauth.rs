//! Linked provider accounts in the database: the `users_oauth_accounts` table of a user model
//! ([`OAuthAccounts`]) and its [`OAuthAccountStore`](users_core::OAuthAccountStore) (and
//! [`AsyncOAuthAccountStore`](users_core::AsyncOAuthAccountStore)) on every backend.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use users_core::{OAuthAccountRecord, UserModel, UsersError, Uuid};
use users_derive::store_impl;

use crate::schema::{Column, ColumnType, ForeignKey, ModelSchema, Table};
use crate::sql_types::Portable;
use crate::Id;

/// The linked provider accounts ("sign in with …") of the user model `U`: the
/// `users_oauth_accounts` table, one row per account, keyed by the provider's name and the
/// provider's subject (so one provider account signs in one user only), with a typed id
/// (UUIDv7, unique), the user's id (a foreign key to `U`'s table, `ON DELETE CASCADE`, indexed),
/// the provider's email and whether it verified it, when it was linked and last used, and,
/// only where the application keeps them, the provider's tokens sealed under a key derived from
/// the secret (see [`Sealer`](users_core::Sealer)) with their expiry.
///
/// There is no `#[oauth_account_model]`: the table has no fields of the application's, so every
/// `#[user_model]` comes with it as its [`UserModel::OAuthAccounts`], as with its sessions, and an
/// application that offers no provider sign-in simply never migrates it.
/// `Migrations::new().with::<User>().with::<OAuthAccounts<User>>()` creates it on every
/// backend. Unlinking also counts the
/// user's passkeys (a way to sign in too), so it needs [`SecondFactors`](crate::SecondFactors)'
/// tables as well:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{verify_schema, OAuthSignIn, ProviderIdentity};
///
/// #[user_model]
/// pub struct User {}
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// let migrations = Migrations::new()
///     .with::<User>()
///     .with::<SecondFactors<User>>()
///     .with::<OAuthAccounts<User>>();
/// conn.run_pending_migrations(migrations).unwrap();
/// verify_schema::<OAuthAccounts<User>, _>(&mut conn).unwrap();
///
/// let users = Users::<User>::new(UsersConfig::new([7u8; 32])?);
/// // What a checked provider flow hands over (users-axum's `oidc` feature does the flow).
/// let jane = ProviderIdentity {
///     provider: "corp".into(),
///     subject: "248289761001".into(),
///     email: Some("jane@example.com".into()),
///     email_verified: true,
///     tokens: None,
/// };
/// let OAuthSignIn::Registered(user) = users.oauth_sign_in(&mut conn, &jane)? else { panic!() };
/// assert!(user.is_verified);
/// // The same account signs the same user in again; it has no password to guess.
/// let again = users.oauth_sign_in(&mut conn, &jane)?;
/// assert_eq!(again, OAuthSignIn::SignedIn(user.clone()));
/// assert!(users.authenticate(&mut conn, "jane@example.com", "").is_err());
/// // Its only way to sign in cannot be unlinked.
/// assert!(matches!(
///     users.unlink_oauth(&mut conn, &user, "corp"),
///     Err(UsersError::LastSignInMethod)
/// ));
/// # }
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
pub struct OAuthAccounts<U>(PhantomData<fn() -> U>);

impl<U: UserModel> ModelSchema for OAuthAccounts<U> {
    const TABLES: &'static [Table] = &[Table {
        name: "users_oauth_accounts",
        columns: &[
            Column::new("provider", ColumnType::Text)
                .max_length(users_core::MAX_PROVIDER_BYTES as u32),
            Column::new("subject", ColumnType::Text)
                .max_length(users_core::MAX_SUBJECT_BYTES as u32),
            Column::new("id", ColumnType::Uuid).unique(),
            Column::new("user_id", ColumnType::Uuid).indexed(),
            Column::new("email", ColumnType::Text)
                .max_length(users_core::MAX_EMAIL_BYTES as u32)
                .nullable(),
            Column::new("email_verified", ColumnType::Bool),
            Column::new("created_at", ColumnType::Timestamptz),
            Column::new("last_used_at", ColumnType::Timestamptz),
            Column::new("token_expires_at", ColumnType::Timestamptz).nullable(),
            Column::new("access_token", ColumnType::Text).nullable(),
            Column::new("refresh_token", ColumnType::Text).nullable(),
        ],
        // UNIQUE (provider, subject): a provider account belongs to one user.
        primary_key: &["provider", "subject"],
        foreign_keys: &[ForeignKey {
            column: "user_id",
            references: U::TABLE,
        }],
        dropped_columns: &[],
    }];

    /// After the user and role models, the throttle, the sessions and the second factors.
    const MIGRATION_ORDER: u8 = 6;
}

diesel::table! {
    /// The `users_oauth_accounts` table, as [`OAuthAccounts`] describes it.
    users_oauth_accounts (provider, subject) {
        provider -> diesel::sql_types::Text,
        subject -> diesel::sql_types::Text,
        id -> crate::sql_types::Uuid,
        user_id -> crate::sql_types::Uuid,
        email -> Nullable<diesel::sql_types::Text>,
        email_verified -> diesel::sql_types::Bool,
        created_at -> crate::sql_types::Timestamptz,
        last_used_at -> crate::sql_types::Timestamptz,
        token_expires_at -> Nullable<crate::sql_types::Timestamptz>,
        access_token -> Nullable<diesel::sql_types::Text>,
        refresh_token -> Nullable<diesel::sql_types::Text>,
    }
}

/// A row of `users_oauth_accounts`.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users_oauth_accounts, treat_none_as_null = true)]
struct Row {
    provider: String,
    subject: String,
    id: Id<Row>,
    user_id: Id<Row>,
    email: Option<String>,
    email_verified: bool,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    created_at: DateTime<Utc>,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    last_used_at: DateTime<Utc>,
    #[diesel(serialize_as = Portable<Option<DateTime<Utc>>>)]
    token_expires_at: Option<DateTime<Utc>>,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

impl From<&OAuthAccountRecord> for Row {
    fn from(account: &OAuthAccountRecord) -> Row {
        Row {
            provider: account.provider.clone(),
            subject: account.subject.clone(),
            id: account.id.into(),
            user_id: account.user_id.into(),
            email: account.email.clone(),
            email_verified: account.email_verified,
            created_at: account.created_at.into(),
            last_used_at: account.last_used_at.into(),
            token_expires_at: account.token_expires_at.map(Into::into),
            access_token: account.access_token.clone(),
            refresh_token: account.refresh_token.clone(),
        }
    }
}

impl From<Row> for OAuthAccountRecord {
    fn from(row: Row) -> OAuthAccountRecord {
        OAuthAccountRecord {
            id: row.id.into(),
            user_id: row.user_id.into(),
            provider: row.provider,
            subject: row.subject,
            email: row.email,
            email_verified: row.email_verified,
            created_at: row.created_at.into(),
            last_used_at: row.last_used_at.into(),
            token_expires_at: row.token_expires_at.map(Into::into),
            access_token: row.access_token,
            refresh_token: row.refresh_token,
        }
    }
}

/// An insert's error: a second row for one provider account (the key is the only constraint a
/// fresh row can collide on) is [`UsersError::Conflict`] on `subject`.
fn insert_error(error: DieselError) -> UsersError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            UsersError::Conflict { column: "subject" }
        }
        error => UsersError::database(error),
    }
}

// Each method one statement, written once (async, over the placeholder connection `Conn`) for
// the sync and async connections of every enabled backend.
#[store_impl(AsyncOAuthAccountStore => OAuthAccountStore)]
impl<U: UserModel> users_core::AsyncOAuthAccountStore<Conn> for OAuthAccounts<U> {
    async fn find_oauth_account(
        conn: &mut Conn,
        provider: &str,
        subject: &str,
    ) -> Result<Option<OAuthAccountRecord>, UsersError> {
        let query = users_oauth_accounts::table
            .find((provider, subject))
            .select(Row::as_select());
        let row = query
            .first(conn)
            .await
            .optional()
            .map_err(UsersError::database)?;
        Ok(row.map(OAuthAccountRecord::from))
    }

    async fn oauth_accounts_of(
        conn: &mut Conn,
        user_id: Uuid,
    ) -> Result<Vec<OAuthAccountRecord>, UsersError> {
        // UUIDv7 ids sort by creation time on every backend.
        let query = users_oauth_accounts::table
            .filter(users_oauth_accounts::user_id.eq(Id::<Row>::from(user_id)))
            .order(users_oauth_accounts::id)
            .select(Row::as_select());
        let rows: Vec<Row> = query.load(conn).await.map_err(UsersError::database)?;
        Ok(rows.into_iter().map(OAuthAccountRecord::from).collect())
    }

    async fn insert_oauth_account(
        conn: &mut Conn,
        account: &OAuthAccountRecord,
    ) -> Result<(), UsersError> {
        let query = diesel::insert_into(users_oauth_accounts::table).values(Row::from(account));
        query.execute(conn).await.map_err(insert_error)?;
        Ok(())
    }

    async fn update_oauth_account(
        conn: &mut Conn,
        account: &OAuthAccountRecord,
    ) -> Result<(), UsersError> {
        let row =
            users_oauth_accounts::table.find((account.provider.as_str(), account.subject.as_str()));
        let query = diesel::update(row).set(Row::from(account));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn delete_oauth_account(
        conn: &mut Conn,
        user_id: Uuid,
        provider: &str,
    ) -> Result<bool, UsersError> {
        let rows = users_oauth_accounts::table
            .filter(users_oauth_accounts::user_id.eq(Id::<Row>::from(user_id)))
            .filter(users_oauth_accounts::provider.eq(provider));
        let deleted = diesel::delete(rows)
            .execute(conn)
            .await
            .map_err(UsersError::database)?;
        Ok(deleted > 0)
    }
}
