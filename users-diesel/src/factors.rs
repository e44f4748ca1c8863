//! Second factors in the database: the `users_second_factors` table of a user model
//! ([`SecondFactors`]) and its [`SecondFactorStore`](users_core::SecondFactorStore) (and
//! [`AsyncSecondFactorStore`](users_core::AsyncSecondFactorStore)) on every backend.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use users_core::{PasskeyRecord, SecondFactorRecord, UserModel, UsersError, Uuid};
use users_derive::store_impl;

use crate::schema::{Column, ColumnType, ForeignKey, ModelSchema, Table};
use crate::sql_types::Portable;
use crate::Id;

/// The second factors of the user model `U`: the `users_second_factors` table, one row per
/// user who enrolled a factor (the user's id is its primary key and a foreign key to `U`'s
/// table, `ON DELETE CASCADE`), holding the sealed TOTP secret, whether it is confirmed, the
/// last accepted time step, the digests of the unused recovery codes and a version; and the
/// `users_passkeys` table, one row per passkey (typed id, the user's id with a cascading
/// foreign key and an index, the credential id, unique, and the credential).
///
/// `Migrations::new().with::<User>().with::<SecondFactors<User>>()` creates it on every
/// backend (an application that turns second factors on later gets it from the call it already
/// makes); it is the `#[user_model]`'s [`UserModel::SecondFactors`]:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{totp_code, SecondFactorProof};
///
/// #[user_model]
/// pub struct User {}
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>().with::<SecondFactors<User>>()).unwrap();
///
/// let users = Users::<User>::new(UsersConfig::new([7u8; 32])?);
/// let alice = users.register(&mut conn, "alice@example.com", "correct horse battery staple")?;
/// // A factor is set up on a verified address only.
/// let token = users.verification_token(&alice)?;
/// let alice = users.verify(&mut conn, &token)?;
/// let enrollment = users.enroll_totp(&mut conn, &alice, "Example")?;
/// let code = totp_code(&enrollment.secret, std::time::SystemTime::now())?;
/// let recovery_codes = users.confirm_totp(&mut conn, None, &alice, &code)?;
///
/// // From now on the password is not enough.
/// let challenge = users.second_factor_challenge(&mut conn, &alice)?.expect("a factor");
/// let proof = SecondFactorProof::RecoveryCode(&recovery_codes[0]);
/// let user = users.complete_second_factor(&mut conn, None, &challenge.token, proof)?;
/// assert_eq!(user.id, alice.id);
/// # }
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
pub struct SecondFactors<U>(PhantomData<fn() -> U>);

impl<U: UserModel> ModelSchema for SecondFactors<U> {
    const TABLES: &'static [Table] = &[
        Table {
            name: "users_second_factors",
            columns: &[
                Column::new("user_id", ColumnType::Uuid),
                Column::new("version", ColumnType::BigInt),
                // Key id, nonce, a 20-byte secret and its tag, base64url: 91 characters.
                Column::new("totp_secret", ColumnType::Text)
                    .max_length(128)
                    .nullable(),
                Column::new("totp_confirmed", ColumnType::Bool),
                Column::new("totp_last_step", ColumnType::BigInt),
                // Ten digests of 43 characters and the spaces between them.
                Column::new("recovery_codes", ColumnType::Text).max_length(512),
            ],
            primary_key: &["user_id"],
            foreign_keys: &[ForeignKey {
                column: "user_id",
                references: U::TABLE,
            }],
            dropped_columns: &[],
        },
        Table {
            name: "users_passkeys",
            columns: &[
                Column::new("id", ColumnType::Uuid),
                Column::new("user_id", ColumnType::Uuid).indexed(),
                // Base64url of at most 512 bytes (users-axum refuses longer ids; authenticators use
                // 16 to 64): short enough for a unique index on every backend.
                Column::new("credential_id", ColumnType::Text)
                    .max_length(683)
                    .unique(),
                Column::new("credential", ColumnType::Text),
                Column::new("name", ColumnType::Text)
                    .max_length(100)
                    .nullable(),
                Column::new("created_at", ColumnType::Timestamptz),
                Column::new("last_used_at", ColumnType::Timestamptz).nullable(),
            ],
            primary_key: &["id"],
            foreign_keys: &[ForeignKey {
                column: "user_id",
                references: U::TABLE,
            }],
            dropped_columns: &[],
        },
    ];

    /// After the user and role models, the throttle and the sessions.
    const MIGRATION_ORDER: u8 = 5;
}

diesel::table! {
    /// The `users_second_factors` table, as [`SecondFactors`] describes it.
    users_second_factors (user_id) {
        user_id -> crate::sql_types::Uuid,
        version -> diesel::sql_types::BigInt,
        totp_secret -> Nullable<diesel::sql_types::Text>,
        totp_confirmed -> diesel::sql_types::Bool,
        totp_last_step -> diesel::sql_types::BigInt,
        recovery_codes -> diesel::sql_types::Text,
    }
}

diesel::table! {
    /// The `users_passkeys` table, as [`SecondFactors`] describes it.
    users_passkeys (id) {
        id -> crate::sql_types::Uuid,
        user_id -> crate::sql_types::Uuid,
        credential_id -> diesel::sql_types::Text,
        credential -> diesel::sql_types::Text,
        name -> Nullable<diesel::sql_types::Text>,
        created_at -> crate::sql_types::Timestamptz,
        last_used_at -> Nullable<crate::sql_types::Timestamptz>,
    }
}

/// A row of `users_passkeys`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users_passkeys)]
struct PasskeyRow {
    id: Id<Row>,
    user_id: Id<Row>,
    credential_id: String,
    credential: String,
    name: Option<String>,
    #[diesel(serialize_as = Portable<DateTime<Utc>>)]
    created_at: DateTime<Utc>,
    #[diesel(serialize_as = Portable<Option<DateTime<Utc>>>)]
    last_used_at: Option<DateTime<Utc>>,
}

impl From<&PasskeyRecord> for PasskeyRow {
    fn from(passkey: &PasskeyRecord) -> PasskeyRow {
        PasskeyRow {
            id: passkey.id.into(),
            user_id: passkey.user_id.into(),
            credential_id: passkey.credential_id.clone(),
            credential: passkey.credential.clone(),
            name: passkey.name.clone(),
            created_at: passkey.created_at.into(),
            last_used_at: passkey.last_used_at.map(Into::into),
        }
    }
}

impl From<PasskeyRow> for PasskeyRecord {
    fn from(row: PasskeyRow) -> PasskeyRecord {
        PasskeyRecord {
            id: row.id.into(),
            user_id: row.user_id.into(),
            credential_id: row.credential_id,
            credential: row.credential,
            name: row.name,
            created_at: row.created_at.into(),
            last_used_at: row.last_used_at.map(Into::into),
        }
    }
}

/// A row of `users_second_factors`.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users_second_factors, treat_none_as_null = true)]
struct Row {
    user_id: Id<Row>,
    version: i64,
    totp_secret: Option<String>,
    totp_confirmed: bool,
    totp_last_step: i64,
    recovery_codes: String,
}

impl From<&SecondFactorRecord> for Row {
    fn from(record: &SecondFactorRecord) -> Row {
        Row {
            user_id: record.user_id.into(),
            version: record.version,
            totp_secret: record.totp_secret.clone(),
            totp_confirmed: record.totp_confirmed,
            totp_last_step: record.totp_last_step,
            recovery_codes: record.recovery_codes.clone(),
        }
    }
}

impl From<Row> for SecondFactorRecord {
    fn from(row: Row) -> SecondFactorRecord {
        SecondFactorRecord {
            user_id: row.user_id.into(),
            version: row.version,
            totp_secret: row.totp_secret,
            totp_confirmed: row.totp_confirmed,
            totp_last_step: row.totp_last_step,
            recovery_codes: row.recovery_codes,
        }
    }
}

// Each method one statement, written once (async, over the placeholder connection `Conn`) for
// the sync and async connections of every enabled backend.
#[store_impl(AsyncSecondFactorStore => SecondFactorStore)]
impl<U: UserModel> users_core::AsyncSecondFactorStore<Conn> for SecondFactors<U> {
    async fn find_factors(
        conn: &mut Conn,
        user_id: Uuid,
    ) -> Result<Option<SecondFactorRecord>, UsersError> {
        let query = users_second_factors::table
            .find(Id::<Row>::from(user_id))
            .select(Row::as_select());
        let row = query
            .first(conn)
            .await
            .optional()
            .map_err(UsersError::database)?;
        Ok(row.map(SecondFactorRecord::from))
    }

    async fn insert_factors(
        conn: &mut Conn,
        record: &SecondFactorRecord,
    ) -> Result<(), UsersError> {
        let query = diesel::insert_into(users_second_factors::table).values(Row::from(record));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn update_factors(
        conn: &mut Conn,
        record: &SecondFactorRecord,
        expected: i64,
    ) -> Result<bool, UsersError> {
        let row = users_second_factors::table
            .find(Id::<Row>::from(record.user_id))
            .filter(users_second_factors::version.eq(expected));
        let query = diesel::update(row).set(Row::from(record));
        let changed = query.execute(conn).await.map_err(UsersError::database)?;
        Ok(changed == 1)
    }

    async fn passkeys_of(conn: &mut Conn, user_id: Uuid) -> Result<Vec<PasskeyRecord>, UsersError> {
        // UUIDv7 ids sort by creation time on every backend.
        let query = users_passkeys::table
            .filter(users_passkeys::user_id.eq(Id::<Row>::from(user_id)))
            .order(users_passkeys::id)
            .select(PasskeyRow::as_select());
        let rows: Vec<PasskeyRow> = query.load(conn).await.map_err(UsersError::database)?;
        Ok(rows.into_iter().map(PasskeyRecord::from).collect())
    }

    async fn insert_passkey(conn: &mut Conn, passkey: &PasskeyRecord) -> Result<(), UsersError> {
        let query = diesel::insert_into(users_passkeys::table).values(PasskeyRow::from(passkey));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn update_passkey(conn: &mut Conn, passkey: &PasskeyRecord) -> Result<(), UsersError> {
        let used = passkey
            .last_used_at
            .map(|at| Portable(DateTime::<Utc>::from(at)));
        let query = diesel::update(users_passkeys::table.find(Id::<Row>::from(passkey.id))).set((
            users_passkeys::credential.eq(passkey.credential.clone()),
            users_passkeys::last_used_at.eq(used),
        ));
        query.execute(conn).await.map_err(UsersError::database)?;
        Ok(())
    }

    async fn delete_passkey(conn: &mut Conn, user_id: Uuid, id: Uuid) -> Result<bool, UsersError> {
        let row = users_passkeys::table
            .find(Id::<Row>::from(id))
            .filter(users_passkeys::user_id.eq(Id::<Row>::from(user_id)));
        let deleted = diesel::delete(row)
            .execute(conn)
            .await
            .map_err(UsersError::database)?;
        Ok(deleted > 0)
    }
}
