//! Models that change after the first release: a database made by version 1 of the models is
//! carried to versions 2 and 3 by the call applications already make (or by the files they
//! commit), keeping every row; changes that would need a guess are refused with nothing changed.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use users_diesel::prelude::*;
use users_diesel::{verify_schema, Dialect, IntrospectSchema, SchemaError};
use users_tests::{
    applied, backend_tests, dialect_of, step_of, test_cases, verify, DescribeSchema,
};

/// The first release.
mod v1 {
    use super::*;

    #[user_model]
    pub struct User {
        pub display_name: Option<String>,
        pub nick: Option<String>,
        pub handle: String,
    }

    #[role_model]
    pub struct Role {}

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// Additive changes: a nullable column, a defaulted one, a rename, timestamps, an index on an
/// existing column, a column on the role model.
mod v2 {
    use super::*;

    #[user_model(timestamps)]
    pub struct User {
        #[column(index)]
        pub display_name: Option<String>,
        #[column(renamed_from = "nick")]
        pub nickname: Option<String>,
        pub handle: String,
        #[column(default = 0)]
        pub karma: i32,
        pub bio: Option<String>,
    }

    #[role_model]
    pub struct Role {
        #[column(default = 0)]
        pub level: i16,
    }

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// A new unique column on clean data, a unique index on an existing column, and a column that
/// the model drops on purpose.
mod v3 {
    use super::*;

    #[user_model(timestamps, dropped_columns = ["handle"])]
    pub struct User {
        #[column(index)]
        pub display_name: Option<String>,
        #[column(renamed_from = "nick", unique, max_length = 64)]
        pub nickname: Option<String>,
        #[column(default = 0)]
        pub karma: i32,
        pub bio: Option<String>,
        #[column(unique, max_length = 64)]
        pub username: Option<String>,
    }

    #[role_model]
    pub struct Role {
        #[column(default = 0)]
        pub level: i16,
    }

    pub fn migrations() -> Migrations {
        Migrations::new().with::<User>().with::<Role>()
    }
}

/// Changes the migrations refuse, each from version 1.
mod refused {
    use super::*;

    pub mod retyped {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<i64>,
            pub nick: Option<String>,
            pub handle: String,
        }
    }

    pub mod made_required {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: String,
            pub nick: Option<String>,
            pub handle: String,
        }
    }

    pub mod required_without_default {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
            pub handle: String,
            pub age: i32,
        }
    }

    pub mod removed_required {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
        }
    }

    /// `handle` holds the same value twice in the rows `v1_with_rows` writes.
    pub mod unique_on_duplicates {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
            #[column(unique, max_length = 64)]
            pub handle: String,
        }
    }

    /// Valid on PostgreSQL and MySQL (the column drops NOT NULL); SQLite cannot in place.
    pub mod made_optional {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
            pub handle: Option<String>,
        }
    }

    /// Not refused: a string default that needs quoting on every backend.
    pub mod quoted_default {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
            pub handle: String,
            #[column(default = "it's C:\\")]
            pub note: String,
        }
    }

    /// Not refused: `handle` becomes `VARCHAR(64)` on MySQL, then `VARCHAR(200)`.
    pub mod short_handle {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
            #[column(index, max_length = 64)]
            pub handle: String,
        }
    }

    pub mod long_handle {
        use super::*;
        #[user_model]
        pub struct User {
            pub display_name: Option<String>,
            pub nick: Option<String>,
            #[column(index, max_length = 200)]
            pub handle: String,
        }
    }

    pub fn only<M: ModelSchema>() -> Migrations {
        Migrations::new().with::<M>()
    }
}

const ROWS: [(&str, Option<&str>, &str); 3] = [
    ("ann@example.com", Some("annie"), "same"),
    ("bob@example.com", Some("bobby"), "same"),
    ("cy@example.com", None, "cy"),
];

/// A database made by version 1, with rows.
macro_rules! v1_with_rows {
    ($conn:expr) => {{
        let conn = &mut *$conn;
        conn.run_pending_migrations(v1::migrations()).unwrap();
        for (email, nick, handle) in ROWS {
            let user = v1::User {
                nick: nick.map(str::to_owned),
                handle: handle.to_owned(),
                display_name: Some(email.to_uppercase()),
                ..v1::User::from_credentials(Id::new(), email.to_owned(), "hash".to_owned())
            };
            diesel::insert_into(v1::users::table)
                .values(&user)
                .execute(conn)
                .unwrap();
        }
    }};
}

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("users-evolution-{}", uuid::Uuid::now_v7()))
}

#[test_cases(backend_tests)]
mod cases {
    fn additive_changes_are_carried_forward_keeping_every_row(conn: _, db: _) {
        v1_with_rows!(conn);
        let started = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(5);

        let applied_v2 = conn.run_pending_migrations(v2::migrations()).unwrap();
        assert_eq!(
            applied_v2.len(),
            2,
            "one step for the user model, one for the role model"
        );
        assert!(conn
            .run_pending_migrations(v2::migrations())
            .unwrap()
            .is_empty());
        verify::<v2::User, _>(conn);
        verify::<v2::Role, _>(conn);

        let finished = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(5);
        let rows: Vec<v2::User> = v2::users::table.order(v2::users::email).load(conn).unwrap();
        assert_eq!(rows.len(), 3);
        for (row, (email, nick, handle)) in rows.iter().zip(ROWS) {
            assert_eq!(row.email, email);
            assert_eq!(
                row.nickname.as_deref(),
                nick,
                "the renamed column keeps its data"
            );
            assert_eq!(row.handle, handle);
            assert_eq!(row.display_name, Some(email.to_uppercase()));
            assert_eq!(row.karma, 0, "existing rows get the default");
            assert_eq!(row.bio, None);
            for at in [row.created_at, row.updated_at] {
                assert!(
                    started <= at && at <= finished,
                    "{at} is the migration's time"
                );
            }
        }
        let role = v2::Role {
            level: 3,
            ..v2::Role::from_name(Id::new(), "admin".into(), None)
        };
        diesel::insert_into(v2::roles::table)
            .values(&role)
            .execute(conn)
            .unwrap();

        let applied_v3 = conn.run_pending_migrations(v3::migrations()).unwrap();
        assert_eq!(applied_v3.len(), 1, "the role model did not change");
        assert!(conn
            .run_pending_migrations(v3::migrations())
            .unwrap()
            .is_empty());
        verify::<v3::User, _>(conn);
        verify::<v3::Role, _>(conn);
        let nicknames: Vec<Option<String>> = v3::users::table
            .order(v3::users::email)
            .select(v3::users::nickname)
            .load(conn)
            .unwrap();
        assert_eq!(
            nicknames,
            [Some("annie".into()), Some("bobby".into()), None]
        );

        // The new unique column holds; the framework works on the evolved model.
        let users = Users::<v3::User, v3::Role>::new(UsersConfig::new([7; 32]).unwrap());
        let dan = users
            .register_with(conn, "dan@example.com", "a long password", |u| {
                u.username = Some("dan".into())
            })
            .unwrap();
        assert_eq!(dan.karma, 0);
        let clash = users.register_with(conn, "eve@example.com", "a long password", |u| {
            u.username = Some("dan".into())
        });
        assert!(clash.is_err(), "username is unique now");
        users
            .authenticate(conn, "dan@example.com", "a long password")
            .unwrap();
        let level: i16 = v3::roles::table
            .select(v3::roles::level)
            .first(conn)
            .unwrap();
        assert_eq!(level, 3, "the role's row survived too");
    }

    fn a_fresh_database_gets_the_current_schema_in_one_step(conn: _, db: _) {
        let steps = conn.run_pending_migrations(v3::migrations()).unwrap();
        assert_eq!(steps.len(), 2);
        verify::<v3::User, _>(conn);
        verify::<v3::Role, _>(conn);

        // The same versions as a database that went through every release.
        let mut upgraded = fresh_db();
        v1_with_rows!(&mut *upgraded);
        upgraded.run_pending_migrations(v2::migrations()).unwrap();
        upgraded.run_pending_migrations(v3::migrations()).unwrap();
        let current = applied(conn);
        assert!(
            current.iter().all(|v| applied(&mut *upgraded).contains(v)),
            "{current:?}"
        );
    }

    fn reverting_a_step_restores_the_schema_before_it(conn: _, db: _) {
        v1_with_rows!(conn);
        let v1_schema = conn.describe();
        conn.run_pending_migrations(v2::migrations()).unwrap();
        let v2_schema = conn.describe();
        assert_ne!(v1_schema, v2_schema);

        // The last step is the role model's; the embedded migrations know each model's current
        // step, so the user model's is reverted as its own migration.
        conn.revert_last_migration(v2::migrations()).unwrap();
        verify::<v1::Role, _>(conn);
        conn.revert_migration(&*step_of::<v2::User, _>()).unwrap();
        assert_eq!(conn.describe(), v1_schema);
        let nicks: Vec<Option<String>> = v1::users::table
            .order(v1::users::email)
            .select(v1::users::nick)
            .load(conn)
            .unwrap();
        assert_eq!(nicks, [Some("annie".into()), Some("bobby".into()), None]);

        conn.run_pending_migrations(v2::migrations()).unwrap();
        assert_eq!(conn.describe(), v2_schema);
    }

    fn a_step_that_dropped_a_column_refuses_to_revert(conn: _, db: _) {
        v1_with_rows!(conn);
        conn.run_pending_migrations(v2::migrations()).unwrap();
        conn.run_pending_migrations(v3::migrations()).unwrap();
        let live = conn.live_columns("users").unwrap();
        assert!(
            live.iter().all(|c| c.name != "handle"),
            "dropped as declared"
        );

        let schema = conn.describe();
        let error = conn
            .revert_migration(&*step_of::<v3::User, _>())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("dropped columns") && error.contains("cannot be reverted"),
            "{error}"
        );
        assert_eq!(conn.describe(), schema);
    }

    fn refused_changes_say_what_to_write_and_change_nothing(conn: _, db: _) {
        v1_with_rows!(conn);
        let schema = conn.describe();
        let versions = applied(conn);
        let cases = [
            (refused::only::<refused::retyped::User>(), "users.display_name: the column is", "a type change is never made automatically"),
            (refused::only::<refused::made_required::User>(), "users.display_name: the column accepts NULL", "keep it an `Option`"),
            (refused::only::<refused::required_without_default::User>(), "users.age: a new required column", "#[column(default = …)]"),
            (refused::only::<refused::removed_required::User>(), "users.handle: the model has no field", "dropped_columns = [\"handle\"]"),
            (
                refused::only::<refused::unique_on_duplicates::User>(),
                "users.handle: cannot add the unique index: 1 value appears more than once (one of them 2 times)",
                "make the values unique",
            ),
        ];
        for (migrations, what, instead) in cases {
            let error = conn
                .run_pending_migrations(migrations)
                .unwrap_err()
                .to_string();
            assert!(error.contains("nothing was changed"), "{error}");
            assert!(error.contains(what), "{error}");
            assert!(error.contains(instead), "{error}");
            assert_eq!(conn.describe(), schema, "after: {error}");
            assert_eq!(applied(conn), versions);
        }

        // Once the data allows it, the same change applies.
        conn.batch_execute("UPDATE users SET handle = email")
            .unwrap();
        conn.run_pending_migrations(refused::only::<refused::unique_on_duplicates::User>())
            .unwrap();
        verify::<refused::unique_on_duplicates::User, _>(conn);
    }

    fn a_required_column_may_become_optional_where_the_backend_can(conn: _, db: _) {
        v1_with_rows!(conn);
        let schema = conn.describe();
        let dialect = dialect_of(conn);
        let result = conn
            .run_pending_migrations(refused::only::<refused::made_optional::User>())
            .map(|steps| steps.len());
        if dialect == Dialect::Sqlite {
            let error = result.unwrap_err().to_string();
            assert!(
                error.contains("users.handle: the field became an `Option`"),
                "{error}"
            );
            assert!(error.contains("cannot do in place"), "{error}");
            assert_eq!(conn.describe(), schema);
        } else {
            result.unwrap();
            verify::<refused::made_optional::User, _>(conn);
            conn.revert_migration(&*step_of::<refused::made_optional::User, _>())
                .unwrap();
            assert_eq!(conn.describe(), schema);
        }
    }

    fn a_string_default_is_quoted_for_each_backend(conn: _, db: _) {
        v1_with_rows!(conn);
        conn.run_pending_migrations(refused::only::<refused::quoted_default::User>())
            .unwrap();
        let notes: Vec<String> = refused::quoted_default::users::table
            .select(refused::quoted_default::users::note)
            .load(conn)
            .unwrap();
        assert_eq!(notes, vec!["it's C:\\".to_owned(); 3]);
    }

    fn a_longer_max_length_widens_the_column(conn: _, db: _) {
        v1_with_rows!(conn);
        conn.run_pending_migrations(refused::only::<refused::short_handle::User>())
            .unwrap();
        conn.run_pending_migrations(refused::only::<refused::long_handle::User>())
            .unwrap();
        verify::<refused::long_handle::User, _>(conn);
        let long = "h".repeat(150);
        diesel::update(refused::long_handle::users::table)
            .set(refused::long_handle::users::handle.eq(&long))
            .execute(conn)
            .unwrap();
        let handles: Vec<String> = refused::long_handle::users::table
            .select(refused::long_handle::users::handle)
            .load(conn)
            .unwrap();
        assert_eq!(handles, vec![long; 3]);
    }

    fn verify_schema_lists_the_pending_steps(conn: _, db: _) {
        v1_with_rows!(conn);
        let message = verify_schema::<v2::User, _>(conn).unwrap_err();
        assert!(matches!(message, SchemaError::Behind { .. }), "{message}");
        let message = message.to_string();
        for step in [
            "add column users.karma",
            "add column users.created_at",
            "rename column users.nick to nickname",
            "create index on users.display_name",
            "conn.run_pending_migrations(Migrations::new().with::<User>())",
        ] {
            assert!(message.contains(step), "{step} in {message}");
        }

        // A problem the migrations will not fix is never "run the migrations".
        let message = verify_schema::<refused::retyped::User, _>(conn).unwrap_err();
        assert!(matches!(message, SchemaError::Mismatch(_)), "{message}");
        assert!(
            !message.to_string().contains("run_pending_migrations"),
            "{message}"
        );

        // A column the model lacks that breaks inserts is reported.
        let message = verify_schema::<refused::removed_required::User, _>(conn).unwrap_err();
        assert!(
            message
                .to_string()
                .contains("users.handle: not in the model, and NOT NULL"),
            "{message}"
        );
    }

    fn files_reach_the_same_schema_under_the_same_versions(conn: _, db: _) {
        let dialect = dialect_of(conn);
        let dir = temp_dir();
        let first = v1::migrations().write_to(&dir, dialect).unwrap();
        assert_eq!(first.len(), 2);
        let second = v2::migrations().write_to(&dir, dialect).unwrap();
        let names: Vec<String> = second
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2);
        // Named after what they do (MySQL first widens the TEXT column an index needs).
        let users_step = if dialect == Dialect::Mysql {
            "_users_widen_display_name_index_display_name_etc"
        } else {
            "_users_index_display_name_rename_nick_to_nickname_add_karma_etc"
        };
        assert!(names[0].ends_with(users_step), "{names:?}");
        assert!(names[1].ends_with("_roles_add_level"), "{names:?}");
        assert!(
            v2::migrations().write_to(&dir, dialect).unwrap().is_empty(),
            "nothing new"
        );
        let third = v3::migrations().write_to(&dir, dialect).unwrap();
        assert_eq!(third.len(), 1);

        // Files, step by step, on one database; the embedded path, release by release, on another.
        let files = || FileBasedMigrations::from_path(&dir).unwrap();
        assert_eq!(conn.run_pending_migrations(files()).unwrap().len(), 5);
        let mut embedded = fresh_db();
        embedded.run_pending_migrations(v1::migrations()).unwrap();
        embedded.run_pending_migrations(v2::migrations()).unwrap();
        embedded.run_pending_migrations(v3::migrations()).unwrap();
        assert_eq!(conn.describe(), embedded.describe());
        assert_eq!(applied(conn), applied(&mut *embedded));
        assert!(conn
            .run_pending_migrations(v3::migrations())
            .unwrap()
            .is_empty());
        verify::<v3::User, _>(conn);

        // Each step's down.sql undoes it: the role model's two steps, then the user model's
        // last one, which dropped a column and says it cannot be undone.
        conn.revert_last_migration(files()).unwrap();
        verify::<v1::Role, _>(conn);
        conn.revert_last_migration(files()).unwrap();
        let error = conn.revert_last_migration(files()).unwrap_err().to_string();
        assert!(
            error.contains("cannot revert drop column users.handle"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn an_application_migration_beside_ours_never_conflicts(conn: _, db: _) {
        // An old database whose application added `karma` itself before the framework could.
        v1_with_rows!(conn);
        let dialect = dialect_of(conn);
        conn.batch_execute(&format!(
            "ALTER TABLE {} ADD COLUMN {} INTEGER NOT NULL DEFAULT 0",
            dialect.quote("users"),
            dialect.quote("karma"),
        ))
        .unwrap();
        conn.run_pending_migrations(v2::migrations()).unwrap();
        verify::<v2::User, _>(conn);

        // And its own table referencing ours, on a fresh database and after an upgrade.
        let posts = format!(
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id {} NOT NULL REFERENCES users (id))",
            dialect.type_name(&users_diesel::schema::Column::new("id", users_diesel::schema::ColumnType::Uuid), true)
        );
        conn.batch_execute(&posts).unwrap();
        conn.run_pending_migrations(v3::migrations()).unwrap();
        verify::<v3::User, _>(conn);
        let mut fresh = fresh_db();
        fresh.run_pending_migrations(v3::migrations()).unwrap();
        fresh.batch_execute(&posts).unwrap();
    }
}
