//! The schema the migrations make, on every enabled backend: `verify_schema` against a live
//! database, and the round trip through `up.sql`/`down.sql` files and diesel's
//! `FileBasedMigrations`.

use diesel::connection::SimpleConnection;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use users_diesel::prelude::*;
use users_diesel::{verify_schema, IntrospectSchema, SchemaError, SchemaProblem};
use users_tests::{backend_tests, dialect_of, test_cases, DescribeSchema};

#[user_model(timestamps)]
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub token_count: i32,
    #[column(unique, max_length = 32)]
    pub handle: String,
    #[column(index)]
    pub score: i64,
    pub avatar: Option<Vec<u8>>,
}

#[role_model]
pub struct Role {
    #[column(default = 0)]
    pub level: i16,
}

#[org_model]
pub struct Org {
    #[column(default = 5)]
    pub seats: i32,
}

fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Org>()
}

/// Every problem of both models, in one list.
fn problems<C: IntrospectSchema>(conn: &mut C) -> Vec<SchemaProblem> {
    let mut problems = Vec::new();
    for result in [
        verify_schema::<User, _>(conn),
        verify_schema::<Role, _>(conn),
        verify_schema::<Org, _>(conn),
    ] {
        match result {
            Ok(()) => {}
            Err(SchemaError::Mismatch(found)) => problems.extend(found),
            Err(SchemaError::Behind {
                problems: found, ..
            }) => problems.extend(found),
            Err(other) => panic!("verify_schema failed: {other}"),
        }
    }
    problems
}

/// The versions recorded in `__diesel_schema_migrations`, in order.
fn applied<DB: diesel::backend::Backend>(conn: &mut impl MigrationHarness<DB>) -> Vec<String> {
    conn.applied_migrations()
        .expect("read applied migrations")
        .into_iter()
        .map(|version| version.to_string())
        .collect()
}

#[test_cases(backend_tests)]
mod cases {
    fn migrated_database_verifies(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        assert_eq!(problems(conn), vec![]);
    }

    fn unmigrated_database_reports_every_missing_table(conn: _, db: _) {
        assert_eq!(
            problems(conn),
            vec![
                SchemaProblem::MissingTable { table: "users" },
                SchemaProblem::MissingTable { table: "roles" },
                SchemaProblem::MissingTable {
                    table: "user_roles"
                },
                SchemaProblem::MissingTable {
                    table: "role_permissions"
                },
                SchemaProblem::MissingTable { table: "orgs" },
                SchemaProblem::MissingTable {
                    table: "org_members"
                },
                SchemaProblem::MissingTable {
                    table: "org_invitations"
                },
            ]
        );
    }

    fn dropped_retyped_and_nullable_columns_are_reported_together(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let dialect = dialect_of(conn);
        let (users, roles) = (dialect.quote("users"), dialect.quote("roles"));
        let text = if dialect == users_diesel::Dialect::Mysql {
            "VARCHAR(20)"
        } else {
            "TEXT"
        };
        conn.batch_execute(&format!(
            "ALTER TABLE {users} DROP COLUMN {display_name};
             ALTER TABLE {users} DROP COLUMN {token_count};
             ALTER TABLE {users} ADD COLUMN {token_count} {text};
             ALTER TABLE {roles} DROP COLUMN {level};",
            display_name = dialect.quote("display_name"),
            token_count = dialect.quote("token_count"),
            level = dialect.quote("level"),
        ))
        .unwrap();
        let found = problems(conn);
        let expected_integer = dialect.type_name(
            &users_diesel::schema::Column::new(
                "token_count",
                users_diesel::schema::ColumnType::Integer,
            ),
            false,
        );
        let expected_text = dialect.type_name(
            &users_diesel::schema::Column::new(
                "display_name",
                users_diesel::schema::ColumnType::Text,
            ),
            false,
        );
        let expected_small = dialect.type_name(
            &users_diesel::schema::Column::new("level", users_diesel::schema::ColumnType::SmallInt),
            false,
        );
        assert_eq!(
            found,
            vec![
                SchemaProblem::MissingColumn {
                    table: "users",
                    column: "display_name",
                    expected: expected_text
                },
                SchemaProblem::WrongType {
                    table: "users",
                    column: "token_count",
                    expected: expected_integer,
                    found: text.to_lowercase(),
                },
                SchemaProblem::MissingColumn {
                    table: "roles",
                    column: "level",
                    expected: expected_small
                },
            ]
        );
        // One error, every problem in its message.
        let message = verify_schema::<User, _>(conn).unwrap_err().to_string();
        assert!(message.contains("2 problems"), "{message}");
        assert!(message.contains("users.display_name: missing"), "{message}");
        assert!(message.contains("users.token_count: type is"), "{message}");
    }

    fn nullability_differences_are_reported(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let dialect = dialect_of(conn);
        let alter = match dialect {
            users_diesel::Dialect::Postgres => {
                "ALTER TABLE users ALTER COLUMN display_name SET NOT NULL"
            }
            users_diesel::Dialect::Mysql => "ALTER TABLE users MODIFY display_name TEXT NOT NULL",
            // SQLite cannot change a column's constraints in place: replace the column.
            users_diesel::Dialect::Sqlite => {
                "ALTER TABLE users DROP COLUMN display_name; \
                 ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT ''"
            }
        };
        conn.batch_execute(alter).unwrap();
        assert_eq!(
            problems(conn),
            vec![SchemaProblem::WrongNullability {
                table: "users",
                column: "display_name",
                expected_nullable: true
            }]
        );
    }

    fn exported_migrations_make_the_same_schema_through_diesel_migrations(conn: _, db: _) {
        let dir = std::env::temp_dir().join(format!("users-migrations-{}", uuid::Uuid::now_v7()));
        let written = migrations().write_to(&dir, dialect_of(conn)).unwrap();
        assert_eq!(written.len(), 3);
        for path in &written {
            assert!(path.join("up.sql").is_file() && path.join("down.sql").is_file());
        }

        let files = FileBasedMigrations::from_path(&dir).unwrap();
        let from_files = conn.run_pending_migrations(files).unwrap().len();
        assert_eq!(from_files, 3);
        assert_eq!(problems(conn), vec![]);

        let mut embedded = fresh_db();
        embedded.run_pending_migrations(migrations()).unwrap();
        assert_eq!(conn.describe(), embedded.describe());
        assert!(!conn.describe().is_empty());
        // The same versions: the embedded migrations see the file-based ones as already run.
        assert_eq!(applied(conn), applied(&mut *embedded));
        assert!(conn
            .run_pending_migrations(migrations())
            .unwrap()
            .is_empty());

        // And the files' `down.sql` undo it all.
        let files = FileBasedMigrations::from_path(&dir).unwrap();
        conn.revert_all_migrations(files).unwrap();
        assert_eq!(conn.describe(), Vec::<String>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Writes these models' migrations for each backend into `$USERS_MIGRATIONS_OUT/<backend>`,
/// for `tests/fixtures/schema/print-schema.sh` to run through the diesel CLI.
#[test]
#[ignore = "writes fixtures; run by tests/fixtures/schema/print-schema.sh"]
fn write_migrations_for_print_schema() {
    let out = std::env::var("USERS_MIGRATIONS_OUT").expect("USERS_MIGRATIONS_OUT");
    let out = std::path::Path::new(&out);
    for (backend, dialect) in [
        ("sqlite", users_diesel::Dialect::Sqlite),
        ("postgres", users_diesel::Dialect::Postgres),
        ("mysql", users_diesel::Dialect::Mysql),
    ] {
        migrations().write_to(out.join(backend), dialect).unwrap();
    }
}
