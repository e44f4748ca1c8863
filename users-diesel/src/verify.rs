//! Runtime schema verification: does the live database hold the tables the models expect?
//!
//! The compile-time checks of `schema = …` compare a model with a `table!`; this compares it
//! with the database itself, so a migration that was never run, or a column someone dropped or
//! retyped by hand, is reported at start-up in one error rather than as a failed query later.

use std::fmt;

use crate::dialect::Dialect;
use crate::introspect::IntrospectSchema;
use crate::plan::{plan_table, TableState};
use crate::schema::{DefaultValue, ModelSchema, Table};

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
