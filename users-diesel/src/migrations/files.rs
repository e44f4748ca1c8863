//! Migration files for the diesel CLI workflow: each step's `up.sql` starts with the state of
//! the model's tables after it, so the next step is planned from the directory alone, exactly
//! as the embedded migrations plan it from the live database.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::live::{forget_sql, record_sql};
use super::{Dialect, MigrationSql, ModelTables};
use crate::plan::{plan_table, ColumnState, IndexState, TableState};
use crate::schema::Table;

/// The tables of one model, by name, as a step left them.
pub type States = BTreeMap<String, TableState>;

/// What follows the type on a column's state line when the default's SQL is recorded.
const DEFAULT_SQL: &str = " default_sql=";

const HEADER: &str = "-- users-diesel state (the next step is planned from it; do not edit)";

/// `body` after the state of `tables` once it has run: the model's columns, and any column the
/// previous state had that the model neither has nor drops (it stays in the table).
pub fn with_state(tables: &[Table], dialect: Dialect, previous: &States, body: String) -> String {
    let mut sql = format!("{HEADER}\n");
    for table in tables {
        let mut state = TableState::of_model(table, dialect);
        if let Some(before) = previous.get(table.name) {
            state.columns.extend(
                before
                    .columns
                    .iter()
                    .filter(|old| {
                        !table.columns.iter().any(|c| {
                            c.name == old.name || c.renamed_from == Some(old.name.as_str())
                        }) && !table.dropped_columns.contains(&old.name.as_str())
                    })
                    .cloned(),
            );
        }
        let _ = writeln!(sql, "-- table {}", table.name);
        for c in &state.columns {
            let _ = write!(
                sql,
                "-- column {} null={} default={} type={}",
                c.name, c.nullable, c.has_default, c.type_name
            );
            // The default's SQL, so that reverting a later change restores it exactly (a
            // default that spans lines is left out; the model's stands in for it).
            match &c.default {
                Some(default) if !default.contains(['\n', '\r']) => {
                    let _ = writeln!(sql, "{DEFAULT_SQL}{default}");
                }
                _ => sql.push('\n'),
            }
        }
        for index in &state.indexes {
            let _ = writeln!(
                sql,
                "-- index {} unique={} columns={}",
                index.name,
                index.unique,
                index.columns.join(",")
            );
        }
    }
    sql.push('\n');
    sql.push_str(&body);
    sql
}

/// Reads the state at the top of an `up.sql`; `None` if it has none.
fn parse_state(up: &str) -> Option<States> {
    let mut lines = up.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut states = States::new();
    let mut current: Option<&mut TableState> = None;
    for line in lines {
        let Some(line) = line.strip_prefix("-- ") else {
            break;
        };
        let (kind, rest) = line.split_once(' ')?;
        match kind {
            "table" => current = Some(states.entry(rest.to_owned()).or_default()),
            "column" => {
                let (name, rest) = rest.split_once(' ')?;
                let (flags, type_name) = rest.split_once(" type=")?;
                let (type_name, default) = match type_name.split_once(DEFAULT_SQL) {
                    Some((type_name, default)) => (type_name, Some(default.to_owned())),
                    None => (type_name, None),
                };
                let flag = |key: &str| flags.split(' ').any(|f| f == format!("{key}=true"));
                current.as_mut()?.columns.push(ColumnState {
                    name: name.to_owned(),
                    type_name: type_name.to_owned(),
                    nullable: flag("null"),
                    has_default: flag("default"),
                    default,
                });
            }
            "index" => {
                let mut parts = rest.split(' ');
                let name = parts.next()?;
                let unique = parts.next()? == "unique=true";
                let columns = parts.next()?.strip_prefix("columns=")?;
                current.as_mut()?.indexes.push(IndexState {
                    name: name.to_owned(),
                    columns: columns.split(',').map(str::to_owned).collect(),
                    unique,
                });
            }
            _ => return None,
        }
    }
    Some(states)
}

/// The step `dir` lacks for `model`, if any.
pub fn next_step(
    dir: &Path,
    model: &ModelTables,
    dialect: Dialect,
) -> io::Result<Option<MigrationSql>> {
    let id = model.step_id();
    let mut latest = None;
    for name in &step_names(dir, model)? {
        let version = name.split('_').next().unwrap_or_default().replace('-', "");
        if version == id.version {
            return Ok(None);
        }
        if let Some(states) = recorded_state(dir, name, model)? {
            latest = Some(states);
        }
    }
    let Some(previous) = latest else {
        let create = MigrationSql::create(model, dialect);
        return Ok(Some(create));
    };
    let (mut up, mut down, mut summary, mut refusals) =
        (String::new(), Vec::new(), Vec::new(), Vec::new());
    let mut irreversibles = Vec::new();
    for table in model.tables {
        let plan = plan_table(dialect, table, previous.get(table.name));
        refusals.extend(plan.refusals.iter().map(ToString::to_string));
        for change in &plan.changes {
            up.push_str(&change.up(dialect, table));
            match change.down(dialect, table) {
                Some(sql) => down.push(sql),
                None => irreversibles.push(irreversible(dialect, &change.describe(table))),
            }
            summary.push(change.summary(table));
        }
    }
    if !refusals.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the {} migration cannot be written:\n  - {}",
                model.main_table(),
                refusals.join("\n  - ")
            ),
        ));
    }
    if summary.is_empty() {
        return Ok(None);
    }
    let what = step_what(model, &summary);
    down.reverse();
    let down = down.concat();
    // What the embedded migrations run to revert the step, if it can be reverted.
    let recorded = irreversibles.is_empty().then_some(down.as_str());
    up.push_str(&record_sql(dialect, &id.version, recorded));
    // A step that cannot be reverted fails before any statement changes anything.
    let down = format!(
        "{}{down}{}",
        irreversibles.concat(),
        forget_sql(dialect, &id.version)
    );
    Ok(Some(MigrationSql {
        name: format!("{}_{what}", id.prefix),
        version: id.version,
        up: with_state(model.tables, dialect, &previous, up),
        down,
    }))
}

/// The names of `dir`'s steps of `model`, in order.
fn step_names(dir: &Path, model: &ModelTables) -> io::Result<Vec<String>> {
    let mut steps = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with(&model.step_prefix()) {
                steps.push(name);
            }
        }
    }
    steps.sort();
    Ok(steps)
}

/// The tables' states the step `name` of `dir` records, if it records `model`'s main table; an
/// error for a creating step too old to record any.
fn recorded_state(dir: &Path, name: &str, model: &ModelTables) -> io::Result<Option<States>> {
    let up = std::fs::read_to_string(dir.join(name).join("up.sql"))?;
    match parse_state(&up) {
        Some(states) if states.contains_key(model.main_table()) => Ok(Some(states)),
        Some(_) => Ok(None),
        None if name.ends_with(&format!("_create_{}", model.main_table())) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: this step was written by an earlier users-diesel and does not record the \
                 model's state; write the migrations into a new directory, or move this one \
                 aside",
                dir.join(name).display()
            ),
        )),
        None => Ok(None),
    }
}

/// What a step's directory name says it changes: the main table and the changes' summaries,
/// `_etc` past [`MAX_WHAT_LEN`].
fn step_what(model: &ModelTables, summary: &[String]) -> String {
    let mut what = model.main_table().to_owned();
    for (i, part) in summary.iter().enumerate() {
        if i > 0 && what.len() + part.len() >= MAX_WHAT_LEN {
            what.push_str("_etc");
            break;
        }
        what = format!("{what}_{part}");
    }
    what
}

/// Directory names stay readable in a listing: the changes past this length are `_etc`.
const MAX_WHAT_LEN: usize = 60;

/// A statement that fails with a message naming what cannot be undone: the `down.sql` of a step
/// whose change destroyed data. (Selecting from a table whose name is the message works the
/// same on every backend.)
pub fn irreversible(dialect: Dialect, what: &str) -> String {
    format!(
        "SELECT * FROM {};\n",
        dialect.quote(&format!(
            "users-diesel cannot revert {what}: the dropped data is gone"
        ))
    )
}

impl MigrationSql {
    /// The step that creates a model's tables in a fresh database.
    pub(super) fn create(model: &ModelTables, dialect: Dialect) -> MigrationSql {
        let id = model.step_id();
        let tables = || model.tables.iter();
        let down: String = tables().rev().map(|t| dialect.drop_table(t)).collect();
        let mut up: String = tables().map(|t| dialect.create_table(t)).collect();
        up.push_str(&record_sql(dialect, &id.version, Some(&down)));
        MigrationSql {
            name: format!("{}_create_{}", id.prefix, model.main_table()),
            up: with_state(model.tables, dialect, &States::new(), up),
            down: format!("{down}{}", forget_sql(dialect, &id.version)),
            version: id.version,
        }
    }
}
