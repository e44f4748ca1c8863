//! Migrations generated from the models, for every enabled backend, embedded or written out as
//! `up.sql`/`down.sql` for the diesel CLI, for every version of the models.
//!
//! Each model contributes one step per state it has been in: the version of a step names the
//! state (a digest of the model's tables), so when a model changes, its new state is a pending
//! migration. An embedded step reads the live tables and makes the additive changes that carry
//! them to the model (the crate's migration plan); a written step does the same from the state
//! recorded in the directory's previous step. Changes that would need a guess are refused before
//! anything runs.
//!
//! All backend differences in DDL live in [`Dialect`].

mod files;
mod live;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{fmt, io};

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
};

pub use crate::dialect::{foreign_key_name, unique_constraint_name, Dialect};
pub use crate::plan::Refusal;
use crate::schema::{ColumnType, ModelSchema, Table};
pub use live::MigrationError;

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
                        + usize::from(matches!(c.ty, ColumnType::Numeric { .. }))
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
            // Decimals are stored exactly on SQLite since this spelling (scaled integers, no
            // longer text): a new state, so a database made before is carried forward.
            if matches!(c.ty, ColumnType::Numeric { .. }) {
                text.push_str("exact; ");
            }
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
