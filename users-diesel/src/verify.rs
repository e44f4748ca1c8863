//! Runtime schema verification: does the live database hold the tables the models expect?
//!
//! The compile-time checks of `schema = …` compare a model with a `table!`; this compares it
//! with the database itself, so a migration that was never run, or a column someone dropped or
//! retyped by hand, is reported at start-up in one error rather than as a failed query later.

use std::fmt;

use diesel::sql_types::{Bool, Text};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};

use crate::migrations::Dialect;
use crate::schema::{Column, ColumnType, ModelSchema, Table};

/// Checks that the database `conn` is connected to holds every table and column of model `M`,
/// each with a type and nullability the model can use. Every problem is reported at once.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{verify_schema, SchemaProblem};
///
/// #[user_model]
/// pub struct User {
///     pub display_name: Option<String>,
/// }
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>()).unwrap();
/// verify_schema::<User, _>(&mut conn).unwrap();
///
/// diesel::sql_query("ALTER TABLE users DROP COLUMN display_name").execute(&mut conn).unwrap();
/// let error = verify_schema::<User, _>(&mut conn).unwrap_err();
/// assert!(error.to_string().contains("users.display_name: missing"));
/// # }
/// ```
pub fn verify_schema<M, C>(conn: &mut C) -> Result<(), SchemaError>
where
    M: ModelSchema,
    C: IntrospectSchema,
{
    let mut problems = Vec::new();
    for table in M::TABLES {
        let live = conn.live_columns(table.name)?;
        problems.extend(compare_table(C::DIALECT, table, &live));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Mismatch(problems))
    }
}

/// What [`verify_schema`] found.
#[derive(Debug)]
#[non_exhaustive]
pub enum SchemaError {
    /// The database differs from the models; each difference is one problem.
    Mismatch(Vec<SchemaProblem>),
    /// The database could not be asked for its schema.
    Database(diesel::result::Error),
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Mismatch(problems) => {
                write!(
                    f,
                    "the database does not match the models ({} problem{}; run the \
                     migrations or fix the columns):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for problem in problems {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
            SchemaError::Database(error) => {
                write!(f, "could not read the database schema: {error}")
            }
        }
    }
}

impl std::error::Error for SchemaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SchemaError::Mismatch(_) => None,
            SchemaError::Database(error) => Some(error),
        }
    }
}

impl From<diesel::result::Error> for SchemaError {
    fn from(error: diesel::result::Error) -> Self {
        SchemaError::Database(error)
    }
}

/// One difference between a model and the live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaProblem {
    /// The table does not exist.
    MissingTable {
        /// The table's SQL name.
        table: &'static str,
    },
    /// The table exists but lacks the column.
    MissingColumn {
        /// The table's SQL name.
        table: &'static str,
        /// The column's SQL name.
        column: &'static str,
        /// The type the model expects, as the migrations spell it on this backend.
        expected: String,
    },
    /// The column's type cannot hold the model's field.
    WrongType {
        /// The table's SQL name.
        table: &'static str,
        /// The column's SQL name.
        column: &'static str,
        /// The type the model expects, as the migrations spell it on this backend.
        expected: String,
        /// The type the database reports.
        found: String,
    },
    /// The column accepts NULL where the field cannot hold it, or the other way round.
    WrongNullability {
        /// The table's SQL name.
        table: &'static str,
        /// The column's SQL name.
        column: &'static str,
        /// Whether the model's field is an `Option`.
        expected_nullable: bool,
    },
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaProblem::MissingTable { table } => write!(f, "{table}: missing table"),
            SchemaProblem::MissingColumn {
                table,
                column,
                expected,
            } => write!(f, "{table}.{column}: missing (expected {expected})"),
            SchemaProblem::WrongType {
                table,
                column,
                expected,
                found,
            } => write!(f, "{table}.{column}: type is {found}, expected {expected}"),
            SchemaProblem::WrongNullability {
                table,
                column,
                expected_nullable: true,
            } => write!(
                f,
                "{table}.{column}: is NOT NULL, but the field is an Option"
            ),
            SchemaProblem::WrongNullability { table, column, .. } => {
                write!(
                    f,
                    "{table}.{column}: accepts NULL, but the field is not an Option"
                )
            }
        }
    }
}

/// A column as the live database describes it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct LiveColumn {
    /// The column's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Its type, as the database spells it (lowercased where the database keeps case).
    #[diesel(sql_type = Text)]
    pub type_name: String,
    /// Whether it accepts NULL.
    #[diesel(sql_type = Bool)]
    pub nullable: bool,
}

/// A connection that can describe a table's columns: one per enabled backend.
pub trait IntrospectSchema: Connection {
    /// The backend's dialect, to spell expected types in messages.
    const DIALECT: Dialect;

    /// The columns of `table` in the connection's current schema or database, in order; empty if
    /// there is no such table.
    fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>>;
}

#[cfg(feature = "sqlite")]
impl IntrospectSchema for diesel::sqlite::SqliteConnection {
    const DIALECT: Dialect = Dialect::Sqlite;

    fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>> {
        // SQLite lets a primary key column hold NULL unless it says NOT NULL, so "notnull" is
        // the truth for nullability.
        diesel::sql_query(
            "SELECT name, lower(type) AS type_name, \"notnull\" = 0 AS nullable \
             FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(table)
        .load(self)
    }
}

#[cfg(feature = "postgres")]
impl IntrospectSchema for diesel::pg::PgConnection {
    const DIALECT: Dialect = Dialect::Postgres;

    fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>> {
        diesel::sql_query(
            "SELECT column_name::text AS name, \
                    (CASE WHEN data_type = 'USER-DEFINED' THEN udt_name \
                          WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL THEN 'numeric(' || numeric_precision \
                              || ',' || numeric_scale || ')' \
                          ELSE data_type END)::text AS type_name, \
                    is_nullable = 'YES' AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(self)
    }
}

#[cfg(feature = "mysql")]
impl IntrospectSchema for diesel::mysql::MysqlConnection {
    const DIALECT: Dialect = Dialect::Mysql;

    fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>> {
        diesel::sql_query(
            "SELECT CAST(column_name AS CHAR) AS name, \
                    CAST(lower(column_type) AS CHAR) AS type_name, \
                    is_nullable = 'YES' AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? \
             ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(self)
    }
}

/// Every problem of one table.
fn compare_table(dialect: Dialect, table: &Table, live: &[LiveColumn]) -> Vec<SchemaProblem> {
    if live.is_empty() {
        return vec![SchemaProblem::MissingTable { table: table.name }];
    }
    table
        .columns
        .iter()
        .filter_map(|column| {
            let is_key =
                column.unique || column.indexed || table.primary_key.contains(&column.name);
            let expected = dialect.type_name(column, is_key);
            let Some(found) = live.iter().find(|live| live.name == column.name) else {
                return Some(SchemaProblem::MissingColumn {
                    table: table.name,
                    column: column.name,
                    expected,
                });
            };
            if !dialect.holds(column, &found.type_name) {
                Some(SchemaProblem::WrongType {
                    table: table.name,
                    column: column.name,
                    expected,
                    found: found.type_name.clone(),
                })
            } else if found.nullable != column.nullable {
                Some(SchemaProblem::WrongNullability {
                    table: table.name,
                    column: column.name,
                    expected_nullable: column.nullable,
                })
            } else {
                None
            }
        })
        .collect()
}

impl Dialect {
    /// Whether a live column of type `found` can hold `column`'s field: the type the migrations
    /// write, or another spelling of the same thing (`VARCHAR` for `TEXT`, `INT4` for
    /// `INTEGER`, …).
    fn holds(self, column: &Column, found: &str) -> bool {
        use ColumnType as T;
        let found = found.trim().to_ascii_lowercase();
        let base = found.split('(').next().unwrap_or_default().trim();
        let accepted: &[&str] = match (self, column.ty) {
            (Dialect::Postgres, T::Uuid) => &["uuid"],
            (Dialect::Mysql, T::Uuid) => return found == "binary(16)",
            (Dialect::Sqlite, T::Uuid) => &["blob", "binary"],
            (Dialect::Mysql, T::Bool) => return found == "tinyint(1)" || base == "boolean",
            (_, T::Bool) => &["boolean", "bool"],
            (_, T::Text) => &[
                "text",
                "varchar",
                "character varying",
                "char",
                "character",
                "citext",
                "tinytext",
                "mediumtext",
                "longtext",
            ],
            (_, T::SmallInt) => &["smallint", "int2"],
            (_, T::Integer) => &["integer", "int", "int4"],
            (_, T::BigInt) => &["bigint", "int8"],
            (_, T::Float) => &["real", "float", "float4"],
            (_, T::Double) => &["double precision", "double", "float8"],
            (_, T::Binary) => &[
                "bytea",
                "blob",
                "binary",
                "varbinary",
                "tinyblob",
                "mediumblob",
                "longblob",
            ],
            (_, T::Timestamp) => &["timestamp", "timestamp without time zone", "datetime"],
            (_, T::Date) => &["date"],
            (_, T::Time) => &["time", "time without time zone"],
            (Dialect::Postgres, T::Timestamptz) => &["timestamptz", "timestamp with time zone"],
            (Dialect::Sqlite, T::Timestamptz) => &["text", "timestamptz"],
            // DATETIME, not TIMESTAMP: MySQL converts a TIMESTAMP through the session time zone.
            (Dialect::Mysql, T::Timestamptz) => &["datetime"],
            // JSONB only: a `json` column reads back as text, not in JSONB's binary format.
            (Dialect::Postgres, T::Json) => &["jsonb"],
            (Dialect::Sqlite, T::Json) => &["text", "json"],
            // MariaDB's JSON is an alias of LONGTEXT with a `json_valid` CHECK.
            (Dialect::Mysql, T::Json) => &["json", "longtext"],
            // The precision and scale must match too: a narrower column rounds silently.
            (Dialect::Postgres | Dialect::Mysql, T::Numeric { precision, scale }) => {
                return numeric_spelling(&found) == Some((precision, scale));
            }
            (Dialect::Sqlite, T::Numeric { .. }) => &["text"],
            (Dialect::Mysql, T::Enum { .. }) => &["varchar", "text"],
            (_, T::Enum { .. }) => &["text", "varchar", "character varying"],
        };
        accepted.contains(&base)
    }
}

/// The precision and scale of `numeric(p,s)` or `decimal(p, s)`, as the database spells them.
fn numeric_spelling(found: &str) -> Option<(u32, u32)> {
    let arguments = found
        .strip_prefix("numeric(")
        .or_else(|| found.strip_prefix("decimal("))?
        .strip_suffix(')')?;
    let (precision, scale) = arguments.split_once(',')?;
    Some((precision.trim().parse().ok()?, scale.trim().parse().ok()?))
}
