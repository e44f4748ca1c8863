//! Security events in the database: the `users_events` table of a user model ([`Events`]) and
//! its [`EventStore`](users_core::EventStore) (and [`AsyncEventStore`](users_core::AsyncEventStore)) on every backend.
//! The managers write to it once told to (`Users::record_events`), in the transaction of the
//! change each event records, and read it back with `Users::events`.

use std::marker::PhantomData;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use users_core::{
    EventKind, EventQuery, SecurityEvent, UserModel, UsersError, Uuid, MAX_PAGE_SIZE,
};
use users_derive::store_impl;

use crate::schema::{Column, ColumnType, DefaultValue, ModelSchema, Table};
use crate::sql_types::Portable;
use crate::Id;

/// The security events of the user model `U`: the `users_events` table, one row per event (a
/// failure repeated within its minute from one client is one row with a count), indexed by
/// account and by time.
///
/// It has no foreign key to `U`'s table: an account's history outlives the account, for its
/// administrators (delete old events with `Users::delete_events_before`).
///
/// `Migrations::new().with::<User>().with::<Events<User>>()` creates (and later evolves) it on
/// every backend; it is the `#[user_model]`'s [`UserModel::Events`]:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{verify_schema, EventKind, EventQuery};
///
/// #[user_model]
/// pub struct User {}
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>().with::<Events<User>>()).unwrap();
/// verify_schema::<Events<User>, _>(&mut conn).unwrap();
///
/// let users = Users::<User>::new(UsersConfig::new([7u8; 32])?).record_events();
/// let alice = users.register(&mut conn, "alice@example.com", "correct horse battery staple")?;
/// let history = users.events(&mut conn, &EventQuery { user_id: Some(alice.id.into()), ..EventQuery::default() })?;
/// assert_eq!(history[0].kind, EventKind::Registered);
/// # }
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
pub struct Events<U>(PhantomData<fn() -> U>);

impl<U: UserModel> ModelSchema for Events<U> {
    const TABLES: &'static [Table] = &[Table {
        name: "users_events",
        columns: &[
            Column::new("id", ColumnType::Uuid),
            Column::new("user_id", ColumnType::Uuid).indexed(),
            Column::new("kind", ColumnType::Text).max_length(KIND_LENGTH),
            Column::new("at", ColumnType::Timestamptz).indexed(),
            Column::new("actor_id", ColumnType::Uuid).nullable(),
            Column::new("client", ColumnType::Text)
                .max_length(CLIENT_LENGTH)
                .nullable(),
            Column::new("user_agent", ColumnType::Text)
                .max_length(USER_AGENT_LENGTH)
                .nullable(),
            Column::new("detail", ColumnType::Text)
                .max_length(DETAIL_LENGTH)
                .nullable(),
            Column::new("times", ColumnType::Integer).default(DefaultValue::Int(1)),
        ],
        primary_key: &["id"],
        foreign_keys: &[],
        dropped_columns: &[],
    }];

    /// After the user model: its events name its users.
    const MIGRATION_ORDER: u8 = 7;
}

/// The longest kind name.
const KIND_LENGTH: u32 = 40;
/// The longest client key a row holds.
const CLIENT_LENGTH: u32 = users_core::MAX_CLIENT_KEY_BYTES as u32;
/// The longest user agent a row holds.
const USER_AGENT_LENGTH: u32 = users_core::MAX_USER_AGENT_BYTES as u32;
/// The longest detail a row holds.
const DETAIL_LENGTH: u32 = users_core::MAX_EVENT_DETAIL_BYTES as u32;

diesel::table! {
    /// The `users_events` table, as [`Events`] describes it.
    users_events (id) {
        id -> crate::sql_types::Uuid,
        user_id -> crate::sql_types::Uuid,
        kind -> diesel::sql_types::Text,
        at -> crate::sql_types::Timestamptz,
        actor_id -> Nullable<crate::sql_types::Uuid>,
        client -> Nullable<diesel::sql_types::Text>,
        user_agent -> Nullable<diesel::sql_types::Text>,
        detail -> Nullable<diesel::sql_types::Text>,
        times -> diesel::sql_types::Integer,
    }
}

/// The ids of the table: of events, of their users and of administrators.
type Key = Id<Row>;

/// A row of `users_events`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users_events)]
struct Row {
    id: Key,
    user_id: Key,
    kind: String,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    at: DateTime<Utc>,
    actor_id: Option<Key>,
    client: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
    times: i32,
}

impl From<&SecurityEvent> for Row {
    fn from(event: &SecurityEvent) -> Row {
        Row {
            id: event.id.into(),
            user_id: event.user_id.into(),
            kind: event.kind.name().to_owned(),
            at: event.at.into(),
            actor_id: event.actor_id.map(Key::from),
            client: event.client.clone(),
            user_agent: event.user_agent.clone(),
            detail: event.detail.clone(),
            times: i32::try_from(event.count).unwrap_or(i32::MAX),
        }
    }
}

impl TryFrom<Row> for SecurityEvent {
    type Error = UsersError;

    fn try_from(row: Row) -> Result<SecurityEvent, UsersError> {
        Ok(SecurityEvent {
            id: row.id.into(),
            user_id: row.user_id.into(),
            kind: row.kind.parse::<EventKind>()?,
            at: row.at.into(),
            actor_id: row.actor_id.map(Uuid::from),
            client: row.client,
            user_agent: row.user_agent,
            detail: row.detail,
            count: u32::try_from(row.times).unwrap_or(0),
        })
    }
}

fn time(at: SystemTime) -> Portable<DateTime<Utc>> {
    Portable(at.into())
}

/// The rows `query` filters (account, kinds, time, client; not `before` nor `limit`), as a
/// boxed query of backend `$Backend`.
macro_rules! filtered {
    ($query:expr, $Backend:ty) => {{
        let query: &EventQuery = $query;
        let mut rows = users_events::table.into_boxed::<$Backend>();
        if let Some(user_id) = query.user_id {
            rows = rows.filter(users_events::user_id.eq(Key::from(user_id)));
        }
        if !query.kinds.is_empty() {
            let kinds: Vec<&str> = query.kinds.iter().map(|kind| kind.name()).collect();
            rows = rows.filter(users_events::kind.eq_any(kinds));
        }
        if let Some(since) = query.since {
            rows = rows.filter(users_events::at.ge(time(since)));
        }
        if let Some(until) = query.until {
            rows = rows.filter(users_events::at.lt(time(until)));
        }
        if let Some(client) = &query.client {
            rows = rows.filter(users_events::client.eq(client.clone()));
        }
        rows
    }};
}

/// The rows `query` selects: a page, newest first, before the cursor.
macro_rules! selected {
    ($query:expr, $Backend:ty) => {{
        let query: &EventQuery = $query;
        let mut rows = filtered!(query, $Backend)
            .select(Row::as_select())
            .order(users_events::id.desc())
            .limit(query.limit.clamp(1, MAX_PAGE_SIZE) as i64);
        if let Some(before) = query.before {
            rows = rows.filter(users_events::id.lt(Key::from(before)));
        }
        rows
    }};
}

// Each method one statement, written once (async, over the placeholder connection `Conn`) for
// the sync and async connections of every enabled backend.
#[store_impl(AsyncEventStore => EventStore)]
impl<U: UserModel> users_core::AsyncEventStore<Conn> for Events<U> {
    async fn insert_event(conn: &mut Conn, event: &SecurityEvent) -> Result<(), UsersError> {
        let query = diesel::insert_into(users_events::table).values(Row::from(event));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn repeat_event(
        conn: &mut Conn,
        event: &SecurityEvent,
        since: SystemTime,
    ) -> Result<bool, UsersError> {
        let same = users_events::table
            .filter(users_events::user_id.eq(Key::from(event.user_id)))
            .filter(users_events::kind.eq(event.kind.name()))
            .filter(users_events::at.ge(time(since)));
        let once_more = users_events::times.eq(users_events::times + 1);
        let changed = match &event.client {
            Some(client) => {
                let same = same.filter(users_events::client.eq(client.clone()));
                diesel::update(same).set(once_more).execute(conn).await
            }
            None => {
                let same = same.filter(users_events::client.is_null());
                diesel::update(same).set(once_more).execute(conn).await
            }
        };
        Ok(changed.map_err(UsersError::database)? > 0)
    }

    async fn events(conn: &mut Conn, query: &EventQuery) -> Result<Vec<SecurityEvent>, UsersError> {
        let rows: Vec<Row> = selected!(query, Db)
            .load(conn)
            .await
            .map_err(UsersError::database)?;
        rows.into_iter().map(SecurityEvent::try_from).collect()
    }

    async fn count_events(conn: &mut Conn, query: &EventQuery) -> Result<u64, UsersError> {
        let sum = filtered!(query, Db).select(diesel::dsl::sum(users_events::times));
        let total: Option<i64> = sum.first(conn).await.map_err(UsersError::database)?;
        Ok(total.map_or(0, |total| u64::try_from(total).unwrap_or(0)))
    }

    async fn delete_events_before(
        conn: &mut Conn,
        before: SystemTime,
    ) -> Result<usize, UsersError> {
        let old = users_events::table.filter(users_events::at.lt(time(before)));
        diesel::delete(old)
            .execute(conn)
            .await
            .map_err(UsersError::database)
    }
}
