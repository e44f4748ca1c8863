//! The embedded migration of one model: it reads the live tables, plans the additive changes
//! that carry them to the model, checks the data those changes need, and runs them; what undoes
//! them is recorded beside diesel's own record, with the order the steps ran in, so the step
//! applied last can be reverted exactly.

use std::fmt;
use std::fmt::Write as _;
use std::sync::OnceLock;

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{Migration, MigrationMetadata, MigrationName, MigrationVersion};
use diesel::QueryResult;

use super::{Dialect, ModelTables, SupportedBackend};
use crate::introspect::IntrospectSchema;
use crate::plan::{plan_table, Check, Refusal, TableState};

/// Where each step records the statements that undo it, and when it ran: `version`, `down_sql`
/// (`NULL` for a step that dropped data) and `applied`, the step's place in the order the steps
/// ran (`NULL` for a step recorded by an earlier users-diesel: those ran before any numbered
/// one, in the order of diesel's `run_on`).
pub(crate) const STEPS_TABLE: &str = "__users_schema_steps";

/// diesel's own record of the migrations that ran.
const DIESEL_TABLE: &str = "__diesel_schema_migrations";

/// A model's migration to its current state.
#[derive(Debug)]
pub(super) struct ModelStep {
    model: ModelTables,
    name: String,
    version: String,
    /// The models of the [`Migrations`](super::Migrations) the step came from: a revert undoes
    /// the step of these models that ran last.
    set: Vec<ModelTables>,
    /// The version a revert undid, where that was another step than this one (which ran
    /// before it): diesel then forgets that version, not this one.
    reverted: OnceLock<String>,
}

impl ModelStep {
    pub(super) fn new(model: ModelTables, set: Vec<ModelTables>) -> Self {
        let id = model.step_id();
        ModelStep {
            name: format!("{}_{}", id.prefix, model.main_table()),
            version: id.version,
            model,
            set,
            reverted: OnceLock::new(),
        }
    }
}

/// Why a migration of the models did not run. Nothing was changed.
#[derive(Debug)]
#[non_exhaustive]
pub enum MigrationError {
    /// The database cannot be carried to the models without a guess; each refusal says what
    /// to write instead.
    Refused(Vec<Refusal>),
    /// The step dropped data, so it cannot be undone.
    Irreversible {
        /// The step's version.
        version: String,
    },
    /// The step is recorded in `__diesel_schema_migrations` but not in `__users_schema_steps`
    /// (it ran from migration files written by an earlier users-diesel), so what undoes it is
    /// not known here: its `down.sql` is.
    NotRecorded {
        /// The step's version.
        version: String,
    },
    /// The step to revert has not run on this database.
    NotApplied {
        /// The step's version.
        version: String,
    },
    /// The migration ran on a connection it cannot read the schema through.
    UnsupportedConnection,
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrationError::Refused(refusals) => {
                write!(
                    f,
                    "the database cannot be migrated to the models without a guess, so \
                     nothing was changed:"
                )?;
                for refusal in refusals {
                    write!(f, "\n  - {refusal}")?;
                }
                Ok(())
            }
            MigrationError::Irreversible { version } => write!(
                f,
                "migration {version} dropped columns, and their data is gone: it cannot be \
                 reverted"
            ),
            MigrationError::NotRecorded { version } => write!(
                f,
                "migration {version} has no record in {STEPS_TABLE} (it ran from migration \
                 files written by an earlier users-diesel), so what undoes it is known only to \
                 its down.sql: revert it from the files (`diesel migration revert`, or \
                 `revert_last_migration(FileBasedMigrations::from_path(…)?)`); nothing was \
                 changed"
            ),
            MigrationError::NotApplied { version } => write!(
                f,
                "migration {version} has not run on this database, so there is nothing of it \
                 to revert; nothing was changed"
            ),
            MigrationError::UnsupportedConnection => write!(
                f,
                "the users-diesel migrations read the live schema, so they run on a \
                 SqliteConnection, PgConnection or MysqlConnection; for a pooled connection, \
                 run them on the connection inside it \
                 (`MigrationHarness::run_pending_migrations(&mut *pooled, …)`)"
            ),
        }
    }
}

impl std::error::Error for MigrationError {}

/// What a connection must answer for the migrations: an object-safe view of
/// [`IntrospectSchema`], which a migration reaches through diesel's `BoxableConnection`.
trait Inspect {
    fn dialect(&self) -> Dialect;
    fn table_state(&mut self, table: &str) -> QueryResult<Option<TableState>>;
    fn number(&mut self, sql: &str) -> QueryResult<i64>;
    fn run(&mut self, sql: &str) -> QueryResult<()>;
    fn recorded(&mut self, version: &str) -> QueryResult<Option<Option<String>>>;
    fn record(&mut self, version: &str, down: Option<&str>) -> QueryResult<()>;
    fn forget(&mut self, version: &str) -> QueryResult<()>;
    fn applied_in_order(&mut self) -> QueryResult<Vec<String>>;
}

impl<C: IntrospectSchema> Inspect for C {
    fn dialect(&self) -> Dialect {
        C::DIALECT
    }

    fn table_state(&mut self, table: &str) -> QueryResult<Option<TableState>> {
        IntrospectSchema::table_state(self, table)
    }

    fn number(&mut self, sql: &str) -> QueryResult<i64> {
        self.query_number(sql)
    }

    fn run(&mut self, sql: &str) -> QueryResult<()> {
        self.batch_execute(sql)
    }

    fn recorded(&mut self, version: &str) -> QueryResult<Option<Option<String>>> {
        if self.live_columns(STEPS_TABLE)?.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT down_sql AS text FROM {} WHERE version = {}",
            C::DIALECT.quote(STEPS_TABLE),
            C::DIALECT.placeholder(1)
        );
        Ok(self.query_texts(&sql, &[Some(version)])?.into_iter().next())
    }

    fn record(&mut self, version: &str, down: Option<&str>) -> QueryResult<()> {
        let d = C::DIALECT;
        let steps = d.quote(STEPS_TABLE);
        self.batch_execute(&create_steps_table(d))?;
        // A table made by an earlier users-diesel is carried forward: its steps ran first.
        if !self
            .live_columns(STEPS_TABLE)?
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case("applied"))
        {
            self.batch_execute(&format!("ALTER TABLE {steps} ADD COLUMN applied BIGINT;"))?;
        }
        let sql = format!(
            "INSERT INTO {steps} (version, down_sql, applied) \
             SELECT {}, {}, COALESCE(MAX(applied), 0) + 1 FROM {steps}",
            cast_text(d, &d.placeholder(1)),
            cast_text(d, &d.placeholder(2)),
        );
        self.execute_binds(&sql, &[Some(version), down]).map(drop)
    }

    fn applied_in_order(&mut self) -> QueryResult<Vec<String>> {
        let d = C::DIALECT;
        let (steps, diesel) = (d.quote(STEPS_TABLE), d.quote(DIESEL_TABLE));
        if self.live_columns(DIESEL_TABLE)?.is_empty() {
            return Ok(Vec::new());
        }
        let numbered = self
            .live_columns(STEPS_TABLE)?
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case("applied"));
        // Steps recorded without a number (by an earlier users-diesel, or not by users-diesel
        // at all) ran before every numbered one, in the order diesel ran them.
        let sql = if numbered {
            format!(
                "SELECT m.version AS text FROM {diesel} m \
                 LEFT JOIN {steps} s ON s.version = m.version \
                 ORDER BY CASE WHEN s.applied IS NULL THEN 0 ELSE 1 END, s.applied, m.run_on, \
                 m.version"
            )
        } else {
            format!("SELECT version AS text FROM {diesel} ORDER BY run_on, version")
        };
        Ok(self.query_texts(&sql, &[])?.into_iter().flatten().collect())
    }

    fn forget(&mut self, version: &str) -> QueryResult<()> {
        let d = C::DIALECT;
        let sql = format!(
            "DELETE FROM {} WHERE version = {}",
            d.quote(STEPS_TABLE),
            d.placeholder(1)
        );
        self.execute_binds(&sql, &[Some(version)]).map(drop)
    }
}

/// The statement that creates [`STEPS_TABLE`] where it does not exist yet.
pub(super) fn create_steps_table(dialect: Dialect) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (version VARCHAR(50) NOT NULL PRIMARY KEY, \
         down_sql TEXT, applied BIGINT);\n",
        dialect.quote(STEPS_TABLE)
    )
}

/// The statements a migration file runs after its changes, so that the embedded migrations can
/// revert it too: the step's record in [`STEPS_TABLE`], with `down` (`None` for a step that
/// drops data) and its place in the order the steps ran.
pub(super) fn record_sql(dialect: Dialect, version: &str, down: Option<&str>) -> String {
    let steps = dialect.quote(STEPS_TABLE);
    let mut sql = create_steps_table(dialect);
    if dialect == Dialect::Postgres {
        // A table made by an earlier users-diesel (the embedded migrations also do this).
        sql.push_str(&format!(
            "ALTER TABLE {steps} ADD COLUMN IF NOT EXISTS applied BIGINT;\n"
        ));
    }
    let text = |value: &str| dialect.string_literal(value);
    let _ = writeln!(
        sql,
        "INSERT INTO {steps} (version, down_sql, applied) \
         SELECT {}, {}, COALESCE(MAX(applied), 0) + 1 FROM {steps};",
        text(version),
        down.map_or_else(|| "NULL".to_owned(), text)
    );
    sql
}

/// The statement a migration file's `down.sql` ends with: the step's record is forgotten.
pub(super) fn forget_sql(dialect: Dialect, version: &str) -> String {
    format!(
        "DELETE FROM {} WHERE version = {};\n",
        dialect.quote(STEPS_TABLE),
        dialect.string_literal(version)
    )
}

/// A text bind in a `SELECT` list, typed so that PostgreSQL knows what it is.
fn cast_text(dialect: Dialect, bind: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST({bind} AS TEXT)"),
        Dialect::Sqlite | Dialect::Mysql => bind.to_owned(),
    }
}

/// The connection inside diesel's `BoxableConnection`, as one the migrations can read through.
fn inspector<DB: Backend + 'static>(
    conn: &mut dyn BoxableConnection<DB>,
) -> Result<&mut dyn Inspect, MigrationError> {
    macro_rules! as_one_of {
        ($($feature:literal => $connection:ty),*) => {$(
            #[cfg(feature = $feature)]
            if conn.as_any().is::<$connection>() {
                return conn
                    .as_any_mut()
                    .downcast_mut::<$connection>()
                    .map(|conn| conn as &mut dyn Inspect)
                    .ok_or(MigrationError::UnsupportedConnection);
            }
        )*};
    }
    as_one_of!(
        "sqlite" => diesel::sqlite::SqliteConnection,
        "postgres" => diesel::pg::PgConnection,
        "mysql" => diesel::mysql::MysqlConnection
    );
    Err(MigrationError::UnsupportedConnection)
}

/// The statements that carry the live tables to the model and those that undo them (`None`
/// where a change destroys data), after every refusal and every failed check was reported.
fn plan_live(
    conn: &mut dyn Inspect,
    model: &ModelTables,
) -> Result<(String, Option<String>), Box<dyn std::error::Error + Send + Sync>> {
    let dialect = conn.dialect();
    let mut refusals = Vec::new();
    let (mut up, mut down) = (String::new(), Some(Vec::new()));
    for table in model.tables {
        let before = conn.table_state(table.name)?;
        let plan = plan_table(dialect, table, before.as_ref());
        refusals.extend(plan.refusals);
        for check in &plan.checks {
            if let Some(refusal) = run_check(conn, table.name, check)? {
                refusals.push(refusal);
            }
        }
        for change in &plan.changes {
            up.push_str(&change.up(dialect, table));
            match (change.down(dialect, table), down.as_mut()) {
                (Some(sql), Some(down)) => down.push(sql),
                _ => down = None,
            }
        }
    }
    if !refusals.is_empty() {
        return Err(Box::new(MigrationError::Refused(refusals)));
    }
    Ok((
        up,
        down.map(|mut down| {
            down.reverse();
            down.concat()
        }),
    ))
}

fn run_check(conn: &mut dyn Inspect, table: &str, check: &Check) -> QueryResult<Option<Refusal>> {
    let d = conn.dialect();
    let t = d.quote(table);
    Ok(match check {
        Check::Unique { column } => {
            let c = d.quote(column);
            let repeated = format!(
                "SELECT COUNT(*) AS n FROM {t} WHERE {c} IS NOT NULL GROUP BY {c} \
                 HAVING COUNT(*) > 1"
            );
            let values = conn.number(&format!(
                "SELECT COUNT(*) AS n FROM ({repeated}) AS repeated"
            ))?;
            if values == 0 {
                None
            } else {
                let most = conn.number(&format!(
                    "SELECT COALESCE(MAX(n), 0) AS n FROM ({repeated}) AS repeated"
                ))?;
                Some(Refusal::Duplicates {
                    table: table.to_owned(),
                    column: (*column).to_owned(),
                    values,
                    most,
                })
            }
        }
        Check::UniqueWhenAdded { column } => {
            let rows = conn.number(&format!("SELECT COUNT(*) AS n FROM {t}"))?;
            (rows > 1).then(|| Refusal::Duplicates {
                table: table.to_owned(),
                column: (*column).to_owned(),
                values: 1,
                most: rows,
            })
        }
        Check::FitsDecimal {
            column,
            precision,
            scale,
        } => {
            let values = conn.number(&crate::exact::not_fitting(
                d, table, column, *precision, *scale,
            ))?;
            (values > 0).then(|| Refusal::DoesNotFit {
                table: table.to_owned(),
                column: (*column).to_owned(),
                values,
                precision: *precision,
                scale: *scale,
            })
        }
        Check::FitsLength { column, length } => {
            let longest = conn.number(&format!(
                "SELECT CAST(COALESCE(MAX(CHAR_LENGTH({})), 0) AS SIGNED) AS n FROM {t}",
                d.quote(column)
            ))?;
            (longest > i64::from(*length)).then(|| Refusal::TooLong {
                table: table.to_owned(),
                column: (*column).to_owned(),
                longest,
                length: *length,
            })
        }
    })
}

impl<DB: SupportedBackend> Migration<DB> for ModelStep {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        let conn = inspector(conn)?;
        let (up, down) = plan_live(conn, &self.model)?;
        if !up.is_empty() {
            conn.run(&up)?;
        }
        conn.record(&self.version, down.as_deref())?;
        Ok(())
    }

    /// Reverts the step of this step's models that ran last: this one, or a step of another of
    /// the models that ran after it (diesel asks for the step of the highest version, which
    /// sorts by model, not by time). diesel then forgets the step that was reverted.
    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        let conn = inspector(conn)?;
        let applied: Vec<String> = conn
            .applied_in_order()?
            .into_iter()
            .filter(|version| self.set.iter().any(|model| model.owns_version(version)))
            .collect();
        if !applied.contains(&self.version) {
            let version = self.version.clone();
            return Err(Box::new(MigrationError::NotApplied { version }));
        }
        let Some(last) = applied.last() else {
            let version = self.version.clone();
            return Err(Box::new(MigrationError::NotApplied { version }));
        };
        let version = last.clone();
        match conn.recorded(last)? {
            None => Err(Box::new(MigrationError::NotRecorded { version })),
            Some(None) => Err(Box::new(MigrationError::Irreversible { version })),
            Some(Some(down)) => {
                if !down.is_empty() {
                    conn.run(&down)?;
                }
                conn.forget(last)?;
                if *last != self.version {
                    // Set once: diesel reverts a migration object once.
                    let _ = self.reverted.set(version);
                }
                Ok(())
            }
        }
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

impl MigrationMetadata for ModelStep {}

impl MigrationName for ModelStep {
    /// The step's version; after a revert that undid another step, that step's, so that diesel
    /// forgets the step that was undone.
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.reverted.get().unwrap_or(&self.version))
    }
}

impl fmt::Display for ModelStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
