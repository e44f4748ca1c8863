//! Reverts across releases that change different models: a revert undoes the step that ran last,
//! whichever model it belongs to, restores exactly the schema before it (defaults included), and
//! works on a database built from the migration files as on one built by the embedded path.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use users_diesel::prelude::*;
use users_diesel::{verify_schema, SchemaError, SchemaProblem};
use users_tests::{
    applied, backend_tests, dialect_of, step_of, test_cases, verify, CountRows, DescribeSchema,
};

/// The first release: defaults of every literal kind, one that needs quoting on each backend.
mod r1 {
    use super::*;

    #[user_model]
    pub struct User {
        pub display_name: Option<String>,
        #[column(default = "it's C:\\")]
        pub note: String,
        #[column(default = -1)]
        pub score: i32,
        #[column(default = true)]
        pub subscribed: bool,
        #[column(default = 1.5)]
        pub ratio: f64,
    }

    #[role_model]
    pub struct Role {}

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// The second release: the role model gains a column; the user model is unchanged.
mod r2 {
    use super::*;

    pub use super::r1::User;

    #[role_model(user = super::r1::User)]
    pub struct Role {
        #[column(default = 0)]
        pub priority: i32,
    }

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// The third release: the user model gains a column; the role model is as in release 2.
mod r3 {
    use super::*;

    pub use super::r2::Role;

    #[user_model]
    pub struct User {
        pub display_name: Option<String>,
        #[column(default = "it's C:\\")]
        pub note: String,
        #[column(default = -1)]
        pub score: i32,
        #[column(default = true)]
        pub subscribed: bool,
        #[column(default = 1.5)]
        pub ratio: f64,
        #[column(default = 0)]
        pub karma: i32,
    }

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// From release 1: `note` gets an index (on MySQL its `TEXT` becomes a `VARCHAR` first).
mod indexed {
    use super::*;

    pub use super::r1::Role;

    #[user_model]
    pub struct User {
        pub display_name: Option<String>,
        #[column(index, default = "it's C:\\")]
        pub note: String,
        #[column(default = -1)]
        pub score: i32,
        #[column(default = true)]
        pub subscribed: bool,
        #[column(default = 1.5)]
        pub ratio: f64,
    }

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// Release 1 with other defaults, for `verify_schema`.
mod other_defaults {
    use super::*;

    #[user_model]
    pub struct User {
        pub display_name: Option<String>,
        #[column(default = "it's D:\\")]
        pub note: String,
        #[column(default = 1)]
        pub score: i32,
        #[column(default = false)]
        pub subscribed: bool,
        #[column(default = 2.5)]
        pub ratio: f64,
    }
}

fn manager() -> Users<r1::User, r1::Role> {
    Users::new(UsersConfig::new([7; 32]).unwrap())
}

/// Release 1 with a row in every table: two users, a role, an assignment.
macro_rules! release_1_with_rows {
    ($conn:expr) => {{
        let conn = &mut *$conn;
        conn.run_pending_migrations(r1::migrations()).unwrap();
        let users = manager();
        let ann = users
            .register(conn, "ann@example.com", "a long password")
            .unwrap();
        users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        users.assign_role(conn, &ann, &admin).unwrap();
    }};
}

/// Every row is still there, with the values releases 2 and 3 gave them where they are.
fn assert_rows<C: CountRows>(conn: &mut C) {
    assert_eq!(conn.count_rows("users"), 2);
    assert_eq!(conn.count_rows("roles"), 1);
    assert_eq!(conn.count_rows("user_roles"), 1);
}

/// The version of one model's current step (on `conn`'s backend; it is the same on every one).
fn version_of<M: ModelSchema, C>(_: &C) -> String
where
    C: Connection,
    C::Backend: users_diesel::migrations::SupportedBackend,
{
    step_of::<M, C::Backend>().name().version().to_string()
}

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("users-releases-{}", uuid::Uuid::now_v7()))
}

#[test_cases(backend_tests)]
mod cases {
    fn a_revert_undoes_the_last_release_and_nothing_else(conn: _, db: _) {
        release_1_with_rows!(conn);
        let release_1 = conn.describe();
        conn.run_pending_migrations(r2::migrations()).unwrap();
        diesel::update(r2::roles::table)
            .set(r2::roles::priority.eq(7))
            .execute(conn)
            .unwrap();
        let release_2 = conn.describe();
        conn.run_pending_migrations(r3::migrations()).unwrap();
        diesel::update(r3::users::table)
            .set(r3::users::karma.eq(3))
            .execute(conn)
            .unwrap();
        assert_ne!(conn.describe(), release_2);

        // diesel asks for the step of the highest version, the role model's of release 2; the
        // step that ran last, the user model's of release 3, is the one reverted and forgotten.
        let reverted = conn.revert_last_migration(r3::migrations()).unwrap();
        assert_eq!(reverted.to_string(), version_of::<r3::User, _>(conn));
        assert_eq!(conn.describe(), release_2);
        verify::<r1::User, _>(conn);
        verify::<r2::Role, _>(conn);
        let priorities: Vec<i32> = r2::roles::table
            .select(r2::roles::priority)
            .load(conn)
            .unwrap();
        assert_eq!(priorities, [7], "release 2's column keeps its values");
        let versions = applied(conn);
        assert!(
            !versions.contains(&version_of::<r3::User, _>(conn)),
            "{versions:?}"
        );
        assert!(
            versions.contains(&version_of::<r2::Role, _>(conn)),
            "{versions:?}"
        );
        assert_rows(conn);

        // Release 3 again is its one step; reverted again, the same one.
        assert_eq!(
            conn.run_pending_migrations(r3::migrations()).unwrap().len(),
            1
        );
        verify::<r3::User, _>(conn);
        conn.revert_last_migration(r3::migrations()).unwrap();
        assert_eq!(conn.describe(), release_2);

        // Then release 2, its role step.
        let reverted = conn.revert_last_migration(r2::migrations()).unwrap();
        assert_eq!(reverted.to_string(), version_of::<r2::Role, _>(conn));
        assert_eq!(conn.describe(), release_1);
        verify::<r1::Role, _>(conn);
        assert_rows(conn);
    }

    fn a_database_made_by_the_previous_version_is_carried_forward(conn: _, db: _) {
        release_1_with_rows!(conn);
        let release_1 = conn.describe();
        conn.run_pending_migrations(r2::migrations()).unwrap();
        // The steps table as users-diesel made it before it recorded the order steps ran in.
        conn.batch_execute("ALTER TABLE __users_schema_steps DROP COLUMN applied")
            .unwrap();
        let release_2 = conn.describe();

        // Release 3 carries the table forward; its step is the last.
        conn.run_pending_migrations(r3::migrations()).unwrap();
        conn.revert_last_migration(r3::migrations()).unwrap();
        assert_eq!(conn.describe(), release_2);
        verify::<r2::Role, _>(conn);

        // The steps recorded before are ordered as diesel ran them.
        conn.revert_last_migration(r2::migrations()).unwrap();
        assert_eq!(conn.describe(), release_1);
        assert_rows(conn);

        // And a table never carried forward is reverted the same way.
        let mut old = fresh_db();
        release_1_with_rows!(&mut *old);
        old.run_pending_migrations(r2::migrations()).unwrap();
        old.batch_execute("ALTER TABLE __users_schema_steps DROP COLUMN applied")
            .unwrap();
        old.revert_last_migration(r2::migrations()).unwrap();
        assert_eq!(old.describe(), release_1);
    }

    fn reverting_an_index_restores_the_column_defaults_included(conn: _, db: _) {
        release_1_with_rows!(conn);
        let release_1 = conn.describe();
        conn.run_pending_migrations(indexed::migrations()).unwrap();
        verify::<indexed::User, _>(conn);
        assert_ne!(conn.describe(), release_1);
        conn.revert_last_migration(indexed::migrations()).unwrap();
        assert_eq!(conn.describe(), release_1);
        verify::<r1::User, _>(conn);
        assert_rows(conn);

        // The same through the files.
        let dialect = dialect_of(conn);
        let dir = temp_dir();
        let files = || FileBasedMigrations::from_path(&dir).unwrap();
        r1::migrations().write_to(&dir, dialect).unwrap();
        indexed::migrations().write_to(&dir, dialect).unwrap();
        let mut from_files = fresh_db();
        from_files.run_pending_migrations(files()).unwrap();
        verify::<indexed::User, _>(&mut *from_files);
        from_files.revert_last_migration(files()).unwrap();
        // The role model's step has the highest version; then the user model's.
        from_files.revert_last_migration(files()).unwrap();
        from_files.run_pending_migrations(files()).unwrap();
        from_files
            .revert_migration(&*step_of::<indexed::User, _>())
            .unwrap();
        assert_eq!(from_files.describe(), release_1);
        verify::<r1::User, _>(&mut *from_files);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn verify_schema_compares_defaults(conn: _, db: _) {
        release_1_with_rows!(conn);
        verify::<r1::User, _>(conn);
        let error = verify_schema::<other_defaults::User, _>(conn).unwrap_err();
        let SchemaError::Mismatch(problems) = &error else {
            panic!("{error}");
        };
        assert_eq!(problems.len(), 4, "{error}");
        assert!(
            problems
                .iter()
                .all(|p| matches!(p, SchemaProblem::WrongDefault { .. })),
            "{error}"
        );
        for column in ["note", "score", "subscribed", "ratio"] {
            assert!(
                error
                    .to_string()
                    .contains(&format!("users.{column}: default is")),
                "{error}"
            );
        }

        if dialect_of(conn) != users_diesel::Dialect::Sqlite {
            conn.batch_execute("ALTER TABLE users ALTER COLUMN score DROP DEFAULT")
                .unwrap();
            let error = verify_schema::<r1::User, _>(conn).unwrap_err().to_string();
            assert!(
                error.contains("users.score: has no default, expected -1"),
                "{error}"
            );
        }
    }

    fn a_database_built_from_the_files_reverts_by_either_path(conn: _, db: _) {
        let dialect = dialect_of(conn);
        let dir = temp_dir();
        let files = || FileBasedMigrations::from_path(&dir).unwrap();
        // Release by release, as an application deploys them.
        r1::migrations().write_to(&dir, dialect).unwrap();
        conn.run_pending_migrations(files()).unwrap();
        release_1_with_rows!(conn);
        let release_1 = conn.describe();
        r2::migrations().write_to(&dir, dialect).unwrap();
        conn.run_pending_migrations(files()).unwrap();
        diesel::update(r2::roles::table)
            .set(r2::roles::priority.eq(7))
            .execute(conn)
            .unwrap();
        let release_2 = conn.describe();
        r3::migrations().write_to(&dir, dialect).unwrap();
        conn.run_pending_migrations(files()).unwrap();
        verify::<r3::User, _>(conn);

        // The embedded path reverts release 3's step, which its file recorded.
        let reverted = conn.revert_last_migration(r3::migrations()).unwrap();
        assert_eq!(reverted.to_string(), version_of::<r3::User, _>(conn));
        assert_eq!(conn.describe(), release_2);
        let priorities: Vec<i32> = r2::roles::table
            .select(r2::roles::priority)
            .load(conn)
            .unwrap();
        assert_eq!(priorities, [7]);

        // The files revert the next step, release 2's, and forget its record.
        conn.revert_last_migration(files()).unwrap();
        assert_eq!(conn.describe(), release_1);
        assert_rows(conn);

        // The embedded path applies both again; the files revert the embedded steps too.
        assert_eq!(
            conn.run_pending_migrations(r3::migrations()).unwrap().len(),
            2
        );
        verify::<r3::User, _>(conn);
        conn.revert_last_migration(files()).unwrap();
        verify::<r1::Role, _>(conn);
        conn.revert_migration(&*step_of::<r3::User, _>()).unwrap();
        assert_eq!(conn.describe(), release_1);
        assert_rows(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn a_step_from_files_that_recorded_nothing_is_refused_with_nothing_changed(conn: _, db: _) {
        let dialect = dialect_of(conn);
        let dir = temp_dir();
        let files = || FileBasedMigrations::from_path(&dir).unwrap();
        r1::migrations().write_to(&dir, dialect).unwrap();
        conn.run_pending_migrations(files()).unwrap();
        release_1_with_rows!(conn);
        // As files written by an earlier users-diesel leave a database.
        conn.batch_execute("DROP TABLE __users_schema_steps")
            .unwrap();
        let (schema, versions) = (conn.describe(), applied(conn));

        let error = conn
            .revert_last_migration(r1::migrations())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("down.sql") && error.contains("nothing was changed"),
            "{error}"
        );
        assert_eq!(conn.describe(), schema);
        assert_eq!(applied(conn), versions);
        assert_rows(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
