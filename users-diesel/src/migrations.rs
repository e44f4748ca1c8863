//! Migrations generated from the models: one per model, for every enabled backend, embedded or
//! written out as `up.sql`/`down.sql` for the diesel CLI.
//!
//! All backend differences in DDL live in [`Dialect`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{fmt, fs, io};

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
};

use crate::schema::{Column, ColumnType, DefaultValue, ForeignKey, ModelSchema, Table};

/// The migrations of a set of models, in the order their tables depend on each other.
///
/// It is a [`MigrationSource`] for every enabled backend, so `diesel_migrations`' harness runs
/// it and records each model's migration in `__diesel_schema_migrations`; a second run applies
/// nothing, and each migration can be reverted.
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

    /// Adds the migration of model `M`. Adding the same model twice adds it once.
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

    /// The SQL of every migration for one backend, in the order they run.
    pub fn sql(&self, dialect: Dialect) -> Vec<MigrationSql> {
        self.models
            .iter()
            .map(|model| MigrationSql::new(model, dialect))
            .collect()
    }

    /// Writes every migration as `<dir>/<name>/up.sql` and `down.sql`, the layout the diesel CLI
    /// and `diesel_migrations::FileBasedMigrations` read. Returns the directories written.
    pub fn write_to(&self, dir: impl AsRef<Path>, dialect: Dialect) -> io::Result<Vec<PathBuf>> {
        self.sql(dialect)
            .into_iter()
            .map(|migration| {
                let path = dir.as_ref().join(&migration.name);
                fs::create_dir_all(&path)?;
                fs::write(path.join("up.sql"), &migration.up)?;
                fs::write(path.join("down.sql"), &migration.down)?;
                Ok(path)
            })
            .collect()
    }
}

/// One model's migration as SQL text for one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSql {
    /// The directory name, `00000000000000-users<order>-<table>_create_<table>`: it sorts before
    /// any migration the diesel CLI generates, and diesel reads the version from its first part.
    pub name: String,
    /// The version recorded in `__diesel_schema_migrations`.
    pub version: String,
    /// The statements that create the model's tables and indexes.
    pub up: String,
    /// The statements that drop them again.
    pub down: String,
}

/// Diesel keeps versions in a `VARCHAR(50)`.
const MAX_VERSION_LEN: usize = 50;

impl MigrationSql {
    fn new(model: &ModelTables, dialect: Dialect) -> Self {
        let main = model.tables.first().map_or("", |t| t.name);
        let mut prefix = format!(
            "00000000000000-users{}-{}",
            model.order,
            main.replace('_', "-")
        );
        prefix.truncate(MAX_VERSION_LEN);
        let name = format!("{prefix}_create_{main}");
        let version = prefix.replace('-', "");
        let up = model
            .tables
            .iter()
            .map(|table| dialect.create_table(table))
            .collect::<String>();
        let down = model
            .tables
            .iter()
            .rev()
            .map(|table| dialect.drop_table(table))
            .collect::<String>();
        MigrationSql {
            name,
            version,
            up,
            down,
        }
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
const MYSQL_DEFAULT_INDEXED_LENGTH: u32 = 255;

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

    fn column_definition(self, table: &Table, column: &Column) -> String {
        let is_key = column.unique || column.indexed || table.primary_key.contains(&column.name);
        let mut sql = format!(
            "{} {}",
            self.quote(column.name),
            self.type_name(column, is_key)
        );
        if !column.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = column.default {
            let _ = write!(sql, " DEFAULT {}", DefaultSql(default));
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
        .map(|value| DefaultSql(DefaultValue::Str(value)).to_string());
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

struct DefaultSql(DefaultValue);

impl fmt::Display for DefaultSql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DefaultValue::Int(value) => write!(f, "{value}"),
            DefaultValue::Float(value) => f.write_str(value),
            DefaultValue::Bool(true) => f.write_str("TRUE"),
            DefaultValue::Bool(false) => f.write_str("FALSE"),
            DefaultValue::Str(value) => write!(f, "'{}'", value.replace('\'', "''")),
        }
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// A Diesel backend the framework supports, with its dialect.
pub trait SupportedBackend: Backend {
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
            .sql(DB::DIALECT)
            .into_iter()
            .map(|migration| Box::new(migration) as Box<dyn Migration<DB>>)
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
