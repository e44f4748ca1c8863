//! The embedded migration of one model: it reads the live tables, plans the additive changes
//! that carry them to the model, checks the data those changes need, and runs them; what undoes
//! them is recorded beside diesel's own record, so the step can be reverted exactly.

use std::fmt;

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{Migration, MigrationMetadata, MigrationName, MigrationVersion};
use diesel::QueryResult;

use super::plan::{plan_table, Check, Refusal, TableState};
use super::{Dialect, ModelTables, SupportedBackend};
use crate::verify::IntrospectSchema;

/// Where each embedded step records the statements that undo it.
pub(crate) const STEPS_TABLE: &str = "__users_schema_steps";

/// A model's migration to its current state.
#[derive(Debug)]
pub(super) struct ModelStep {
    model: ModelTables,
    name: String,
    version: String,
}

impl ModelStep {
    pub(super) fn new(model: ModelTables) -> Self {
        let id = model.step_id();
        ModelStep {
            name: format!("{}_{}", id.prefix, model.main_table()),
            version: id.version,
            model,
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
    /// The step is recorded in `__diesel_schema_migrations` but not by users-diesel, so what
    /// undoes it is not known.
    NotRecorded {
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
                "migration {version} has no record in {STEPS_TABLE}, so what would undo it is \
                 not known: revert it by hand"
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
        self.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} (version VARCHAR(50) NOT NULL PRIMARY KEY, \
             down_sql TEXT);",
            d.quote(STEPS_TABLE)
        ))?;
        let sql = format!(
            "INSERT INTO {} (version, down_sql) VALUES ({}, {})",
            d.quote(STEPS_TABLE),
            d.placeholder(1),
            d.placeholder(2)
        );
        self.execute_binds(&sql, &[Some(version), down]).map(drop)
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

    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        let conn = inspector(conn)?;
        let version = self.version.clone();
        match conn.recorded(&self.version)? {
            None => Err(Box::new(MigrationError::NotRecorded { version })),
            Some(None) => Err(Box::new(MigrationError::Irreversible { version })),
            Some(Some(down)) => {
                if !down.is_empty() {
                    conn.run(&down)?;
                }
                conn.forget(&self.version)?;
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
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(&self.version)
    }
}

impl fmt::Display for ModelStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
