//! Exact decimals: `NUMERIC(P, S)` stores, rounds, refuses, compares and orders the same values
//! on every backend, SQLite included (as an integer at the column's scale); a SQLite database
//! whose decimals an earlier users-diesel stored as text is carried forward by the usual
//! migration call, converting them exactly or refusing with nothing changed.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_diesel::sql_types::Portable;
use users_diesel::verify_schema;
use users_tests::{backend_tests, test_cases};

#[user_model(table = "wallets")]
pub struct Wallet {
    #[column(precision = 10, scale = 2)]
    pub balance: BigDecimal,
    #[column(precision = 18, scale = 6, index)]
    pub credit: Option<BigDecimal>,
}

fn users() -> Users<Wallet> {
    Users::new(UsersConfig::new([7u8; 32]).unwrap())
}

fn decimal(text: &str) -> BigDecimal {
    BigDecimal::from_str(text).unwrap()
}

fn migrations() -> Migrations {
    Migrations::new().with::<Wallet>()
}

#[test_cases(backend_tests)]
mod cases {
    fn decimals_round_half_away_from_zero_alike_on_every_backend(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = users();
        for (index, (given, stored)) in [
            ("1.005", "1.01"),
            ("-1.005", "-1.01"),
            ("2.004", "2.00"),
            ("0.125", "0.13"),
            ("-0.004", "0"), // `BigDecimal` writes any zero as "0"
            ("99999999.994", "99999999.99"),
        ]
        .into_iter()
        .enumerate()
        {
            let wallet = users
                .register_with(
                    conn,
                    &format!("w{index}@example.com"),
                    "correct horse battery",
                    |w| {
                        w.balance = decimal(given);
                        w.credit = Some(decimal(given));
                    },
                )
                .unwrap();
            let found = users.get(conn, wallet.id).unwrap().unwrap();
            assert_eq!(found.balance, decimal(stored), "{given}");
            assert_eq!(
                found.balance.to_string(),
                stored,
                "{given}: read at the scale"
            );
            // Six decimals hold the value as given.
            assert_eq!(found.credit, Some(decimal(given)), "{given}");
        }
        // Plain Diesel rounds the same way: a bound value is what the column stores.
        diesel::update(wallets::table)
            .set(wallets::balance.eq(Portable(decimal("3.335"))))
            .execute(conn)
            .unwrap();
        let all: Vec<Portable<BigDecimal>> =
            wallets::table.select(wallets::balance).load(conn).unwrap();
        assert!(all.iter().all(|b| b.0 == decimal("3.34")));
    }

    fn a_decimal_too_wide_is_refused_naming_its_column_and_nothing_is_stored(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = users();
        // Eight digits before the point in NUMERIC(10, 2); rounding up can overflow too.
        for wide in ["123456789", "-123456789.00", "99999999.995"] {
            let refused =
                users.register_with(conn, "wide@example.com", "correct horse battery", |w| {
                    w.balance = decimal(wide)
                });
            match refused {
                Err(UsersError::OutOfRange { column, reason }) => {
                    assert_eq!(column, "balance");
                    assert!(reason.contains("NUMERIC(10, 2)"), "{reason}");
                }
                other => panic!("{wide}: {other:?}"),
            }
        }
        let count: i64 = wallets::table.count().get_result(conn).unwrap();
        assert_eq!(count, 0, "nothing stored");

        let stored = users
            .register_with(conn, "ok@example.com", "correct horse battery", |w| {
                w.balance = decimal("1");
                w.credit = Some(decimal("999999999999.999999"));
            })
            .unwrap();
        let mut wider = stored.clone();
        wider.credit = Some(decimal("1000000000000"));
        assert!(matches!(
            users.update(conn, &wider),
            Err(UsersError::OutOfRange {
                column: "credit",
                ..
            })
        ));
        assert_eq!(users.get(conn, stored.id).unwrap().unwrap(), stored);

        // Plain Diesel gets Diesel's serialization error, and nothing changes either.
        let plain = diesel::update(wallets::table)
            .set(wallets::balance.eq(Portable(decimal("100000000"))))
            .execute(conn);
        assert!(
            matches!(plain, Err(diesel::result::Error::SerializationError(_))),
            "{plain:?}"
        );
        assert_eq!(users.get(conn, stored.id).unwrap().unwrap(), stored);
    }

    fn decimals_compare_and_order_numerically(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = users();
        let values = ["100.5", "-0.01", "9.99", "0", "-99999999.99", "10", "0.01"];
        for (index, value) in values.into_iter().enumerate() {
            users
                .register_with(
                    conn,
                    &format!("o{index}@example.com"),
                    "correct horse battery",
                    |w| w.balance = decimal(value),
                )
                .unwrap();
        }
        let ordered: Vec<Portable<BigDecimal>> = wallets::table
            .select(wallets::balance)
            .order(wallets::balance.asc())
            .load(conn)
            .unwrap();
        let mut expected: Vec<BigDecimal> = values.into_iter().map(decimal).collect();
        expected.sort();
        assert_eq!(
            ordered.into_iter().map(|b| b.0).collect::<Vec<_>>(),
            expected
        );

        // Text would put "100.5" below "9.99"; a bound value is rounded as the column stores
        // it (9.995 is 10.00), on every backend.
        let above: Vec<Portable<BigDecimal>> = wallets::table
            .select(wallets::balance)
            .filter(wallets::balance.gt(Portable(decimal("9.995"))))
            .order(wallets::balance.asc())
            .load(conn)
            .unwrap();
        assert_eq!(
            above.into_iter().map(|b| b.0).collect::<Vec<_>>(),
            [decimal("100.5")]
        );
        let between: i64 = wallets::table
            .filter(wallets::balance.between(Portable(decimal("-0.01")), Portable(decimal("10"))))
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(between, 5);
        let most: Option<Portable<BigDecimal>> = wallets::table
            .select(diesel::dsl::max(wallets::balance))
            .first(conn)
            .unwrap();
        assert_eq!(most.map(|b| b.0), Some(decimal("100.5")));
        let least: Option<Portable<BigDecimal>> = wallets::table
            .select(diesel::dsl::min(wallets::balance))
            .first(conn)
            .unwrap();
        assert_eq!(least.map(|b| b.0), Some(decimal("-99999999.99")));
        // Sums stay exact (on SQLite, integers at one scale).
        let doubled: Vec<Portable<BigDecimal>> = wallets::table
            .select(wallets::balance + wallets::balance)
            .filter(wallets::balance.eq(Portable(decimal("9.99"))))
            .load(conn)
            .unwrap();
        assert_eq!(doubled[0].0, decimal("19.98"));
        verify_schema::<Wallet, _>(conn).unwrap();
    }
}

/// SQLite databases whose decimals an earlier users-diesel stored as text.
#[cfg(feature = "sqlite")]
mod carried_forward {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{BigInt, Nullable, Text};

    use super::*;

    /// The `wallets` table as users-diesel wrote it before decimals were exact (the decimal
    /// text in `TEXT` columns), its step recorded as that release recorded it, and rows with
    /// the text `BigDecimal` wrote: exponents, more decimals than the scale, NULLs.
    fn earlier_release(balances: &[&str]) -> users_tests::TestDb<SqliteConnection> {
        let mut db = users_tests::sqlite();
        let step = "00000000000000users10010wallets5eb1c2d0";
        db.batch_execute(&format!(
            r#"CREATE TABLE "wallets" (
                "id" BLOB NOT NULL,
                "email" TEXT NOT NULL,
                "password_hash" TEXT NOT NULL,
                "is_active" BOOLEAN NOT NULL DEFAULT TRUE,
                "is_verified" BOOLEAN NOT NULL DEFAULT FALSE,
                "balance" TEXT NOT NULL,
                "credit" TEXT,
                PRIMARY KEY ("id"),
                CONSTRAINT "wallets_email_key" UNIQUE ("email")
            );
            CREATE INDEX "wallets_credit_idx" ON "wallets" ("credit");
            CREATE TABLE "__diesel_schema_migrations" (
                version VARCHAR(50) PRIMARY KEY NOT NULL,
                run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
            );
            INSERT INTO "__diesel_schema_migrations" (version) VALUES ('{step}');
            CREATE TABLE "__users_schema_steps" (
                version VARCHAR(50) NOT NULL PRIMARY KEY, down_sql TEXT, applied BIGINT
            );
            INSERT INTO "__users_schema_steps" VALUES ('{step}', 'DROP TABLE "wallets";', 1);"#
        ))
        .unwrap();
        let credits = ["-1E-6", "123456789012.123456", "0.0000005", "1E+3"];
        for (index, balance) in balances.iter().enumerate() {
            let credit = credits
                .get(index)
                .map_or("NULL".to_owned(), |c| format!("'{c}'"));
            db.batch_execute(&format!(
                "INSERT INTO wallets (id, email, password_hash, balance, credit) \
                 VALUES (randomblob(16), 'w{index}@example.com', 'x', '{balance}', {credit})"
            ))
            .unwrap();
        }
        db
    }

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Stored {
        #[diesel(sql_type = Text)]
        balance_type: String,
        #[diesel(sql_type = Text)]
        balance: String,
        #[diesel(sql_type = Nullable<Text>)]
        credit: Option<String>,
    }

    fn stored(conn: &mut SqliteConnection) -> Vec<Stored> {
        diesel::sql_query(
            "SELECT typeof(balance) AS balance_type, CAST(balance AS TEXT) AS balance, \
             CAST(credit AS TEXT) AS credit FROM wallets ORDER BY email",
        )
        .load(conn)
        .unwrap()
    }

    const BALANCES: [&str; 5] = ["12.34", "-0.05", "1E+2", "0.005", "-99999999.99"];

    #[test]
    fn the_usual_migration_call_converts_the_text_exactly() {
        let mut db = earlier_release(&BALANCES);
        let conn = &mut *db;
        conn.run_pending_migrations(migrations()).unwrap();

        let wallets: Vec<Wallet> = wallets::table
            .select(Wallet::as_select())
            .order(wallets::email)
            .load(conn)
            .unwrap();
        let balances: Vec<BigDecimal> = wallets.iter().map(|w| w.balance.clone()).collect();
        assert_eq!(
            balances,
            ["12.34", "-0.05", "100", "0.01", "-99999999.99"].map(decimal)
        );
        let credits: Vec<Option<BigDecimal>> = wallets.iter().map(|w| w.credit.clone()).collect();
        assert_eq!(
            credits,
            [
                Some(decimal("-0.000001")),
                Some(decimal("123456789012.123456")),
                Some(decimal("0.000001")),
                Some(decimal("1000")),
                None
            ]
        );
        assert!(stored(conn).iter().all(|s| s.balance_type == "integer"));
        // The index on the converted column is back, and the schema is the model's.
        let index: i64 = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' \
             AND name = 'wallets_credit_idx'",
        )
        .get_result::<Count>(conn)
        .unwrap()
        .n;
        assert_eq!(index, 1);
        verify_schema::<Wallet, _>(conn).unwrap();
        // Numeric order now, where the text sorted "-0.05" < "-99999999.99" < "0.01" < "100".
        let ordered: Vec<Portable<BigDecimal>> = wallets::table
            .select(wallets::balance)
            .order(wallets::balance)
            .load(conn)
            .unwrap();
        assert_eq!(
            ordered.into_iter().map(|b| b.0).collect::<Vec<_>>(),
            ["-99999999.99", "-0.05", "0.01", "12.34", "100"].map(decimal)
        );
        // The range CHECK holds for writes that bypass the model.
        assert!(
            diesel::sql_query("UPDATE wallets SET balance = 10000000000")
                .execute(conn)
                .is_err()
        );
        assert!(conn
            .run_pending_migrations(migrations())
            .unwrap()
            .is_empty());
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[test]
    fn a_value_that_does_not_fit_refuses_the_migration_and_changes_nothing() {
        let mut db = earlier_release(&["12.34", "123456789.5", "abc"]);
        let conn = &mut *db;
        let before = stored(conn);
        let error = conn.run_pending_migrations(migrations()).unwrap_err();
        let message = error.to_string();
        assert!(
            message
                .contains("wallets.balance: 2 values cannot be stored exactly as NUMERIC(10, 2)"),
            "{message}"
        );
        assert_eq!(stored(conn), before);
        assert_eq!(before[0].balance_type, "text");
        let steps: i64 = diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
            .get_result::<Count>(conn)
            .unwrap()
            .n;
        assert_eq!(steps, 1, "no step recorded");
    }

    #[test]
    fn the_conversion_reverts_to_the_decimal_text() {
        let mut db = earlier_release(&BALANCES);
        let conn = &mut *db;
        conn.run_pending_migrations(migrations()).unwrap();
        conn.revert_last_migration(migrations()).unwrap();
        let reverted = stored(conn);
        assert!(reverted.iter().all(|s| s.balance_type == "text"));
        assert_eq!(
            reverted
                .iter()
                .map(|s| s.balance.as_str())
                .collect::<Vec<_>>(),
            ["12.34", "-0.05", "100.00", "0.01", "-99999999.99"]
        );
        assert_eq!(
            reverted
                .iter()
                .map(|s| s.credit.as_deref())
                .collect::<Vec<_>>(),
            [
                Some("-0.000001"),
                Some("123456789012.123456"),
                Some("0.000001"),
                Some("1000.000000"),
                None
            ]
        );
        // Carried forward again, to the same values.
        conn.run_pending_migrations(migrations()).unwrap();
        let again: Vec<Portable<BigDecimal>> = wallets::table
            .select(wallets::balance)
            .order(wallets::email)
            .load(conn)
            .unwrap();
        assert_eq!(
            again.into_iter().map(|b| b.0).collect::<Vec<_>>(),
            ["12.34", "-0.05", "100", "0.01", "-99999999.99"].map(decimal)
        );
    }

    /// The migration files of the earlier release: what `write_to` wrote then, spelled as that
    /// release spelled the decimal columns (text) and named as it named the step.
    fn earlier_files(dir: &std::path::Path) {
        migrations()
            .write_to(dir, users_diesel::Dialect::Sqlite)
            .unwrap();
        let [step] = &std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect::<Vec<_>>()[..]
        else {
            panic!("one step")
        };
        let name = step.file_name().unwrap().to_string_lossy().into_owned();
        let (new, old) = (
            "00000000000000users10012wallets",
            "00000000000000users10010wallets",
        );
        let digest = &name["00000000000000-users1-0012-wallets-".len()..][..8];
        let (new_version, old_version) = (format!("{new}{digest}"), format!("{old}5eb1c2d0"));
        for file in ["up.sql", "down.sql"] {
            let text = std::fs::read_to_string(step.join(file)).unwrap();
            let text: Vec<String> = text
                .replace(&new_version, &old_version)
                .lines()
                .map(|line| match line {
                    l if l.starts_with("    \"balance\" INTEGER") => {
                        "    \"balance\" TEXT NOT NULL,".into()
                    }
                    l if l.starts_with("    \"credit\" INTEGER") => "    \"credit\" TEXT,".into(),
                    l if l.starts_with("-- column balance")
                        || l.starts_with("-- column credit") =>
                    {
                        l.replace("type=INTEGER", "type=TEXT")
                    }
                    l => l.to_owned(),
                })
                .collect();
            std::fs::write(step.join(file), text.join("\n") + "\n").unwrap();
        }
        let old_name = name.replace("-0012-", "-0010-").replace(digest, "5eb1c2d0");
        std::fs::rename(step, dir.join(old_name)).unwrap();
    }

    #[test]
    fn migration_files_convert_and_revert_alike() {
        use diesel_migrations::FileBasedMigrations;

        let dir = std::env::temp_dir().join(format!("users-decimals-{}", uuid::Uuid::now_v7()));
        earlier_files(&dir);
        let files = || FileBasedMigrations::from_path(&dir).unwrap();
        let mut db = users_tests::sqlite();
        let conn = &mut *db;
        conn.run_pending_migrations(files()).unwrap();
        for (index, (balance, credit)) in [("12.34", "-1E-6"), ("1E+2", "0.0000005")]
            .into_iter()
            .enumerate()
        {
            conn.batch_execute(&format!(
                "INSERT INTO wallets (id, email, password_hash, balance, credit) \
                 VALUES (randomblob(16), 'w{index}@example.com', 'x', '{balance}', '{credit}')"
            ))
            .unwrap();
        }
        assert!(stored(conn).iter().all(|s| s.balance_type == "text"));

        // Today's `write_to` adds the conversion step; the files carry the database forward.
        let written = migrations()
            .write_to(&dir, users_diesel::Dialect::Sqlite)
            .unwrap();
        assert_eq!(written.len(), 1);
        assert!(
            written[0]
                .to_string_lossy()
                .ends_with("_wallets_exact_balance_exact_credit"),
            "{written:?}"
        );
        assert_eq!(conn.run_pending_migrations(files()).unwrap().len(), 1);
        let wallets: Vec<Wallet> = wallets::table
            .select(Wallet::as_select())
            .order(wallets::email)
            .load(conn)
            .unwrap();
        assert_eq!(
            wallets
                .iter()
                .map(|w| (w.balance.clone(), w.credit.clone()))
                .collect::<Vec<_>>(),
            [
                (decimal("12.34"), Some(decimal("-0.000001"))),
                (decimal("100"), Some(decimal("0.000001")))
            ]
        );
        verify_schema::<Wallet, _>(conn).unwrap();
        // The embedded path sees nothing left to do.
        assert!(conn
            .run_pending_migrations(migrations())
            .unwrap()
            .is_empty());

        conn.revert_last_migration(files()).unwrap();
        let reverted = stored(conn);
        assert_eq!(
            reverted
                .iter()
                .map(|s| (s.balance.as_str(), s.credit.as_deref()))
                .collect::<Vec<_>>(),
            [("12.34", Some("-0.000001")), ("100.00", Some("0.000001"))]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
