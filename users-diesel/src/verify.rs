//! Runtime schema verification: does the live database hold the tables the models expect?
//!
//! The compile-time checks of `schema = …` compare a model with a `table!`; this compares it
//! with the database itself, so a migration that was never run, or a column someone dropped or
//! retyped by hand, is reported at start-up in one error rather than as a failed query later.

use std::fmt;

use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};

use crate::migrations::plan::{plan_table, ColumnState, IndexState, TableState};
use crate::migrations::Dialect;
use crate::schema::{Column, ColumnType, DefaultValue, ModelSchema, Table};

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
    let (mut problems, mut pending, mut refused) = (Vec::new(), Vec::new(), false);
    for table in M::TABLES {
        let live = conn.table_state(table.name)?;
        problems.extend(compare_table(C::DIALECT, table, live.as_ref()));
        let plan = plan_table(C::DIALECT, table, live.as_ref());
        refused |= !plan.refusals.is_empty();
        pending.extend(plan.changes.iter().map(|change| change.describe(table)));
    }
    if problems.is_empty() {
        Ok(())
    } else if refused || pending.is_empty() {
        Err(SchemaError::Mismatch(problems))
    } else {
        let model = std::any::type_name::<M>();
        Err(SchemaError::Behind {
            problems,
            pending,
            model: model.rsplit("::").next().unwrap_or(model),
        })
    }
}

/// What [`verify_schema`] found.
#[derive(Debug)]
#[non_exhaustive]
pub enum SchemaError {
    /// The database differs from the models in ways the migrations do not change; each
    /// difference is one problem.
    Mismatch(Vec<SchemaProblem>),
    /// The database is behind the models, and the migrations' pending steps bring it up to date.
    Behind {
        /// Each difference.
        problems: Vec<SchemaProblem>,
        /// What the pending steps do, e.g. `add column users.karma`.
        pending: Vec<String>,
        /// The model's type name, for the call that applies them.
        model: &'static str,
    },
    /// The database could not be asked for its schema.
    Database(diesel::result::Error),
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Mismatch(problems) => {
                write!(
                    f,
                    "the database does not match the models, and the migrations will not \
                     change it ({} problem{}; see each one):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for problem in problems {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
            SchemaError::Behind {
                problems,
                pending,
                model,
            } => {
                write!(
                    f,
                    "the database is behind the models ({} problem{}); the pending migrations \
                     fix them: apply them with \
                     `conn.run_pending_migrations(Migrations::new().with::<{model}>())` (with \
                     your other models):",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for problem in problems {
                    write!(f, "\n  - {problem}")?;
                }
                write!(f, "\npending:")?;
                for step in pending {
                    write!(f, "\n  - {step}")?;
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
            SchemaError::Mismatch(_) | SchemaError::Behind { .. } => None,
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
    /// The unique or plain index of a `#[column(unique)]` or `#[column(index)]` field is missing.
    MissingIndex {
        /// The table's SQL name.
        table: &'static str,
        /// The column's SQL name.
        column: &'static str,
        /// Whether the model wants a unique index.
        unique: bool,
    },
    /// A column the model has no field for is NOT NULL without a default: inserts will fail.
    UnknownRequiredColumn {
        /// The table's SQL name.
        table: &'static str,
        /// The column's SQL name.
        column: String,
    },
    /// The column's default differs from the field's `#[column(default = …)]`, or is missing.
    WrongDefault {
        /// The table's SQL name.
        table: &'static str,
        /// The column's SQL name.
        column: &'static str,
        /// The default the model declares, as the migrations spell it on this backend.
        expected: String,
        /// The default the database reports, if any.
        found: Option<String>,
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
            SchemaProblem::MissingIndex {
                table,
                column,
                unique,
            } => write!(
                f,
                "{table}.{column}: missing its {}index",
                if *unique { "unique " } else { "" }
            ),
            SchemaProblem::UnknownRequiredColumn { table, column } => write!(
                f,
                "{table}.{column}: not in the model, and NOT NULL without a default, so every \
                 insert fails; add the field back, or drop the column with \
                 `dropped_columns = [\"{column}\"]` in the model's attribute"
            ),
            SchemaProblem::WrongDefault {
                table,
                column,
                expected,
                found: Some(found),
            } => write!(
                f,
                "{table}.{column}: default is {found}, expected {expected}"
            ),
            SchemaProblem::WrongDefault {
                table,
                column,
                expected,
                found: None,
            } => write!(f, "{table}.{column}: has no default, expected {expected}"),
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
    /// Whether it has a default (or is filled by the database), so an insert may leave it out.
    #[diesel(sql_type = Bool)]
    pub has_default: bool,
    /// The default, as the database spells the expression (`'guest'::text` on PostgreSQL,
    /// `'guest'` elsewhere); `None` if there is none.
    #[diesel(sql_type = Nullable<Text>)]
    pub default: Option<String>,
}

/// One column of an index (other than the primary key's) as the live database describes it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct LiveIndexColumn {
    /// The index's name.
    #[diesel(sql_type = Text)]
    pub index: String,
    /// Whether the index is UNIQUE.
    #[diesel(sql_type = Bool)]
    pub unique: bool,
    /// The column, one row per column of the index, in order.
    #[diesel(sql_type = Text)]
    pub column: String,
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct MaybeText {
    #[diesel(sql_type = Nullable<Text>)]
    text: Option<String>,
}

/// A connection that can describe its tables: one per enabled backend.
pub trait IntrospectSchema: Connection + 'static {
    /// The backend's dialect, to spell expected types in messages.
    const DIALECT: Dialect;

    /// The columns of `table` in the connection's current schema or database, in order; empty if
    /// there is no such table.
    fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>>;

    /// The columns of `table`'s indexes other than the primary key's, index by index.
    fn live_indexes(&mut self, table: &str) -> QueryResult<Vec<LiveIndexColumn>>;

    /// The value of a query that selects one `BIGINT` named `n`.
    #[doc(hidden)]
    fn query_number(&mut self, sql: &str) -> QueryResult<i64>;

    /// The values of a query that selects one nullable text named `text`, with text binds.
    #[doc(hidden)]
    fn query_texts(
        &mut self,
        sql: &str,
        binds: &[Option<&str>],
    ) -> QueryResult<Vec<Option<String>>>;

    /// Runs one statement with text binds.
    #[doc(hidden)]
    fn execute_binds(&mut self, sql: &str, binds: &[Option<&str>]) -> QueryResult<usize>;

    /// `table` as it stands, or `None` if there is no such table.
    fn table_state(&mut self, table: &str) -> QueryResult<Option<TableState>> {
        let columns = self.live_columns(table)?;
        if columns.is_empty() {
            return Ok(None);
        }
        let mut indexes: Vec<IndexState> = Vec::new();
        for row in self.live_indexes(table)? {
            match indexes.last_mut() {
                Some(index) if index.name == row.index => index.columns.push(row.column),
                _ => indexes.push(IndexState {
                    name: row.index,
                    columns: vec![row.column],
                    unique: row.unique,
                }),
            }
        }
        Ok(Some(TableState {
            columns: columns
                .into_iter()
                .map(|c| ColumnState {
                    name: c.name,
                    type_name: c.type_name,
                    nullable: c.nullable,
                    has_default: c.has_default,
                    default: c.default,
                })
                .collect(),
            indexes,
        }))
    }
}

/// The queries every backend runs the same way, with its own SQL for the catalog.
macro_rules! introspect_schema {
    ($feature:literal, $connection:ty, $dialect:expr, columns: $columns:expr, indexes: $indexes:expr) => {
        #[cfg(feature = $feature)]
        impl IntrospectSchema for $connection {
            const DIALECT: Dialect = $dialect;

            fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>> {
                diesel::sql_query($columns)
                    .bind::<Text, _>(table)
                    .load(self)
            }

            fn live_indexes(&mut self, table: &str) -> QueryResult<Vec<LiveIndexColumn>> {
                diesel::sql_query($indexes)
                    .bind::<Text, _>(table)
                    .load(self)
            }

            fn query_number(&mut self, sql: &str) -> QueryResult<i64> {
                diesel::sql_query(sql)
                    .get_result::<Number>(self)
                    .map(|row| row.n)
            }

            fn query_texts(
                &mut self,
                sql: &str,
                binds: &[Option<&str>],
            ) -> QueryResult<Vec<Option<String>>> {
                let mut query = diesel::sql_query(sql).into_boxed();
                for bind in binds {
                    query = query.bind::<Nullable<Text>, _>(*bind);
                }
                let rows: Vec<MaybeText> = query.load(self)?;
                Ok(rows.into_iter().map(|row| row.text).collect())
            }

            fn execute_binds(&mut self, sql: &str, binds: &[Option<&str>]) -> QueryResult<usize> {
                let mut query = diesel::sql_query(sql).into_boxed();
                for bind in binds {
                    query = query.bind::<Nullable<Text>, _>(*bind);
                }
                query.execute(self)
            }
        }
    };
}

// MariaDB reports a nullable column without a default as having the default `NULL` (unquoted; a
// default of the text 'NULL' is quoted), which is no default at all.
//
// SQLite lets a primary key column hold NULL unless it says NOT NULL, so "notnull" is the truth
// for nullability.
introspect_schema!(
    "sqlite",
    diesel::sqlite::SqliteConnection,
    Dialect::Sqlite,
    columns: "SELECT name, lower(type) AS type_name, \"notnull\" = 0 AS nullable, \
                     dflt_value IS NOT NULL AS has_default, dflt_value AS \"default\" \
              FROM pragma_table_info(?) ORDER BY cid",
    indexes: "SELECT il.name AS \"index\", il.\"unique\" AS \"unique\", ii.name AS \"column\" \
              FROM pragma_index_list(?) AS il JOIN pragma_index_info(il.name) AS ii \
              WHERE il.origin <> 'pk' ORDER BY il.name, ii.seqno"
);

introspect_schema!(
    "postgres",
    diesel::pg::PgConnection,
    Dialect::Postgres,
    columns: "SELECT column_name::text AS name, \
                     (CASE WHEN data_type IN ('USER-DEFINED', 'ARRAY') THEN udt_name \
                           WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL \
                               THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' \
                           ELSE data_type END)::text AS type_name, \
                     is_nullable = 'YES' AS nullable, \
                     column_default IS NOT NULL OR is_identity = 'YES' AS has_default, \
                     column_default::text AS \"default\" \
              FROM information_schema.columns \
              WHERE table_schema = current_schema() AND table_name = $1 \
              ORDER BY ordinal_position",
    indexes: "SELECT i.relname::text AS index, ix.indisunique AS unique, a.attname::text AS column \
              FROM pg_index ix \
              JOIN pg_class t ON t.oid = ix.indrelid \
              JOIN pg_class i ON i.oid = ix.indexrelid \
              JOIN pg_namespace n ON n.oid = t.relnamespace \
              JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ON true \
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
              WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary \
              ORDER BY i.relname, k.ord"
);

introspect_schema!(
    "mysql",
    diesel::mysql::MysqlConnection,
    Dialect::Mysql,
    columns: "SELECT CAST(column_name AS CHAR) AS name, \
                     CAST(lower(column_type) AS CHAR) AS type_name, \
                     is_nullable = 'YES' AS nullable, \
                     (NULLIF(column_default, 'NULL') IS NOT NULL \
                         OR extra LIKE '%auto_increment%') AS has_default, \
                     CAST(NULLIF(column_default, 'NULL') AS CHAR) AS `default` \
              FROM information_schema.columns \
              WHERE table_schema = DATABASE() AND table_name = ? \
              ORDER BY ordinal_position",
    indexes: "SELECT CAST(index_name AS CHAR) AS `index`, non_unique = 0 AS `unique`, \
                     CAST(column_name AS CHAR) AS `column` \
              FROM information_schema.statistics \
              WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY' \
              ORDER BY index_name, seq_in_index"
);

/// Every problem of one table.
fn compare_table(dialect: Dialect, table: &Table, live: Option<&TableState>) -> Vec<SchemaProblem> {
    let Some(live) = live else {
        return vec![SchemaProblem::MissingTable { table: table.name }];
    };
    let mut problems: Vec<SchemaProblem> = table
        .columns
        .iter()
        .filter_map(|column| {
            let is_key =
                column.unique || column.indexed || table.primary_key.contains(&column.name);
            let expected = dialect.type_name(column, is_key);
            let Some(found) = live.columns.iter().find(|live| live.name == column.name) else {
                return Some(SchemaProblem::MissingColumn {
                    table: table.name,
                    column: column.name,
                    expected,
                });
            };
            let indexed = |unique: bool| {
                live.indexes.iter().any(|index| {
                    index.columns.first() == Some(&found.name)
                        && (!unique || (index.unique && index.columns.len() == 1))
                })
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
            } else if (column.unique && !indexed(true)) || (column.indexed && !indexed(false)) {
                Some(SchemaProblem::MissingIndex {
                    table: table.name,
                    column: column.name,
                    unique: column.unique,
                })
            } else {
                let default = column.default?;
                (!same_default(dialect, default, found.default.as_deref())).then(|| {
                    SchemaProblem::WrongDefault {
                        table: table.name,
                        column: column.name,
                        expected: dialect.default_sql(default),
                        found: found.default.clone(),
                    }
                })
            }
        })
        .collect();
    problems.extend(
        live.columns
            .iter()
            .filter(|found| {
                !found.nullable
                    && !found.has_default
                    && !table.columns.iter().any(|c| c.name == found.name)
            })
            .map(|found| SchemaProblem::UnknownRequiredColumn {
                table: table.name,
                column: found.name.clone(),
            }),
    );
    problems
}

/// Whether the live default expression `found` gives the model's literal default: the same
/// value, however the backend spells it (`'-1'::integer` and `-1`, `1` and `TRUE`, `'it''s'`
/// and `'it\\'s'`). A model without a default accepts any (SQLite keeps the placeholder of a
/// timestamp added to a table with rows).
fn same_default(dialect: Dialect, expected: DefaultValue, found: Option<&str>) -> bool {
    let Some(found) = found else {
        return false;
    };
    let value = default_value(dialect, found);
    match expected {
        DefaultValue::Str(text) => value == text,
        DefaultValue::Int(number) => value.parse::<i64>() == Ok(number),
        DefaultValue::Bool(flag) => match value.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => flag,
            "false" | "f" | "0" => !flag,
            _ => false,
        },
        DefaultValue::Float(literal) => match (value.parse::<f64>(), literal.parse::<f64>()) {
            // A REAL column keeps the literal to single precision.
            (Ok(found), Ok(literal)) => (found - literal).abs() <= literal.abs() * 1e-6,
            _ => false,
        },
    }
}

/// The value a default expression gives: PostgreSQL's casts (`'x'::character varying`) and
/// parentheses taken off, and a quoted literal unquoted.
fn default_value(dialect: Dialect, expression: &str) -> String {
    let mut expression = expression.trim();
    loop {
        let cast = (dialect == Dialect::Postgres)
            .then(|| outside_quotes(expression, "::"))
            .flatten();
        if let Some(cast) = cast {
            expression = expression[..cast].trim();
        } else if let Some(inner) = expression
            .strip_prefix('(')
            .and_then(|e| e.strip_suffix(')'))
        {
            expression = inner.trim();
        } else {
            break;
        }
    }
    let Some(quoted) = expression
        .strip_prefix('\'')
        .and_then(|e| e.strip_suffix('\''))
    else {
        return expression.to_owned();
    };
    let mut value = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A doubled quote; the second one is dropped.
                chars.next();
                value.push('\'');
            }
            // MySQL and MariaDB also escape with backslashes.
            '\\' if dialect == Dialect::Mysql => match chars.next() {
                Some('n') => value.push('\n'),
                Some('r') => value.push('\r'),
                Some('t') => value.push('\t'),
                Some('0') => value.push('\0'),
                Some('Z') => value.push('\u{1a}'),
                Some(other) => value.push(other),
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    value
}

/// Where `needle` first appears in `text` outside single-quoted literals.
fn outside_quotes(text: &str, needle: &str) -> Option<usize> {
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        } else if !quoted && text[at..].starts_with(needle) {
            return Some(at);
        }
    }
    None
}

impl Dialect {
    /// Whether a live column of type `found` can hold `column`'s field: the type the migrations
    /// write, or another spelling of the same thing (`VARCHAR` for `TEXT`, `INT4` for
    /// `INTEGER`, …).
    pub(crate) fn holds(self, column: &Column, found: &str) -> bool {
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
            // PostgreSQL names an array type after its element's, `_int4`; the migration files
            // spell it `INTEGER[]`.
            (Dialect::Postgres, T::Array { element }) => {
                let inner = found.strip_suffix("[]").or_else(|| found.strip_prefix('_'));
                return inner
                    .is_some_and(|inner| self.holds(&Column::new(column.name, *element), inner));
            }
            (_, T::Array { .. }) => return false,
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
