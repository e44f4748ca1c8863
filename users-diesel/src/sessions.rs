//! Stored login sessions in the database: the `users_sessions` table of a user model
//! ([`Sessions`]) and its [`SessionStore`](users_core::SessionStore) (and [`AsyncSessionStore`](users_core::AsyncSessionStore))
//! on every backend. The managers' session operations (`start_session`, `check_session`,
//! `refresh_session`, `sessions`, `end_session`, …) use it as the model's
//! [`UserModel::Sessions`].

use std::marker::PhantomData;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use users_core::{StoredSession, UserModel, UsersError, Uuid};
use users_derive::store_impl;

use crate::schema::{Column, ColumnType, ForeignKey, ModelSchema, Table};
use crate::sql_types::Portable;
use crate::Id;

/// The login sessions of the user model `U`: the `users_sessions` table, one row per login,
/// with a foreign key to `U`'s table (`ON DELETE CASCADE`: deleting a user ends their
/// sessions) and an index on it.
///
/// `Migrations::new().with::<User>().with::<Sessions<User>>()` creates (and later evolves) it
/// on every backend; it is the `#[user_model]`'s [`UserModel::Sessions`], so the managers'
/// session operations work over any connection of an enabled backend:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{verify_schema, SessionOrigin, SessionPolicy};
///
/// #[user_model]
/// pub struct User {}
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>().with::<Sessions<User>>()).unwrap();
/// verify_schema::<Sessions<User>, _>(&mut conn).unwrap();
///
/// let users = Users::<User>::new(UsersConfig::new([7u8; 32])?);
/// let alice = users.register(&mut conn, "alice@example.com", "correct horse battery staple")?;
/// let policy = SessionPolicy::default();
/// let login = users.start_session(&mut conn, &alice, SessionOrigin::default(), &policy)?;
/// let phone = users.start_session(&mut conn, &alice, SessionOrigin::default(), &policy)?;
/// assert_eq!(users.sessions(&mut conn, &alice)?.len(), 2);
///
/// // "Log out everywhere else", from the first login.
/// assert_eq!(users.end_other_sessions(&mut conn, &alice, login.session.id)?, 1);
/// assert!(users.refresh_session(&mut conn, &phone.refresh_token, &policy).is_err());
/// let renewed = users.refresh_session(&mut conn, &login.refresh_token, &policy)?;
/// assert_eq!(renewed.session.id, login.session.id);
/// # }
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
pub struct Sessions<U>(PhantomData<fn() -> U>);

/// The longest client key a row holds (users-core cuts client keys to this).
const CLIENT_LENGTH: u32 = users_core::MAX_CLIENT_KEY_BYTES as u32;
/// The longest user agent a row holds.
const USER_AGENT_LENGTH: u32 = users_core::MAX_USER_AGENT_BYTES as u32;
/// A refresh digest: SHA-256 in base64url without padding.
const DIGEST_LENGTH: u32 = 43;

impl<U: UserModel> ModelSchema for Sessions<U> {
    const TABLES: &'static [Table] = &[Table {
        name: "users_sessions",
        columns: &[
            Column::new("id", ColumnType::Uuid),
            Column::new("user_id", ColumnType::Uuid).indexed(),
            Column::new("created_at", ColumnType::Timestamptz),
            Column::new("last_seen_at", ColumnType::Timestamptz),
            Column::new("expires_at", ColumnType::Timestamptz),
            Column::new("idle_expires_at", ColumnType::Timestamptz),
            Column::new("user_agent", ColumnType::Text)
                .max_length(USER_AGENT_LENGTH)
                .nullable(),
            Column::new("client", ColumnType::Text)
                .max_length(CLIENT_LENGTH)
                .nullable(),
            Column::new("refresh_digest", ColumnType::Text).max_length(DIGEST_LENGTH),
        ],
        primary_key: &["id"],
        foreign_keys: &[ForeignKey {
            column: "user_id",
            references: U::TABLE,
        }],
        dropped_columns: &[],
    }];

    /// After the user and role models and the throttle: it references the user table.
    const MIGRATION_ORDER: u8 = 4;
}

diesel::table! {
    /// The `users_sessions` table, as [`Sessions`] describes it.
    users_sessions (id) {
        id -> crate::sql_types::Uuid,
        user_id -> crate::sql_types::Uuid,
        created_at -> crate::sql_types::Timestamptz,
        last_seen_at -> crate::sql_types::Timestamptz,
        expires_at -> crate::sql_types::Timestamptz,
        idle_expires_at -> crate::sql_types::Timestamptz,
        user_agent -> Nullable<diesel::sql_types::Text>,
        client -> Nullable<diesel::sql_types::Text>,
        refresh_digest -> diesel::sql_types::Text,
    }
}

/// The ids of the table: of sessions, and of their users.
type Key = Id<Row>;

/// A row of `users_sessions`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users_sessions)]
struct Row {
    id: Key,
    user_id: Key,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    created_at: DateTime<Utc>,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    last_seen_at: DateTime<Utc>,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    expires_at: DateTime<Utc>,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    idle_expires_at: DateTime<Utc>,
    user_agent: Option<String>,
    client: Option<String>,
    refresh_digest: String,
}

impl From<&StoredSession> for Row {
    fn from(session: &StoredSession) -> Row {
        Row {
            id: session.id.into(),
            user_id: session.user_id.into(),
            created_at: session.created_at.into(),
            last_seen_at: session.last_seen_at.into(),
            expires_at: session.expires_at.into(),
            idle_expires_at: session.idle_expires_at.into(),
            user_agent: session.user_agent.clone(),
            client: session.client.clone(),
            refresh_digest: session.refresh_digest.clone(),
        }
    }
}

impl From<Row> for StoredSession {
    fn from(row: Row) -> StoredSession {
        StoredSession {
            id: row.id.into(),
            user_id: row.user_id.into(),
            created_at: row.created_at.into(),
            last_seen_at: row.last_seen_at.into(),
            expires_at: row.expires_at.into(),
            idle_expires_at: row.idle_expires_at.into(),
            user_agent: row.user_agent,
            client: row.client,
            refresh_digest: row.refresh_digest,
        }
    }
}

fn time(at: SystemTime) -> Portable<DateTime<Utc>> {
    Portable(at.into())
}

// Each method one statement, written once (async, over the placeholder connection `Conn`) for
// the sync and async connections of every enabled backend.
#[store_impl(AsyncSessionStore => SessionStore)]
impl<U: UserModel> users_core::AsyncSessionStore<Conn> for Sessions<U> {
    async fn insert_session(conn: &mut Conn, session: &StoredSession) -> Result<(), UsersError> {
        let query = diesel::insert_into(users_sessions::table).values(Row::from(session));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn find_session(conn: &mut Conn, id: Uuid) -> Result<Option<StoredSession>, UsersError> {
        let query = users_sessions::table
            .find(Key::from(id))
            .select(Row::as_select());
        let row = query
            .first(conn)
            .await
            .optional()
            .map_err(UsersError::database)?;
        Ok(row.map(StoredSession::from))
    }

    async fn touch_session(
        conn: &mut Conn,
        id: Uuid,
        last_seen_at: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<(), UsersError> {
        let query = diesel::update(users_sessions::table.find(Key::from(id))).set((
            users_sessions::last_seen_at.eq(time(last_seen_at)),
            users_sessions::idle_expires_at.eq(time(idle_expires_at)),
        ));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn rotate_refresh(
        conn: &mut Conn,
        id: Uuid,
        old: &str,
        new: &str,
        last_seen_at: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<bool, UsersError> {
        let row = users_sessions::table
            .find(Key::from(id))
            .filter(users_sessions::refresh_digest.eq(old.to_owned()));
        let query = diesel::update(row).set((
            users_sessions::refresh_digest.eq(new.to_owned()),
            users_sessions::last_seen_at.eq(time(last_seen_at)),
            users_sessions::idle_expires_at.eq(time(idle_expires_at)),
        ));
        let changed = query.execute(conn).await.map_err(UsersError::database)?;
        Ok(changed == 1)
    }

    async fn delete_session(conn: &mut Conn, user_id: Uuid, id: Uuid) -> Result<bool, UsersError> {
        let row = users_sessions::table
            .find(Key::from(id))
            .filter(users_sessions::user_id.eq(Key::from(user_id)));
        let deleted = diesel::delete(row)
            .execute(conn)
            .await
            .map_err(UsersError::database)?;
        Ok(deleted > 0)
    }

    async fn sessions_of(conn: &mut Conn, user_id: Uuid) -> Result<Vec<StoredSession>, UsersError> {
        // UUIDv7 ids sort by creation time on every backend.
        let query = users_sessions::table
            .filter(users_sessions::user_id.eq(Key::from(user_id)))
            .order(users_sessions::id.desc())
            .select(Row::as_select());
        let rows: Vec<Row> = query.load(conn).await.map_err(UsersError::database)?;
        Ok(rows.into_iter().map(StoredSession::from).collect())
    }

    async fn delete_ended_sessions(
        conn: &mut Conn,
        user_id: Uuid,
        now: SystemTime,
    ) -> Result<usize, UsersError> {
        let ended = users_sessions::table
            .filter(users_sessions::user_id.eq(Key::from(user_id)))
            .filter(
                users_sessions::expires_at
                    .le(time(now))
                    .or(users_sessions::idle_expires_at.le(time(now))),
            );
        diesel::delete(ended)
            .execute(conn)
            .await
            .map_err(UsersError::database)
    }

    async fn delete_sessions_of(
        conn: &mut Conn,
        user_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<usize, UsersError> {
        // The nil UUID is no session's id.
        let keep = Key::from(except.unwrap_or(Uuid::nil()));
        let rows = users_sessions::table
            .filter(users_sessions::user_id.eq(Key::from(user_id)))
            .filter(users_sessions::id.ne(keep));
        diesel::delete(rows)
            .execute(conn)
            .await
            .map_err(UsersError::database)
    }
}
