//! The SQL each backend speaks: types, defaults, constraints and indexes as PostgreSQL, SQLite
//! and MySQL/MariaDB write and report them, for the migrations and the schema check alike.

use std::fmt;
use std::fmt::Write as _;

use crate::schema::{Column, ColumnType, DefaultValue, ForeignKey, Table};

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
        sql.extend(scaled_decimal_check(self, column.name, column));
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
            // SQLite's floats are inexact, its integers exact: the value times 10^scale.
            (Sqlite, T::Numeric { .. }) => "INTEGER",
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

/// On SQLite, the `CHECK` that keeps a decimal column to the integers that stand for a
/// `NUMERIC(P, S)` value: `CHECK ("price" IS NULL OR (typeof("price") = 'integer' AND "price"
/// BETWEEN -9999 AND 9999))` for `NUMERIC(4, 2)`.
/// `name` is the column's (the migrations name a column they are about to rename otherwise).
pub(crate) fn scaled_decimal_check(
    dialect: Dialect,
    name: &str,
    column: &Column,
) -> Option<String> {
    let ColumnType::Numeric { precision, .. } = column.ty else {
        return None;
    };
    if dialect != Dialect::Sqlite {
        return None;
    }
    let c = dialect.quote(name);
    let most = 10i64.checked_pow(precision)? - 1;
    Some(format!(
        " CHECK ({c} IS NULL OR (typeof({c}) = 'integer' AND {c} BETWEEN -{most} AND {most}))"
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
            // A `text` column holds the decimal text an earlier users-diesel wrote: the
            // migrations convert it (plan's `ExactDecimal`).
            (Dialect::Sqlite, T::Numeric { .. }) => &["integer"],
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
