//! Reading the live schema: the columns and indexes of a table as the connected database
//! reports them, on every backend.

use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};
use users_derive::each_connection;

use crate::dialect::Dialect;
use crate::plan::{ColumnState, IndexState, TableState};

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

/// Each backend's dialect and its SQL for the catalog.
trait CatalogSql {
    /// The backend's dialect.
    const DIALECT: Dialect;
    /// The columns of the table bound as the one parameter.
    const COLUMNS: &'static str;
    /// The indexed columns of the table bound as the one parameter.
    const INDEXES: &'static str;
}

// The queries every backend runs the same way, with its own SQL for the catalog.
#[each_connection]
impl IntrospectSchema for Conn {
    const DIALECT: Dialect = <Conn as CatalogSql>::DIALECT;

    fn live_columns(&mut self, table: &str) -> QueryResult<Vec<LiveColumn>> {
        diesel::sql_query(<Conn as CatalogSql>::COLUMNS)
            .bind::<Text, _>(table)
            .load(self)
    }

    fn live_indexes(&mut self, table: &str) -> QueryResult<Vec<LiveIndexColumn>> {
        diesel::sql_query(<Conn as CatalogSql>::INDEXES)
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

// MariaDB reports a nullable column without a default as having the default `NULL` (unquoted; a
// default of the text 'NULL' is quoted), which is no default at all.
//
// SQLite lets a primary key column hold NULL unless it says NOT NULL, so "notnull" is the truth
// for nullability.
#[cfg(feature = "sqlite")]
impl CatalogSql for diesel::sqlite::SqliteConnection {
    const DIALECT: Dialect = Dialect::Sqlite;
    const COLUMNS: &'static str =
        "SELECT name, lower(type) AS type_name, \"notnull\" = 0 AS nullable, \
                     dflt_value IS NOT NULL AS has_default, dflt_value AS \"default\" \
              FROM pragma_table_info(?) ORDER BY cid";
    const INDEXES: &'static str =
        "SELECT il.name AS \"index\", il.\"unique\" AS \"unique\", ii.name AS \"column\" \
              FROM pragma_index_list(?) AS il JOIN pragma_index_info(il.name) AS ii \
              WHERE il.origin <> 'pk' ORDER BY il.name, ii.seqno";
}

#[cfg(feature = "postgres")]
impl CatalogSql for diesel::pg::PgConnection {
    const DIALECT: Dialect = Dialect::Postgres;
    const COLUMNS: &'static str = "SELECT column_name::text AS name, \
                     (CASE WHEN data_type IN ('USER-DEFINED', 'ARRAY') THEN udt_name \
                           WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL \
                               THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' \
                           ELSE data_type END)::text AS type_name, \
                     is_nullable = 'YES' AS nullable, \
                     column_default IS NOT NULL OR is_identity = 'YES' AS has_default, \
                     column_default::text AS \"default\" \
              FROM information_schema.columns \
              WHERE table_schema = current_schema() AND table_name = $1 \
              ORDER BY ordinal_position";
    const INDEXES: &'static str =
        "SELECT i.relname::text AS index, ix.indisunique AS unique, a.attname::text AS column \
              FROM pg_index ix \
              JOIN pg_class t ON t.oid = ix.indrelid \
              JOIN pg_class i ON i.oid = ix.indexrelid \
              JOIN pg_namespace n ON n.oid = t.relnamespace \
              JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ON true \
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
              WHERE n.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary \
              ORDER BY i.relname, k.ord";
}

#[cfg(feature = "mysql")]
impl CatalogSql for diesel::mysql::MysqlConnection {
    const DIALECT: Dialect = Dialect::Mysql;
    const COLUMNS: &'static str = "SELECT CAST(column_name AS CHAR) AS name, \
                     CAST(lower(column_type) AS CHAR) AS type_name, \
                     is_nullable = 'YES' AS nullable, \
                     (NULLIF(column_default, 'NULL') IS NOT NULL \
                         OR extra LIKE '%auto_increment%') AS has_default, \
                     CAST(NULLIF(column_default, 'NULL') AS CHAR) AS `default` \
              FROM information_schema.columns \
              WHERE table_schema = DATABASE() AND table_name = ? \
              ORDER BY ordinal_position";
    const INDEXES: &'static str =
        "SELECT CAST(index_name AS CHAR) AS `index`, non_unique = 0 AS `unique`, \
                     CAST(column_name AS CHAR) AS `column` \
              FROM information_schema.statistics \
              WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY' \
              ORDER BY index_name, seq_in_index";
}
