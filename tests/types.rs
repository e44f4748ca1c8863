//! The mapped column types on every enabled backend: `DateTime<Utc>`, `serde_json::Value`,
//! `BigDecimal` with its precision and scale, `uuid::Uuid` and a `#[derive(UserEnum)]` enum
//! migrate, pass `verify_schema` and round-trip without loss; a unique custom column is a typed
//! `Conflict`.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use serde_json::{json, Value};
use users_diesel::prelude::*;
use users_diesel::verify_schema;
use users_tests::{backend_tests, dialect_of, test_cases};

#[derive(Debug, Clone, Copy, PartialEq, UserEnum)]
pub enum Plan {
    Free,
    ProMonthly,
    #[user_enum(rename = "team")]
    Business,
}

/// A type of the application's own, stored as `Text` through its own Diesel impls; the
/// one-segment `sql_type = Text` resolves as it does at the struct.
#[derive(Debug, Clone, Default, PartialEq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Handle(String);

impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for Handle
where
    DB: diesel::backend::Backend,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, DB>,
    ) -> diesel::serialize::Result {
        self.0.to_sql(out)
    }
}

impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for Handle
where
    DB: diesel::backend::Backend,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        String::from_sql(value).map(Handle)
    }
}

use diesel::sql_types::Text;

#[user_model(table = "customers")]
pub struct Customer {
    #[column(unique, max_length = 32)]
    pub username: String,
    pub seen_at: DateTime<Utc>,
    pub settings: Value,
    #[column(precision = 10, scale = 2)]
    pub balance: BigDecimal,
    pub external_id: uuid::Uuid,
    #[column(default = Plan::Free)]
    pub plan: Plan,
    #[column(sql_type = Text)]
    pub handle: Handle,
    pub maybe_seen_at: Option<DateTime<Utc>>,
    pub maybe_settings: Option<Value>,
    #[column(precision = 18, scale = 10)]
    pub maybe_balance: Option<BigDecimal>,
    #[column(unique)]
    pub maybe_external_id: Option<uuid::Uuid>,
    pub maybe_plan: Option<Plan>,
}

fn users() -> Users<Customer> {
    Users::new(UsersConfig::new([7u8; 32]).unwrap())
}

fn decimal(text: &str) -> BigDecimal {
    BigDecimal::from_str(text).unwrap()
}

/// Microseconds: what PostgreSQL and MySQL keep.
fn moment() -> DateTime<Utc> {
    (Utc.with_ymd_and_hms(2024, 5, 1, 12, 30, 45).unwrap()
        + chrono::Duration::nanoseconds(123_456_789))
    .trunc_subsecs(6)
}

fn fill(customer: &mut Customer, username: &str) {
    customer.username = username.into();
    customer.seen_at = moment();
    customer.settings =
        json!({"theme": "dark", "list": [1, 2.5, "x", null], "big": 12345678901234567890u64});
    customer.balance = decimal("12.34");
    customer.external_id = uuid::Uuid::now_v7();
    customer.plan = Plan::ProMonthly;
    customer.handle = Handle(format!("@{username}"));
    customer.maybe_seen_at = Some(moment() + chrono::Duration::days(400));
    customer.maybe_settings = Some(json!(["a", {"b": false}]));
    customer.maybe_balance = Some(decimal("12345678.1234567891"));
    customer.maybe_external_id = Some(uuid::Uuid::now_v7());
    customer.maybe_plan = Some(Plan::Business);
}

#[test_cases(backend_tests)]
mod cases {
    fn every_mapped_type_migrates_and_verifies(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<Customer>())
            .unwrap();
        verify_schema::<Customer, _>(conn).unwrap();
    }

    fn every_mapped_type_round_trips_through_the_store(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<Customer>())
            .unwrap();
        let users = users();
        let stored = users
            .register_with(conn, "ada@example.com", "correct horse battery", |c| {
                fill(c, "ada")
            })
            .unwrap();
        let found = users.get(conn, stored.id).unwrap().unwrap();
        assert_eq!(found, stored);
        assert_eq!(found.balance, decimal("12.34"));
        assert_eq!(found.balance.to_string(), "12.34");
        assert_eq!(found.seen_at, moment());
        assert_eq!(found.maybe_plan, Some(Plan::Business));

        // The optional columns hold NULL as well.
        let bare = users
            .register_with(conn, "bob@example.com", "correct horse battery", |c| {
                fill(c, "bob");
                c.maybe_seen_at = None;
                c.maybe_settings = None;
                c.maybe_balance = None;
                c.maybe_external_id = None;
                c.maybe_plan = None;
            })
            .unwrap();
        assert_eq!(users.get(conn, bare.id).unwrap().unwrap(), bare);

        // And an update writes every type back.
        let mut changed = found.clone();
        changed.balance = decimal("-0.05");
        changed.plan = Plan::Free;
        changed.settings = json!(3);
        changed.maybe_seen_at = None;
        let updated = users.update(conn, &changed).unwrap();
        assert_eq!(users.get(conn, updated.id).unwrap().unwrap(), changed);
    }

    fn plain_diesel_reads_and_filters_the_mapped_types(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<Customer>())
            .unwrap();
        let mut customer =
            Customer::from_credentials(Id::new(), "cy@example.com".into(), "h".into());
        fill(&mut customer, "cy");
        diesel::insert_into(customers::table)
            .values(customer.clone())
            .execute(conn)
            .unwrap();
        let found: Customer = customers::table
            .filter(customers::plan.eq(Plan::ProMonthly))
            .select(Customer::as_select())
            .get_result(conn)
            .unwrap();
        assert_eq!(found, customer);
    }

    fn a_value_outside_the_enum_is_refused_by_the_database(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<Customer>())
            .unwrap();
        let dialect = dialect_of(conn);
        let mut customer =
            Customer::from_credentials(Id::new(), "dee@example.com".into(), "h".into());
        fill(&mut customer, "dee");
        diesel::insert_into(customers::table)
            .values(customer.clone())
            .execute(conn)
            .unwrap();
        let result = conn.batch_execute(&format!(
            "UPDATE {} SET {} = 'platinum'",
            dialect.quote("customers"),
            dialect.quote("plan")
        ));
        assert!(
            result.is_err(),
            "the CHECK constraint should refuse 'platinum'"
        );
    }

    fn a_taken_custom_unique_value_is_a_conflict_naming_the_column(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<Customer>())
            .unwrap();
        let users = users();
        let first = users
            .register_with(conn, "eve@example.com", "correct horse battery", |c| {
                fill(c, "eve")
            })
            .unwrap();
        let error = users
            .register_with(conn, "eve2@example.com", "correct horse battery", |c| {
                fill(c, "eve")
            })
            .unwrap_err();
        assert!(
            matches!(error, UsersError::Conflict { column: "username" }),
            "{error:?}"
        );
        let error = users
            .register_with(conn, "eve3@example.com", "correct horse battery", |c| {
                fill(c, "eve3");
                c.maybe_external_id = first.maybe_external_id;
            })
            .unwrap_err();
        assert!(
            matches!(
                error,
                UsersError::Conflict {
                    column: "maybe_external_id"
                }
            ),
            "{error:?}"
        );
        let error = users
            .register_with(conn, "EVE@example.com", "correct horse battery", |c| {
                fill(c, "eve4")
            })
            .unwrap_err();
        assert!(matches!(error, UsersError::EmailTaken), "{error:?}");
        let mut second = users
            .register_with(conn, "fay@example.com", "correct horse battery", |c| {
                fill(c, "fay")
            })
            .unwrap();
        second.username = "eve".into();
        let error = users.update(conn, &second).unwrap_err();
        assert!(
            matches!(error, UsersError::Conflict { column: "username" }),
            "{error:?}"
        );
    }
}

/// SQLite has no exact decimal: the value is kept as an integer at the column's scale, never as
/// a float or as text.
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_keeps_decimals_as_scaled_integers() {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        balance_type: String,
        #[diesel(sql_type = Text)]
        balance: String,
    }
    let mut db = users_tests::sqlite();
    let conn = &mut *db;
    conn.run_pending_migrations(Migrations::new().with::<Customer>())
        .unwrap();
    users()
        .register_with(conn, "gus@example.com", "correct horse battery", |c| {
            fill(c, "gus");
            c.balance = decimal("12.34");
        })
        .unwrap();
    let stored: Stored = diesel::sql_query(
        "SELECT typeof(balance) AS balance_type, CAST(balance AS TEXT) AS balance FROM customers",
    )
    .get_result(conn)
    .unwrap();
    assert_eq!(
        (stored.balance_type.as_str(), stored.balance.as_str()),
        ("integer", "1234")
    );
}

/// MySQL's DATETIME has no zone: the column holds the UTC wall-clock time.
#[cfg(feature = "mysql")]
#[test]
fn mysql_stores_utc_wall_clock_time() {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        seen_at: String,
    }
    let mut db = users_tests::mysql();
    let conn = &mut *db;
    conn.run_pending_migrations(Migrations::new().with::<Customer>())
        .unwrap();
    users()
        .register_with(conn, "hal@example.com", "correct horse battery", |c| {
            fill(c, "hal")
        })
        .unwrap();
    let stored: Stored =
        diesel::sql_query("SELECT CAST(seen_at AS CHAR) AS seen_at FROM customers")
            .get_result(conn)
            .unwrap();
    assert_eq!(stored.seen_at, "2024-05-01 12:30:45.123456");
}

/// A model with mapped fields in a module that imports only `users_diesel::prelude::*`, as the
/// docs do: the generated code names what it needs (diesel's `AsChangeset` derive calls `eq`
/// unqualified on such fields, which read as `Iterator::eq` there until the model brought
/// `ExpressionMethods` in scope itself).
mod prelude_only {
    use users_diesel::prelude::*;

    #[user_model(table = "prelude_customers")]
    pub struct Customer {
        pub seen_at: Option<chrono::DateTime<chrono::Utc>>,
        pub settings: serde_json::Value,
        #[column(precision = 10, scale = 2)]
        pub balance: bigdecimal::BigDecimal,
        pub external_id: uuid::Uuid,
    }
}

mod beside_the_prelude {
    use super::*;

    #[test_cases(backend_tests)]
    mod cases_2 {
        fn a_model_beside_the_prelude_alone_inserts_and_updates(conn: _, db: _) {
            use prelude_only::Customer as Bare;
            conn.run_pending_migrations(Migrations::new().with::<Bare>())
                .unwrap();
            let users: Users<Bare> = Users::new(UsersConfig::new([7u8; 32]).unwrap());
            let stored = users
                .register_with(conn, "ada@example.com", "correct horse battery", |c| {
                    c.seen_at = Some(moment());
                    c.settings = json!({"theme": "dark"});
                    c.balance = decimal("12.34");
                })
                .unwrap();
            let mut changed = stored.clone();
            changed.balance = decimal("56.78");
            let updated = users.update(conn, &changed).unwrap();
            let found = users.get(conn, stored.id).unwrap().unwrap();
            assert_eq!(found, updated);
            assert_eq!(found.balance, decimal("56.78"));
            assert_eq!(found.seen_at, Some(moment()));
        }
    }
}

/// `eq`, `ne`, `eq_any`, `is_null` and `is_not_null` of `$column` over the rows named `low` and
/// `high` (holding `$low` and `$high`) and `$nulls` rows holding NULL.
macro_rules! equates {
    ($conn:ident, $column:expr, $low:expr, $high:expr, $nulls:expr) => {{
        let named = customers::table.select(customers::username);
        let eq: Vec<String> = named.filter($column.eq($low)).load($conn).unwrap();
        assert_eq!(eq, ["low"], "{} eq", stringify!($column));
        let ne: Vec<String> = named.filter($column.ne($low)).load($conn).unwrap();
        assert_eq!(ne, ["high"], "{} ne", stringify!($column));
        let any: Vec<String> = named
            .filter($column.eq_any([$low, $high]))
            .load($conn)
            .unwrap();
        assert_eq!(any.len(), 2, "{} eq_any", stringify!($column));
        let null: Vec<String> = named.filter($column.is_null()).load($conn).unwrap();
        assert_eq!(null.len(), $nulls, "{} is_null", stringify!($column));
        let set: Vec<String> = named.filter($column.is_not_null()).load($conn).unwrap();
        assert_eq!(set.len(), 2, "{} is_not_null", stringify!($column));
    }};
}

/// [`equates!`], and `gt`, `lt`, `between` and ordering, where `$low` < `$high`.
macro_rules! orders {
    ($conn:ident, $column:expr, $low:expr, $high:expr, $nulls:expr) => {{
        equates!($conn, $column, $low, $high, $nulls);
        let named = customers::table.select(customers::username);
        let gt: Vec<String> = named.filter($column.gt($low)).load($conn).unwrap();
        assert_eq!(gt, ["high"], "{} gt", stringify!($column));
        let lt: Vec<String> = named.filter($column.lt($high)).load($conn).unwrap();
        assert_eq!(lt, ["low"], "{} lt", stringify!($column));
        let between: Vec<String> = named
            .filter($column.between($low, $high))
            .order(customers::username)
            .load($conn)
            .unwrap();
        assert_eq!(between, ["high", "low"], "{} between", stringify!($column));
        let ordered: Vec<String> = named
            .filter($column.is_not_null())
            .order($column.desc())
            .load($conn)
            .unwrap();
        assert_eq!(ordered, ["high", "low"], "{} order", stringify!($column));
    }};
}

/// [`orders!`], and `max` and `min` (loaded as `$loaded`).
macro_rules! compares {
    ($conn:ident, $column:expr, $loaded:ty, $low:expr, $high:expr, $nulls:expr) => {{
        orders!($conn, $column, $low, $high, $nulls);
        let named = customers::table.select(customers::username);
        // `max` and `min` load as `$loaded`; the rows they name are the highest and lowest.
        let most: Option<$loaded> = customers::table
            .select(diesel::dsl::max($column))
            .first($conn)
            .unwrap();
        let most: Vec<String> = named.filter($column.eq(most.unwrap())).load($conn).unwrap();
        assert_eq!(most, ["high"], "{} max", stringify!($column));
        let least: Option<$loaded> = customers::table
            .select(diesel::dsl::min($column))
            .first($conn)
            .unwrap();
        let least: Vec<String> = named
            .filter($column.eq(least.unwrap()))
            .load($conn)
            .unwrap();
        assert_eq!(least, ["low"], "{} min", stringify!($column));
    }};
}

/// Comparing a mapped column in plain Diesel: Rust's coherence rules keep any crate but Diesel
/// from making `DateTime<Utc>`, `uuid::Uuid`, `BigDecimal` or `serde_json::Value` an expression
/// of a SQL type of this crate (E0119 against Diesel's blanket `AsExpression` impl), so the
/// value goes through [`Portable`], which is one on every backend.
mod compared_in_plain_diesel {
    use users_diesel::sql_types::Portable;

    use super::*;

    #[test_cases(backend_tests)]
    mod cases_3 {
        fn mapped_columns_compare_through_portable(conn: _, db: _) {
            conn.run_pending_migrations(Migrations::new().with::<Customer>())
                .unwrap();
            let users = users();
            let ada = users
                .register_with(conn, "ada@example.com", "correct horse battery", |c| {
                    fill(c, "ada")
                })
                .unwrap();
            let bob = users
                .register_with(conn, "bob@example.com", "correct horse battery", |c| {
                    fill(c, "bob");
                    c.seen_at = moment() + chrono::Duration::days(1);
                    c.balance = decimal("99.50");
                    c.maybe_seen_at = None;
                })
                .unwrap();
            let later: Vec<String> = customers::table
                .filter(customers::seen_at.gt(Portable(moment())))
                .select(customers::username)
                .load(conn)
                .unwrap();
            assert_eq!(later, ["bob"]);
            let same: Vec<String> = customers::table
                .filter(customers::external_id.eq(Portable(ada.external_id)))
                .select(customers::username)
                .load(conn)
                .unwrap();
            assert_eq!(same, ["ada"]);
            // Exact on every backend: text would compare "99.50" > "100".
            let rich: Vec<String> = customers::table
                .filter(
                    customers::balance.between(Portable(decimal("50")), Portable(decimal("100"))),
                )
                .select(customers::username)
                .load(conn)
                .unwrap();
            assert_eq!(rich, ["bob"]);
            let either: i64 = customers::table
                .filter(
                    customers::external_id
                        .eq_any([Portable(ada.external_id), Portable(bob.external_id)]),
                )
                .count()
                .get_result(conn)
                .unwrap();
            assert_eq!(either, 2);
            let never: Vec<String> = customers::table
                .filter(customers::maybe_seen_at.is_null())
                .select(customers::username)
                .load(conn)
                .unwrap();
            assert_eq!(never, ["bob"]);
            // The latest and earliest points in time, through `max` and `min`.
            let latest: Option<Portable<DateTime<Utc>>> = customers::table
                .select(diesel::dsl::max(customers::seen_at))
                .first(conn)
                .unwrap();
            assert_eq!(
                latest.map(|t| t.0),
                Some(moment() + chrono::Duration::days(1))
            );
            let earliest: Option<Portable<DateTime<Utc>>> = customers::table
                .select(diesel::dsl::min(customers::seen_at))
                .first(conn)
                .unwrap();
            assert_eq!(earliest.map(|t| t.0), Some(moment()));
            let not_ada: Vec<String> = customers::table
                .filter(customers::seen_at.ne(Portable(moment())))
                .select(customers::username)
                .load(conn)
                .unwrap();
            assert_eq!(not_ada, ["bob"]);
        }

        fn every_mapped_type_takes_every_comparison(conn: _, db: _) {
            conn.run_pending_migrations(Migrations::new().with::<Customer>())
                .unwrap();
            let users = users();
            let (early, late) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            let rows = [
                ("low", moment(), "-5.5", early, Plan::Free, json!({"a": 1})),
                (
                    "high",
                    moment() + chrono::Duration::days(1),
                    "12.25",
                    late,
                    Plan::ProMonthly,
                    json!([2]),
                ),
            ];
            for (name, at, balance, id, plan, settings) in rows.clone() {
                users
                    .register_with(
                        conn,
                        &format!("{name}@example.com"),
                        "correct horse battery",
                        |c| {
                            fill(c, name);
                            (c.seen_at, c.maybe_seen_at) = (at, Some(at));
                            (c.balance, c.maybe_balance) =
                                (decimal(balance), Some(decimal(balance)));
                            (c.external_id, c.maybe_external_id) = (id, Some(id));
                            (c.plan, c.maybe_plan) = (plan, Some(plan));
                            (c.settings, c.maybe_settings) = (settings.clone(), Some(settings));
                        },
                    )
                    .unwrap();
            }
            let (low_at, high_at) = (rows[0].1, rows[1].1);
            let (low_balance, high_balance) = (decimal(rows[0].2), decimal(rows[1].2));
            let json = |row: usize| Portable(rows[row].5.clone());

            // No NULLs yet: the required columns, then the optional ones.
            compares!(
                conn,
                customers::seen_at,
                Portable<DateTime<Utc>>,
                Portable(low_at),
                Portable(high_at),
                0
            );
            compares!(
                conn,
                customers::balance,
                Portable<BigDecimal>,
                Portable(low_balance.clone()),
                Portable(high_balance.clone()),
                0
            );
            orders!(
                conn,
                customers::external_id,
                Portable(early),
                Portable(late),
                0
            );
            compares!(conn, customers::plan, Plan, Plan::Free, Plan::ProMonthly, 0);
            equates!(conn, customers::settings, json(0), json(1), 0);
            users
                .register_with(conn, "none@example.com", "correct horse battery", |c| {
                    fill(c, "none");
                    c.maybe_seen_at = None;
                    c.maybe_balance = None;
                    c.maybe_external_id = None;
                    c.maybe_plan = None;
                    c.maybe_settings = None;
                })
                .unwrap();
            compares!(
                conn,
                customers::maybe_seen_at,
                Portable<DateTime<Utc>>,
                Portable(low_at),
                Portable(high_at),
                1
            );
            compares!(
                conn,
                customers::maybe_balance,
                Portable<BigDecimal>,
                Portable(low_balance.clone()),
                Portable(high_balance.clone()),
                1
            );
            orders!(
                conn,
                customers::maybe_external_id,
                Portable(early),
                Portable(late),
                1
            );
            compares!(
                conn,
                customers::maybe_plan,
                Plan,
                Plan::Free,
                Plan::ProMonthly,
                1
            );
            equates!(conn, customers::maybe_settings, json(0), json(1), 1);
        }
    }
}
