//! Carrying a table from the schema it has to the schema its model describes: the additive
//! changes that get there, the checks they need first, and the refusals where getting there
//! would mean guessing.
//!
//! The same planner serves the embedded migrations (the schema it has is read from the live
//! database) and the migration files (it is read from the state line of the directory's last
//! step), so both paths take the same steps.

use crate::dialect::{Dialect, MYSQL_DEFAULT_INDEXED_LENGTH};
use crate::schema::{Column, ColumnType, Table};

pub use crate::refusal::Refusal;

/// A table as it stands: in a live database, or after the last step of a migrations directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableState {
    /// The columns, in order.
    pub columns: Vec<ColumnState>,
    /// The indexes other than the primary key's.
    pub indexes: Vec<IndexState>,
}

/// One column of a [`TableState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnState {
    /// The column's name.
    pub name: String,
    /// Its SQL type, as the database (or the dialect) spells it.
    pub type_name: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Whether it has a default, so an insert may leave it out.
    pub has_default: bool,
    /// The default as an SQL expression, as the database (or the dialect) spells it, where it
    /// is known: `'guest'`, `0`, `'it''s'::text`.
    pub default: Option<String>,
}

/// One index of a [`TableState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexState {
    /// The index's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// Whether it is UNIQUE.
    pub unique: bool,
}

impl TableState {
    fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether an index on exactly `column` exists (a unique one, if `unique`), or, for a plain
    /// index, any index that starts with it.
    fn has_index(&self, column: &str, unique: bool) -> bool {
        self.indexes.iter().any(|index| {
            index.columns.first().map(String::as_str) == Some(column)
                && if unique {
                    index.unique && index.columns.len() == 1
                } else {
                    true
                }
        })
    }

    /// The state a fresh database has after the model's migration, as `dialect` spells it.
    pub fn of_model(table: &Table, dialect: Dialect) -> Self {
        let columns = table
            .columns
            .iter()
            .map(|column| ColumnState {
                name: column.name.to_owned(),
                type_name: dialect.type_name(column, is_key(table, column)),
                nullable: column.nullable,
                has_default: column.default.is_some(),
                default: column.default.map(|d| dialect.default_sql(d)),
            })
            .collect();
        let indexes = table
            .columns
            .iter()
            .filter_map(|column| {
                let (name, unique) = if column.unique {
                    (unique_index_name(table.name, column.name), true)
                } else if column.indexed {
                    (plain_index_name(table.name, column.name), false)
                } else {
                    return None;
                };
                Some(IndexState {
                    name,
                    columns: vec![column.name.to_owned()],
                    unique,
                })
            })
            .collect();
        TableState { columns, indexes }
    }
}

fn is_key(table: &Table, column: &Column) -> bool {
    column.unique || column.indexed || table.primary_key.contains(&column.name)
}

fn unique_index_name(table: &str, column: &str) -> String {
    crate::dialect::unique_constraint_name(table, column)
}

fn plain_index_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_idx")
}

/// One additive change to one table.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create the table, its indexes and (on SQLite) its foreign-key triggers.
    CreateTable,
    /// Add a column; rows that exist get its default, NULL, or the migration's time.
    AddColumn(Column),
    /// Rename a column declared `#[column(renamed_from = "…")]`, and the indexes named after it.
    RenameColumn {
        /// The old name.
        from: String,
        /// The new name.
        to: &'static str,
        /// The old and new names of indexes named after the column (PostgreSQL and MySQL;
        /// SQLite cannot rename an index).
        indexes: Vec<(String, String)>,
    },
    /// Widen a MySQL `TEXT` column to the `VARCHAR` an index needs.
    WidenToVarchar {
        /// The column, as the model describes it.
        column: Column,
        /// The type it has now.
        from: String,
        /// The default it has now (an SQL expression), which the revert restores.
        default: Option<String>,
    },
    /// Create the index of a `#[column(index)]` or `#[column(unique)]` column.
    AddIndex {
        /// The indexed column.
        column: &'static str,
        /// Whether the index is UNIQUE.
        unique: bool,
    },
    /// Let a column that was required hold NULL (the field became an `Option`).
    DropNotNull(Column),
    /// Drop a column the model declares dropped.
    DropColumn(String),
    /// On SQLite, turn the decimal text an earlier users-diesel stored into the integer at the
    /// column's scale (and back on revert), recreating the indexes on the column.
    ExactDecimal {
        /// The column, as the model describes it.
        column: Column,
        /// The indexes on it.
        indexes: Vec<IndexState>,
    },
}

/// A check of the data to run before any change, where a change would fail on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No two rows may share a non-NULL value of the column.
    Unique {
        /// The column.
        column: &'static str,
    },
    /// A column added with one value for every row can be unique only with fewer than two rows.
    UniqueWhenAdded {
        /// The column.
        column: &'static str,
    },
    /// Every value of the column must convert into `NUMERIC(precision, scale)`.
    FitsDecimal {
        /// The column.
        column: &'static str,
        /// The column's precision.
        precision: u32,
        /// The column's scale.
        scale: u32,
    },
    /// No value of the column may be longer than `length` characters.
    FitsLength {
        /// The column.
        column: &'static str,
        /// The length it is to be limited to.
        length: u32,
    },
}

/// What carrying one table forward takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TablePlan {
    /// The changes, in the order they run.
    pub changes: Vec<Change>,
    /// The checks to run on live data before any change.
    pub checks: Vec<Check>,
    /// The changes refused; when there is any, nothing runs.
    pub refusals: Vec<Refusal>,
}

/// Plans the changes that carry `table` from `before` (`None`: it does not exist) to what its
/// model describes.
pub fn plan_table(dialect: Dialect, table: &Table, before: Option<&TableState>) -> TablePlan {
    let mut plan = TablePlan::default();
    let Some(before) = before else {
        plan.changes.push(Change::CreateTable);
        return plan;
    };
    for column in table.columns {
        plan_column(dialect, table, before, column, &mut plan);
    }
    plan_removed(table, before, &mut plan);
    plan
}

/// Plans `column` of `table`'s model against the table `before`: add it, rename it, widen it
/// or index it, or refuse what would mean guessing.
fn plan_column(
    dialect: Dialect,
    table: &Table,
    before: &TableState,
    column: &Column,
    plan: &mut TablePlan,
) {
    let refuse = |plan: &mut TablePlan, refusal| plan.refusals.push(refusal);
    let renamed = column
        .renamed_from
        .and_then(|old| before.column(old).map(|found| (old, found)));
    let Some(found) = existing_column(dialect, table, before, column, plan) else {
        return;
    };
    if let Some(change) = exact_decimal(dialect, before, column, found, plan) {
        plan.changes.push(change);
    } else if !dialect.holds(column, &found.type_name) {
        refuse(
            plan,
            Refusal::TypeChanged {
                table: table.name.to_owned(),
                column: column.name.to_owned(),
                found: found.type_name.clone(),
                expected: dialect.type_name(column, is_key(table, column)),
            },
        );
        return;
    }
    match (found.nullable, column.nullable) {
        (true, false) => refuse(
            plan,
            Refusal::MadeRequired {
                table: table.name.to_owned(),
                column: column.name.to_owned(),
            },
        ),
        (false, true) if dialect == Dialect::Sqlite => refuse(
            plan,
            Refusal::NotInPlace {
                table: table.name.to_owned(),
                column: column.name.to_owned(),
                change: "the field became an `Option`, so the column must accept NULL".to_owned(),
            },
        ),
        (false, true) => plan.changes.push(Change::DropNotNull(*column)),
        _ => {}
    }
    if let Some(change) = widen_varchar(dialect, table, column, found) {
        plan.changes.push(change);
    }
    let renamed_from = renamed.map(|(old, _)| old);
    let existing = |name: &str| before.has_index(name, false);
    let unique_exists = before.has_index(column.name, true)
        || renamed_from.is_some_and(|old| before.has_index(old, true));
    let index_exists = existing(column.name) || renamed_from.is_some_and(existing);
    let missing = (column.unique && !unique_exists) || (column.indexed && !index_exists);
    if missing {
        add_indexes(dialect, column, Some(found), plan);
    }
}

/// A SQLite decimal column that still holds text (written by an earlier users-diesel): the
/// conversion to scaled integers, after a check that every value fits.
fn exact_decimal(
    dialect: Dialect,
    before: &TableState,
    column: &Column,
    found: &ColumnState,
    plan: &mut TablePlan,
) -> Option<Change> {
    let ColumnType::Numeric { precision, scale } = column.ty else {
        return None;
    };
    if dialect != Dialect::Sqlite || !found.type_name.eq_ignore_ascii_case("text") {
        return None;
    }
    plan.checks.push(Check::FitsDecimal {
        column: column.name,
        precision,
        scale,
    });
    let indexes = before
        .indexes
        .iter()
        .filter(|index| index.columns.iter().any(|c| c == found.name.as_str()))
        .cloned()
        .collect();
    Some(Change::ExactDecimal {
        column: *column,
        indexes,
    })
}

/// Plans the columns of `before` that the model no longer has: dropped where it says so,
/// refused where a required column would be left without a value.
fn plan_removed(table: &Table, before: &TableState, plan: &mut TablePlan) {
    let refuse = |plan: &mut TablePlan, refusal| plan.refusals.push(refusal);
    for old in before.columns.iter() {
        let in_model = table
            .columns
            .iter()
            .any(|c| c.name == old.name || c.renamed_from == Some(old.name.as_str()));
        if in_model {
            continue;
        }
        if table.dropped_columns.contains(&old.name.as_str()) {
            plan.changes.push(Change::DropColumn(old.name.clone()));
        } else if !old.nullable && !old.has_default {
            refuse(
                plan,
                Refusal::RemovedRequired {
                    table: table.name.to_owned(),
                    column: old.name.clone(),
                },
            );
        }
    }
}

/// The column of `before` that `column` is (its own, or the one it is renamed from, the rename
/// planned); `None` once it is planned as new, or refused.
fn existing_column<'b>(
    dialect: Dialect,
    table: &Table,
    before: &'b TableState,
    column: &Column,
    plan: &mut TablePlan,
) -> Option<&'b ColumnState> {
    let renamed = column
        .renamed_from
        .and_then(|old| before.column(old).map(|found| (old, found)));
    match (before.column(column.name), renamed) {
        (Some(_), Some((old, _))) => {
            plan.refusals.push(Refusal::RenameAmbiguous {
                table: table.name.to_owned(),
                from: old.to_owned(),
                to: column.name.to_owned(),
            });
            None
        }
        (Some(found), None) => Some(found),
        (None, Some((old, found))) => {
            plan.changes
                .push(rename(dialect, table, before, old, column.name));
            Some(found)
        }
        (None, None) => {
            if !column.nullable && column.default.is_none() && !column.backfill_now {
                plan.refusals.push(Refusal::RequiredWithoutDefault {
                    table: table.name.to_owned(),
                    column: column.name.to_owned(),
                });
            } else {
                plan.changes.push(Change::AddColumn(*column));
                add_indexes(dialect, column, None, plan);
            }
            None
        }
    }
}

/// A larger `max_length` on MySQL, whose `VARCHAR(n)` refuses longer values: the column is
/// widened. (A smaller one leaves the column as it is: it holds every value the field can.)
fn widen_varchar(
    dialect: Dialect,
    table: &Table,
    column: &Column,
    found: &ColumnState,
) -> Option<Change> {
    if dialect != Dialect::Mysql || column.ty != ColumnType::Text {
        return None;
    }
    let length = |type_name: &str| -> Option<u32> {
        type_name
            .to_ascii_lowercase()
            .strip_prefix("varchar(")?
            .strip_suffix(')')?
            .parse()
            .ok()
    };
    let wanted = length(&dialect.type_name(column, is_key(table, column)))?;
    (length(&found.type_name)? < wanted).then(|| Change::WidenToVarchar {
        column: *column,
        from: found.type_name.clone(),
        default: default_before(dialect, column, found),
    })
}

/// The default a column has before a change, to restore when the change is reverted: the one
/// the database (or the directory's state) reports, or, for a state written by an earlier
/// users-diesel that recorded only that there is one, the model's.
fn default_before(dialect: Dialect, column: &Column, found: &ColumnState) -> Option<String> {
    found.default.clone().or_else(|| {
        found
            .has_default
            .then(|| column.default.map(|d| dialect.default_sql(d)))
            .flatten()
    })
}

fn rename(
    dialect: Dialect,
    table: &Table,
    before: &TableState,
    old: &str,
    new: &'static str,
) -> Change {
    let indexes = if dialect == Dialect::Sqlite {
        Vec::new()
    } else {
        before
            .indexes
            .iter()
            .filter_map(|index| {
                [
                    (
                        unique_index_name(table.name, old),
                        unique_index_name(table.name, new),
                    ),
                    (
                        plain_index_name(table.name, old),
                        plain_index_name(table.name, new),
                    ),
                ]
                .into_iter()
                .find(|(from, _)| *from == index.name)
            })
            .collect()
    };
    Change::RenameColumn {
        from: old.to_owned(),
        to: new,
        indexes,
    }
}

/// The index a unique or indexed column needs, with what it takes first: on MySQL a `TEXT`
/// column becomes the `VARCHAR` the migrations give indexed text, if its values fit.
fn add_indexes(
    dialect: Dialect,
    column: &Column,
    found: Option<&ColumnState>,
    plan: &mut TablePlan,
) {
    if !column.unique && !column.indexed {
        return;
    }
    if let (Dialect::Mysql, ColumnType::Text, Some(found)) = (dialect, column.ty, found) {
        let wanted = dialect.type_name(column, true);
        let found_type = found.type_name.to_ascii_lowercase();
        if !found_type.eq_ignore_ascii_case(&wanted) && found_type.contains("text") {
            let length = column.max_length.unwrap_or(MYSQL_DEFAULT_INDEXED_LENGTH);
            plan.checks.push(Check::FitsLength {
                column: column.name,
                length,
            });
            plan.changes.push(Change::WidenToVarchar {
                column: *column,
                from: found.type_name.clone(),
                default: default_before(dialect, column, found),
            });
        }
    }
    let filled = !column.nullable || column.default.is_some();
    match (column.unique, found) {
        (true, Some(_)) => plan.checks.push(Check::Unique {
            column: column.name,
        }),
        (true, None) if filled => plan.checks.push(Check::UniqueWhenAdded {
            column: column.name,
        }),
        _ => {}
    }
    plan.changes.push(Change::AddIndex {
        column: column.name,
        unique: column.unique,
    });
}

impl Change {
    /// A few words for a migration's name and for messages: `add_nickname`.
    pub fn summary(&self, table: &Table) -> String {
        match self {
            Change::CreateTable => format!("create_{}", table.name),
            Change::AddColumn(column) => format!("add_{}", column.name),
            Change::RenameColumn { from, to, .. } => format!("rename_{from}_to_{to}"),
            Change::WidenToVarchar { column, .. } => format!("widen_{}", column.name),
            Change::AddIndex { column, unique } => {
                format!("{}_{column}", if *unique { "unique" } else { "index" })
            }
            Change::DropNotNull(column) => format!("nullable_{}", column.name),
            Change::DropColumn(column) => format!("drop_{column}"),
            Change::ExactDecimal { column, .. } => format!("exact_{}", column.name),
        }
    }

    /// What the change does, for messages: `add column users.karma`.
    pub fn describe(&self, table: &Table) -> String {
        let t = table.name;
        match self {
            Change::CreateTable => format!("create table {t}"),
            Change::AddColumn(column) => format!("add column {t}.{}", column.name),
            Change::RenameColumn { from, to, .. } => format!("rename column {t}.{from} to {to}"),
            Change::WidenToVarchar { column, .. } => {
                format!("make {t}.{} a VARCHAR so it can be indexed", column.name)
            }
            Change::AddIndex {
                column,
                unique: true,
            } => format!("create unique index on {t}.{column}"),
            Change::AddIndex { column, .. } => format!("create index on {t}.{column}"),
            Change::DropNotNull(column) => format!("let {t}.{} hold NULL", column.name),
            Change::DropColumn(column) => format!("drop column {t}.{column}"),
            Change::ExactDecimal { column, .. } => {
                format!("store {t}.{} as exact scaled integers", column.name)
            }
        }
    }

    /// The statements that make the change.
    pub fn up(&self, dialect: Dialect, table: &Table) -> String {
        let t = dialect.quote(table.name);
        let q = |name: &str| dialect.quote(name);
        match self {
            Change::CreateTable => dialect.create_table(table),
            Change::AddColumn(column) => add_column(dialect, table, column),
            Change::RenameColumn { from, to, indexes } => {
                let mut sql = format!("ALTER TABLE {t} RENAME COLUMN {} TO {};\n", q(from), q(to));
                for (old, new) in indexes {
                    sql.push_str(&rename_index(dialect, &t, &q(old), &q(new)));
                }
                sql
            }
            Change::WidenToVarchar { column, .. } => format!(
                "ALTER TABLE {t} MODIFY COLUMN {};\n",
                dialect.column_definition_as(column, true)
            ),
            Change::AddIndex { column, unique } => {
                let (name, kind) = if *unique {
                    (unique_index_name(table.name, column), "UNIQUE INDEX")
                } else {
                    (plain_index_name(table.name, column), "INDEX")
                };
                format!("CREATE {kind} {} ON {t} ({});\n", q(&name), q(column))
            }
            Change::DropNotNull(column) => match dialect {
                Dialect::Mysql => format!(
                    "ALTER TABLE {t} MODIFY COLUMN {};\n",
                    dialect.column_definition(table, column)
                ),
                _ => format!(
                    "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL;\n",
                    q(column.name)
                ),
            },
            Change::DropColumn(column) => format!("ALTER TABLE {t} DROP COLUMN {};\n", q(column)),
            Change::ExactDecimal { column, indexes } => {
                crate::exact::to_integers(dialect, table.name, column, indexes)
            }
        }
    }

    /// The statements that undo the change, or `None` where that cannot be known (a dropped
    /// column's data is gone).
    pub fn down(&self, dialect: Dialect, table: &Table) -> Option<String> {
        let t = dialect.quote(table.name);
        let q = |name: &str| dialect.quote(name);
        Some(match self {
            Change::CreateTable => dialect.drop_table(table),
            Change::AddColumn(column) => {
                format!("ALTER TABLE {t} DROP COLUMN {};\n", q(column.name))
            }
            Change::RenameColumn { from, to, indexes } => {
                let mut sql = String::new();
                for (old, new) in indexes {
                    sql.push_str(&rename_index(dialect, &t, &q(new), &q(old)));
                }
                sql.push_str(&format!(
                    "ALTER TABLE {t} RENAME COLUMN {} TO {};\n",
                    q(to),
                    q(from)
                ));
                sql
            }
            Change::WidenToVarchar {
                column,
                from,
                default,
            } => format!(
                "ALTER TABLE {t} MODIFY COLUMN {} {from}{}{};\n",
                q(column.name),
                if column.nullable { "" } else { " NOT NULL" },
                default
                    .as_deref()
                    .map(|d| format!(" DEFAULT {d}"))
                    .unwrap_or_default()
            ),
            Change::AddIndex { column, unique } => {
                let name = if *unique {
                    unique_index_name(table.name, column)
                } else {
                    plain_index_name(table.name, column)
                };
                match dialect {
                    Dialect::Mysql => format!("DROP INDEX {} ON {t};\n", q(&name)),
                    _ => format!("DROP INDEX {};\n", q(&name)),
                }
            }
            Change::DropNotNull(column) => match dialect {
                Dialect::Mysql => {
                    let mut required = *column;
                    required.nullable = false;
                    format!(
                        "ALTER TABLE {t} MODIFY COLUMN {};\n",
                        dialect.column_definition(table, &required)
                    )
                }
                _ => format!(
                    "ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL;\n",
                    q(column.name)
                ),
            },
            Change::DropColumn(_) => return None,
            Change::ExactDecimal { column, indexes } => {
                crate::exact::to_text(dialect, table.name, column, indexes)
            }
        })
    }
}

fn rename_index(dialect: Dialect, table: &str, from: &str, to: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("ALTER TABLE {table} RENAME INDEX {from} TO {to};\n"),
        _ => format!("ALTER INDEX {from} RENAME TO {to};\n"),
    }
}

/// `ALTER TABLE … ADD COLUMN`, filling the rows that exist. A timestamp column without a
/// literal default is added with a placeholder default, set to the migration's time, and
/// (where the backend can) left without a default again, as a fresh table has it; SQLite cannot
/// drop a default in place, so there the placeholder stays (the store always writes the column).
fn add_column(dialect: Dialect, table: &Table, column: &Column) -> String {
    let t = dialect.quote(table.name);
    let name = dialect.quote(column.name);
    let needs_fill = !column.nullable && column.default.is_none() && column.backfill_now;
    if !needs_fill {
        return format!(
            "ALTER TABLE {t} ADD COLUMN {};\n",
            dialect.column_definition(table, column)
        );
    }
    let (placeholder, now) = match dialect {
        Dialect::Sqlite => (
            "'1970-01-01 00:00:00'",
            "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        ),
        Dialect::Postgres => ("'1970-01-01 00:00:00'", "(now() AT TIME ZONE 'UTC')"),
        Dialect::Mysql => ("'1970-01-01 00:00:00'", "UTC_TIMESTAMP(6)"),
    };
    let mut sql = format!(
        "ALTER TABLE {t} ADD COLUMN {} DEFAULT {placeholder};\nUPDATE {t} SET {name} = {now};\n",
        dialect.column_definition(table, column)
    );
    if dialect != Dialect::Sqlite {
        sql.push_str(&format!(
            "ALTER TABLE {t} ALTER COLUMN {name} DROP DEFAULT;\n"
        ));
    }
    sql
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
