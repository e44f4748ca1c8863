//! Migrations generated from the models, for every enabled backend, embedded or written out as
//! `up.sql`/`down.sql` for the diesel CLI, for every version of the models.
//!
//! Each model contributes one step per state it has been in: the version of a step names the
//! state (a digest of the model's tables), so when a model changes, its new state is a pending
//! migration. An embedded step reads the live tables and makes the additive changes that carry
//! them to the model ([`plan`]); a written step does the same from the state recorded in the
//! directory's previous step. Changes that would need a guess are refused before anything runs.
//!
//! All backend differences in DDL live in [`Dialect`].

mod files;
mod live;
pub mod plan;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{fmt, io};

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
};

use crate::schema::{Column, ColumnType, DefaultValue, ForeignKey, ModelSchema, Table};
pub use live::MigrationError;
pub use plan::Refusal;

/// The migrations of a set of models, in the order their tables depend on each other.
///
/// It is a [`MigrationSource`] for every enabled backend, so `diesel_migrations`' harness runs
/// it and records each model's step in `__diesel_schema_migrations`: a fresh database gets the
/// current tables in one step per model, a database made by an earlier version of the models
/// gets the additive changes that bring it up to date, and a second run applies nothing.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
///
/// #[user_model]
/// pub struct User {}
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>()).unwrap();
/// assert!(conn.run_pending_migrations(Migrations::new().with::<User>()).unwrap().is_empty());
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Migrations {
    models: Vec<ModelTables>,
}

#[derive(Debug, Clone, Copy)]
struct ModelTables {
    order: u8,
    tables: &'static [Table],
}

impl Migrations {
    /// No migrations yet; add models with [`Migrations::with`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the migrations of model `M`. Adding the same model twice adds it once.
    pub fn with<M: ModelSchema>(mut self) -> Self {
        let model = ModelTables {
            order: M::MIGRATION_ORDER,
            tables: M::TABLES,
        };
        if !self.models.iter().any(|m| m.tables == model.tables) {
            self.models.push(model);
            self.models.sort_by_key(|m| m.order);
        }
        self
    }

    /// The SQL that creates every model's tables in a fresh database, one step per model, in
    /// the order they run, under the versions of the models' current states.
    pub fn sql(&self, dialect: Dialect) -> Vec<MigrationSql> {
        self.models
            .iter()
            .map(|model| MigrationSql::create(model, dialect))
            .collect()
    }

    /// Writes the steps a migrations directory lacks, as `<dir>/<name>/up.sql` and `down.sql`,
    /// the layout the diesel CLI and `diesel_migrations::FileBasedMigrations` read: for a model
    /// the directory has never seen, the step that creates its tables; for one whose last step
    /// recorded an earlier state, the step from that state to the current one (named after
    /// what it does, e.g. `…_users_add_nickname`); nothing for a model that is up to date.
    /// Returns the directories written.
    ///
    /// A change that would need a guess (see [`Refusal`]) writes nothing and is an error of
    /// kind [`io::ErrorKind::InvalidData`] that says what to write instead.
    pub fn write_to(&self, dir: impl AsRef<Path>, dialect: Dialect) -> io::Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        let steps = self
            .models
            .iter()
            .map(|model| files::next_step(dir, model, dialect))
            .collect::<io::Result<Vec<_>>>()?;
        steps
            .into_iter()
            .flatten()
            .map(|step| step.write(dir))
            .collect()
    }
}

/// What names one state of one model: the directory prefix and the recorded version.
struct StepId {
    /// `00000000000000-users<order>-<weight>-<table>-<digest>`: it sorts before any migration
    /// the diesel CLI generates, a model's steps sort by how much their states hold (every
    /// change the migrations make adds to it), and diesel reads the version from it.
    prefix: String,
    /// The prefix without its dashes, as diesel records it.
    version: String,
}

/// Diesel keeps versions in a `VARCHAR(50)`.
const MAX_VERSION_LEN: usize = 50;

impl ModelTables {
    fn main_table(&self) -> &'static str {
        self.tables.first().map_or("", |t| t.name)
    }

    /// The start of every step directory of this model.
    fn step_prefix(&self) -> String {
        format!("00000000000000-users{}-", self.order)
    }

    fn step_id(&self) -> StepId {
        let digest = format!("{:08x}", fnv1a(describe(self.tables).as_bytes()) as u32);
        let weight = format!("{:04}", weight(self.tables));
        let prefix = format!("{}{weight}-{}-{digest}", self.step_prefix(), self.slug());
        StepId {
            version: prefix.replace('-', ""),
            prefix,
        }
    }

    /// The main table's name as step names spell it, cut so the version fits diesel's column.
    fn slug(&self) -> String {
        // The step prefix without its two dashes, a four-digit weight and an 8-digit digest.
        let fixed = self.step_prefix().len() - 2 + 4 + 8;
        let mut slug = self.main_table().replace('_', "-");
        slug.truncate(MAX_VERSION_LEN.saturating_sub(fixed));
        slug
    }

    /// Whether `version` names a state of this model (any state, not only the current one).
    fn owns_version(&self, version: &str) -> bool {
        let start = self.step_prefix().replace('-', "");
        let slug = self.slug().replace('-', "");
        let Some(rest) = version.strip_prefix(&start) else {
            return false;
        };
        let (weight, rest) = rest.split_at_checked(4).unwrap_or(("", ""));
        let Some(digest) = rest.strip_prefix(&slug) else {
            return false;
        };
        weight.len() == 4
            && weight.bytes().all(|b| b.is_ascii_digit())
            && digest.len() == 8
            && digest.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// How much a state of a model holds: each column, and each constraint, index, NULL
/// allowance, rename or drop it declares. Every change the migrations make to a model adds to
/// it, so a model's later states sort after its earlier ones.
fn weight(tables: &[Table]) -> usize {
    tables
        .iter()
        .map(|table| {
            let columns: usize = table
                .columns
                .iter()
                .map(|c| {
                    1 + usize::from(c.nullable)
                        + usize::from(c.unique)
                        + usize::from(c.indexed)
                        + usize::from(c.renamed_from.is_some())
                })
                .sum();
            columns + table.dropped_columns.len()
        })
        .sum()
}

/// Every property of a model's tables that its migrations depend on, as one line of text.
fn describe(tables: &[Table]) -> String {
    let mut text = String::new();
    for table in tables {
        let _ = write!(text, "table {} (", table.name);
        for c in table.columns {
            let _ = write!(
                text,
                "{} {:?} null={} unique={} index={} default={:?} len={:?} from={:?} now={}; ",
                c.name,
                c.ty,
                c.nullable,
                c.unique,
                c.indexed,
                c.default,
                c.max_length,
                c.renamed_from,
                c.backfill_now
            );
        }
        let _ = write!(
            text,
            ") key {:?} fk {:?} dropped {:?}; ",
            table.primary_key,
            table
                .foreign_keys
                .iter()
                .map(|fk| (fk.column, fk.references))
                .collect::<Vec<_>>(),
            table.dropped_columns
        );
    }
    text
}

/// FNV-1a: a stable digest that names a model's state (an identifier, not a security measure).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One step's migration as SQL text for one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSql {
    /// The directory name, `00000000000000-users<order>-<weight>-<table>-<digest>_<what>`: it
    /// sorts before any migration the diesel CLI generates, and diesel reads the version from
    /// its first part.
    pub name: String,
    /// The version recorded in `__diesel_schema_migrations`.
    pub version: String,
    /// The statements of the step, after a comment that records the model's state.
    pub up: String,
    /// The statements that undo them.
    pub down: String,
}

impl MigrationSql {
    fn write(&self, dir: &Path) -> io::Result<PathBuf> {
        let path = dir.join(&self.name);
        std::fs::create_dir_all(&path)?;
        std::fs::write(path.join("up.sql"), &self.up)?;
        std::fs::write(path.join("down.sql"), &self.down)?;
        Ok(path)
    }
}

/// The SQL dialect of one backend: how it spells types, quotes names and creates tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35 or later.
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
    /// MySQL 8 or MariaDB 10.5 or later.
    Mysql,
}

/// Length of `VARCHAR` used on MySQL for text that is indexed but has no `max_length`.
pub(crate) const MYSQL_DEFAULT_INDEXED_LENGTH: u32 = 255;

/// Length of the `VARCHAR` that holds an enum's value on MySQL.
const MYSQL_ENUM_LENGTH: u32 = 255;

impl Dialect {
    /// The `CREATE TABLE` statement and `CREATE INDEX` statements of one table.
    pub fn create_table(self, table: &Table) -> String {
        let mut lines: Vec<String> = table
            .columns
            .iter()
            .map(|column| self.column_definition(table, column))
            .collect();
        let primary_key = table.primary_key.iter().map(|c| self.quote(c));
        lines.push(format!("PRIMARY KEY ({})", join(primary_key)));
        for column in table.columns.iter().filter(|c| c.unique) {
            lines.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                self.quote(&unique_constraint_name(table.name, column.name)),
                self.quote(column.name)
            ));
        }
        for fk in table.foreign_keys {
            lines.push(format!(
                "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE CASCADE",
                self.quote(&foreign_key_name(table.name, fk.column)),
                self.quote(fk.column),
                self.quote(fk.references),
                self.quote("id")
            ));
        }
        let mut sql = format!(
            "CREATE TABLE {} (\n    {}\n){};\n",
            self.quote(table.name),
            lines.join(",\n    "),
            self.table_options()
        );
        for column in table.columns.iter().filter(|c| c.indexed) {
            let _ = writeln!(
                sql,
                "CREATE INDEX {} ON {} ({});",
                self.quote(&format!("{}_{}_idx", table.name, column.name)),
                self.quote(table.name),
                self.quote(column.name)
            );
        }
        if self == Dialect::Sqlite {
            for fk in table.foreign_keys {
                sql.push_str(&sqlite_foreign_key_triggers(table.name, fk));
            }
        }
        sql
    }

    /// The statements that drop a table and whatever it left on the tables it references.
    pub fn drop_table(self, table: &Table) -> String {
        let mut sql = String::new();
        if self == Dialect::Sqlite {
            for fk in table.foreign_keys {
                let trigger = format!("{}_cascade", foreign_key_name(table.name, fk.column));
                let _ = writeln!(sql, "DROP TRIGGER IF EXISTS {};", self.quote(&trigger));
            }
        }
        let _ = writeln!(sql, "DROP TABLE {};", self.quote(table.name));
        sql
    }

    /// A literal default as this backend spells it in DDL: `'it''s'`, `0`, `TRUE`.
    pub fn default_sql(self, default: DefaultValue) -> String {
        DefaultSql(default, self).to_string()
    }

    /// A string literal, quoted (and on MySQL, whose string literals also read a backslash as
    /// an escape, with its backslashes doubled).
    pub(crate) fn string_literal(self, value: &str) -> String {
        match self {
            Dialect::Mysql => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")),
            Dialect::Sqlite | Dialect::Postgres => format!("'{}'", value.replace('\'', "''")),
        }
    }

    /// The `n`th (from 1) bind parameter of a statement.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".to_owned(),
        }
    }

    /// A quoted identifier.
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    fn table_options(self) -> &'static str {
        match self {
            // A binary collation compares text exactly, as the other backends do; emails are
            // normalised before they are stored, so case folding is never the database's job.
            Dialect::Mysql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            Dialect::Sqlite | Dialect::Postgres => "",
        }
    }

    pub(crate) fn column_definition(self, table: &Table, column: &Column) -> String {
        let is_key = column.unique || column.indexed || table.primary_key.contains(&column.name);
        self.column_definition_as(column, is_key)
    }

    /// A column's definition, typed as an indexed (`is_key`) column or not.
    pub(crate) fn column_definition_as(self, column: &Column, is_key: bool) -> String {
        let mut sql = format!(
            "{} {}",
            self.quote(column.name),
            self.type_name(column, is_key)
        );
        if !column.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = column.default {
            let _ = write!(sql, " DEFAULT {}", DefaultSql(default, self));
        }
        // Last: MySQL takes a column's CHECK only after its NOT NULL and DEFAULT.
        sql.extend(enum_check(self, column));
        sql
    }

    /// The SQL type of a column on this backend.
    pub fn type_name(self, column: &Column, is_key: bool) -> String {
        use ColumnType as T;
        use Dialect::*;
        let text_length = column
            .max_length
            .or(is_key.then_some(MYSQL_DEFAULT_INDEXED_LENGTH));
        let name = match (self, column.ty) {
            (Postgres, T::Uuid) => "UUID",
            (Sqlite, T::Uuid) => "BLOB",
            (Mysql, T::Uuid) => "BINARY(16)",
            (Mysql, T::Text) => match text_length {
                Some(length) => return format!("VARCHAR({length})"),
                None => "TEXT",
            },
            (_, T::Text) => "TEXT",
            (_, T::Bool) => "BOOLEAN",
            (_, T::SmallInt) => "SMALLINT",
            (_, T::Integer) => "INTEGER",
            (_, T::BigInt) => "BIGINT",
            (Postgres, T::Float) => "REAL",
            (_, T::Float) => "FLOAT",
            (Postgres, T::Double) => "DOUBLE PRECISION",
            (_, T::Double) => "DOUBLE",
            (Postgres, T::Binary) => "BYTEA",
            (Mysql, T::Binary) => match column.max_length {
                Some(length) => return format!("VARBINARY({length})"),
                None => "BLOB",
            },
            (Sqlite, T::Binary) => "BLOB",
            (Mysql, T::Timestamp) => "DATETIME(6)",
            (_, T::Timestamp) => "TIMESTAMP",
            (_, T::Date) => "DATE",
            (Mysql, T::Time) => "TIME(6)",
            (_, T::Time) => "TIME",
            (Postgres, T::Timestamptz) => "TIMESTAMPTZ",
            (Sqlite, T::Timestamptz) => "TEXT",
            (Mysql, T::Timestamptz) => "DATETIME(6)",
            (Postgres, T::Json) => "JSONB",
            (Sqlite, T::Json) => "TEXT",
            (Mysql, T::Json) => "JSON",
            (Postgres, T::Numeric { precision, scale }) => {
                return format!("NUMERIC({precision}, {scale})")
            }
            (Mysql, T::Numeric { precision, scale }) => {
                return format!("DECIMAL({precision}, {scale})")
            }
            // SQLite's numbers are floats: the exact decimal text, never a REAL.
            (Sqlite, T::Numeric { .. }) => "TEXT",
            (Mysql, T::Enum { .. }) => return format!("VARCHAR({MYSQL_ENUM_LENGTH})"),
            // PostgreSQL only: the macros refuse an array in a build with another backend.
            (_, T::Array { element }) => {
                return format!(
                    "{}[]",
                    self.type_name(&Column::new(column.name, *element), false)
                )
            }
            (_, T::Enum { .. }) => "TEXT",
        };
        name.to_owned()
    }
}

/// The `CHECK` that keeps an enum column to its values, e.g. `CHECK ("plan" IN ('free', 'pro'))`.
fn enum_check(dialect: Dialect, column: &Column) -> Option<String> {
    let ColumnType::Enum { values } = column.ty else {
        return None;
    };
    let values = values
        .iter()
        .map(|value| DefaultSql(DefaultValue::Str(value), dialect).to_string());
    Some(format!(
        " CHECK ({} IN ({}))",
        dialect.quote(column.name),
        join(values)
    ))
}

/// The name of the UNIQUE constraint on `table.column`: PostgreSQL's own default spelling, so
/// error messages on every backend name the same constraint.
pub fn unique_constraint_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_key")
}

/// The name of the foreign key constraint on `table.column`, PostgreSQL's default spelling.
/// Errors that name it tell which referenced row was missing.
pub fn foreign_key_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_fkey")
}

/// SQLite enforces foreign keys only on connections that ran `PRAGMA foreign_keys = ON`, so
/// triggers give the same guarantees on every connection: a row cannot reference a missing row,
/// and deleting the referenced row deletes the rows that reference it.
fn sqlite_foreign_key_triggers(table: &str, fk: &ForeignKey) -> String {
    let d = Dialect::Sqlite;
    let name = foreign_key_name(table, fk.column);
    let (q_table, q_column, q_references) =
        (d.quote(table), d.quote(fk.column), d.quote(fk.references));
    format!(
        "CREATE TRIGGER {check} BEFORE INSERT ON {q_table} FOR EACH ROW \
         WHEN NOT EXISTS (SELECT 1 FROM {q_references} WHERE \"id\" = NEW.{q_column}) \
         BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: {name}'); END;\n\
         CREATE TRIGGER {cascade} AFTER DELETE ON {q_references} FOR EACH ROW \
         BEGIN DELETE FROM {q_table} WHERE {q_column} = OLD.\"id\"; END;\n",
        check = d.quote(&format!("{name}_check")),
        cascade = d.quote(&format!("{name}_cascade")),
    )
}

/// A literal default as SQL. MySQL (without `NO_BACKSLASH_ESCAPES`) also reads a backslash in a
/// string literal as an escape, so there it is doubled too.
struct DefaultSql(DefaultValue, Dialect);

impl fmt::Display for DefaultSql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DefaultValue::Int(value) => write!(f, "{value}"),
            DefaultValue::Float(value) => f.write_str(value),
            DefaultValue::Bool(true) => f.write_str("TRUE"),
            DefaultValue::Bool(false) => f.write_str("FALSE"),
            DefaultValue::Str(value) => f.write_str(&self.1.string_literal(value)),
        }
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// A Diesel backend the framework supports, with its dialect.
pub trait SupportedBackend: Backend + 'static {
    /// How this backend spells DDL.
    const DIALECT: Dialect;
}

#[cfg(feature = "sqlite")]
impl SupportedBackend for diesel::sqlite::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
}

#[cfg(feature = "postgres")]
impl SupportedBackend for diesel::pg::Pg {
    const DIALECT: Dialect = Dialect::Postgres;
}

#[cfg(feature = "mysql")]
impl SupportedBackend for diesel::mysql::Mysql {
    const DIALECT: Dialect = Dialect::Mysql;
}

impl<DB: SupportedBackend> MigrationSource<DB> for Migrations {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        Ok(self
            .models
            .iter()
            .map(|model| {
                Box::new(live::ModelStep::new(*model, self.models.clone()))
                    as Box<dyn Migration<DB>>
            })
            .collect())
    }
}

impl<DB: Backend> Migration<DB> for MigrationSql {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(&self.up)?)
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(&self.down)?)
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

impl MigrationMetadata for MigrationSql {}

impl MigrationName for MigrationSql {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(&self.version)
    }
}

impl fmt::Display for MigrationSql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
