//! `#[user_model]` end to end on every enabled backend: migrations, every column type, custom
//! fields and options, the store, email uniqueness, and the typed id in the application's own
//! tables.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_diesel::schema::{Column, ColumnType, ForeignKey, Table};
use users_diesel::{normalize_email, Dialect};
use users_tests::{backend_tests, dialect_of, test_cases};

#[user_model]
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub token_count: i32,
    #[column(unique, max_length = 32)]
    pub username: Option<String>,
}

/// A model with every supported column type, stored under another table name.
#[user_model(table = "accounts")]
pub struct Account {
    pub text: String,
    pub flag: bool,
    pub small: i16,
    pub int: i32,
    pub big: i64,
    pub float: f32,
    pub double: f64,
    pub bytes: Vec<u8>,
    pub owner: Id<User>,
    pub at: NaiveDateTime,
    pub day: NaiveDate,
    pub time: NaiveTime,
    pub maybe_text: Option<String>,
    pub maybe_flag: Option<bool>,
    pub maybe_small: Option<i16>,
    pub maybe_int: Option<i32>,
    pub maybe_big: Option<i64>,
    pub maybe_float: Option<f32>,
    pub maybe_double: Option<f64>,
    pub maybe_bytes: Option<Vec<u8>>,
    pub maybe_owner: Option<Id<User>>,
    pub maybe_at: Option<NaiveDateTime>,
    #[column(name = "renamed_column", index)]
    pub renamed: i32,
    #[column(default = "guest", max_length = 16)]
    pub role_name: String,
}

#[user_model(table = "members", timestamps)]
pub struct Member {
    pub nickname: Option<String>,
}

/// A crate that re-exports users_diesel names it with `crate = …`.
mod framework {
    pub use users_diesel as reexported;
}

#[user_model(crate = crate::framework::reexported, table = "staff")]
pub struct Staff {}

diesel::table! {
    posts (id) {
        id -> users_diesel::sql_types::Uuid,
        user_id -> users_diesel::sql_types::Uuid,
        title -> Text,
    }
}

diesel::joinable!(posts -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(posts, users);

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Identifiable, Associations,
)]
#[diesel(table_name = posts, belongs_to(User))]
pub struct Post {
    pub id: Id<Post>,
    pub user_id: Id<User>,
    pub title: String,
}

const POSTS: Table = Table {
    name: "posts",
    columns: &[
        Column::new("id", ColumnType::Uuid),
        Column::new("user_id", ColumnType::Uuid),
        Column::new("title", ColumnType::Text),
    ],
    primary_key: &["id"],
    foreign_keys: &[ForeignKey {
        column: "user_id",
        references: "users",
    }],
    dropped_columns: &[],
};

fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Account>()
        .with::<Member>()
        .with::<Staff>()
}

fn user(email: &str) -> User {
    User::from_credentials(Id::new(), normalize_email(email).unwrap(), "hash".into())
}

fn account(owner: Id<User>) -> Account {
    let at = NaiveDate::from_ymd_opt(2024, 2, 29)
        .unwrap()
        .and_hms_micro_opt(23, 59, 58, 123_456)
        .unwrap();
    Account {
        text: "naïve 'quoted' \"text\" ✓".into(),
        flag: true,
        small: i16::MIN,
        int: i32::MAX,
        big: i64::MIN,
        float: 1.5,
        double: -2.25e100,
        bytes: vec![0, 1, 2, 254, 255],
        owner,
        at,
        day: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
        time: NaiveTime::from_hms_micro_opt(7, 8, 9, 10).unwrap(),
        maybe_text: Some(String::new()),
        maybe_flag: Some(false),
        maybe_small: Some(-1),
        maybe_int: Some(0),
        maybe_big: Some(i64::MAX),
        maybe_float: Some(-0.5),
        maybe_double: Some(0.1),
        maybe_bytes: Some(Vec::new()),
        maybe_owner: Some(owner),
        maybe_at: Some(at),
        renamed: 42,
        ..Account::from_credentials(Id::new(), "acct@example.com".into(), "hash".into())
    }
}

#[test_cases(backend_tests)]
mod cases {
    fn migrations_run_once_and_revert(conn: _, db: _) {
        let applied = conn.run_pending_migrations(migrations()).unwrap();
        assert_eq!(applied.len(), 4);
        assert!(conn
            .run_pending_migrations(migrations())
            .unwrap()
            .is_empty());

        for _ in 0..4 {
            conn.revert_last_migration(migrations()).unwrap();
        }
        let error = users::table.count().get_result::<i64>(conn);
        assert!(
            error.is_err(),
            "the users table should be gone after reverting"
        );

        let reapplied = conn.run_pending_migrations(migrations()).unwrap();
        assert_eq!(reapplied.len(), 4);
        let staff = Staff::from_credentials(Id::new(), "staff@example.com".into(), "hash".into());
        Staff::insert(conn, &staff).unwrap();
        assert_eq!(
            staff::table.find(staff.id).first::<Staff>(conn).unwrap(),
            staff
        );
        assert_eq!(users::table.count().get_result::<i64>(conn).unwrap(), 0);
    }

    fn every_column_type_round_trips(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let owner = User::insert(conn, &user("owner@example.com")).unwrap();
        let full = account(owner.id);
        Account::insert(conn, &full).unwrap();
        let loaded: Account = accounts::table.find(full.id).first(conn).unwrap();
        assert_eq!(loaded, full);

        let empty = Account {
            id: Id::new(),
            email: "empty@example.com".into(),
            maybe_text: None,
            maybe_flag: None,
            maybe_small: None,
            maybe_int: None,
            maybe_big: None,
            maybe_float: None,
            maybe_double: None,
            maybe_bytes: None,
            maybe_owner: None,
            maybe_at: None,
            ..full.clone()
        };
        Account::insert(conn, &empty).unwrap();
        assert_eq!(Account::find(conn, empty.id).unwrap(), Some(empty));
    }

    fn custom_fields_take_their_defaults(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let fresh = user("new@example.com");
        assert_eq!(
            (fresh.token_count, fresh.display_name.as_deref()),
            (0, None)
        );
        assert!(fresh.is_active && !fresh.is_verified);
        assert_eq!(account(fresh.id).role_name, "guest");

        // The literal defaults are SQL defaults too: a row inserted without them gets them.
        let id = Id::<User>::new();
        diesel::insert_into(users::table)
            .values((
                users::id.eq(id),
                users::email.eq("bare@example.com"),
                users::password_hash.eq("hash"),
            ))
            .execute(conn)
            .unwrap();
        let bare = User::find(conn, id).unwrap().unwrap();
        assert_eq!(bare.token_count, 0);
        assert!(bare.is_active);
        assert!(!bare.is_verified);
        assert_eq!(bare.username, None);
    }

    fn the_store_finds_updates_and_deletes(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let alice = User::insert(conn, &user("alice@example.com")).unwrap();
        assert_eq!(User::find(conn, alice.id).unwrap().as_ref(), Some(&alice));
        assert_eq!(
            User::find_by_email(conn, "alice@example.com")
                .unwrap()
                .as_ref(),
            Some(&alice)
        );
        assert_eq!(User::find_by_email(conn, "bob@example.com").unwrap(), None);

        let renamed = User {
            display_name: Some("Alice".into()),
            token_count: 7,
            ..alice.clone()
        };
        assert_eq!(User::update(conn, &renamed).unwrap(), renamed);
        assert_eq!(User::find(conn, alice.id).unwrap(), Some(renamed.clone()));
        // Setting an optional field back to None writes NULL.
        let cleared = User {
            display_name: None,
            ..renamed
        };
        User::update(conn, &cleared).unwrap();
        assert_eq!(User::find(conn, alice.id).unwrap(), Some(cleared));

        assert!(User::delete(conn, alice.id).unwrap());
        assert!(!User::delete(conn, alice.id).unwrap());
        assert_eq!(User::find(conn, alice.id).unwrap(), None);
        assert!(matches!(
            User::update(conn, &alice),
            Err(UsersError::UserNotFound)
        ));
    }

    fn email_is_unique_across_case_variants(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        User::insert(conn, &user("Carol@Example.com")).unwrap();
        for variant in [
            "carol@example.com",
            "CAROL@EXAMPLE.COM",
            "  carol@Example.Com ",
        ] {
            let result = User::insert(conn, &user(variant));
            assert!(
                matches!(result, Err(UsersError::EmailTaken)),
                "{variant}: {result:?}"
            );
        }
        // Changing another user's email to a taken one is refused the same way.
        let dave = User::insert(conn, &user("dave@example.com")).unwrap();
        let clash = User {
            email: "carol@example.com".into(),
            ..dave
        };
        assert!(matches!(
            User::update(conn, &clash),
            Err(UsersError::EmailTaken)
        ));
        assert_eq!(users::table.count().get_result::<i64>(conn).unwrap(), 2);

        // A unique violation on another column is a conflict naming it, not EmailTaken.
        let first = User {
            username: Some("erin".into()),
            ..user("erin@example.com")
        };
        let second = User {
            username: Some("erin".into()),
            ..user("erin2@example.com")
        };
        User::insert(conn, &first).unwrap();
        assert!(matches!(
            User::insert(conn, &second),
            Err(UsersError::Conflict { column: "username" })
        ));
    }

    fn timestamps_are_kept_by_the_store(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let draft = Member::from_credentials(Id::new(), "tim@example.com".into(), "hash".into());
        let stored = Member::insert(conn, &draft).unwrap();
        assert!(stored.created_at >= draft.created_at);
        assert_eq!(stored.created_at, stored.updated_at);
        assert_eq!(
            Member::find(conn, stored.id).unwrap().as_ref(),
            Some(&stored)
        );

        std::thread::sleep(std::time::Duration::from_millis(5));
        let edited = Member {
            nickname: Some("Tim".into()),
            created_at: chrono::DateTime::UNIX_EPOCH.naive_utc(),
            ..stored.clone()
        };
        let updated = Member::update(conn, &edited).unwrap();
        assert_eq!(
            updated.created_at, stored.created_at,
            "created_at never changes"
        );
        assert!(updated.updated_at > stored.updated_at);
        assert_eq!(updated.nickname.as_deref(), Some("Tim"));
        assert_eq!(Member::find(conn, stored.id).unwrap(), Some(updated));
    }

    fn transactions_roll_back_on_error(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let result: Result<(), UsersError> = User::transaction(conn, |conn| {
            User::insert(conn, &user("ghost@example.com"))?;
            Err(UsersError::InvalidToken)
        });
        assert!(matches!(result, Err(UsersError::InvalidToken)));
        assert_eq!(
            User::find_by_email(conn, "ghost@example.com").unwrap(),
            None
        );
    }

    fn typed_ids_work_in_the_applications_tables(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        conn.batch_execute(&dialect_of(conn).create_table(&POSTS))
            .unwrap();
        let alice = User::insert(conn, &user("alice@example.com")).unwrap();
        let bob = User::insert(conn, &user("bob@example.com")).unwrap();
        let posts: Vec<Post> = [(alice.id, "a1"), (alice.id, "a2"), (bob.id, "b1")]
            .into_iter()
            .map(|(user_id, title)| Post {
                id: Id::new(),
                user_id,
                title: title.into(),
            })
            .collect();
        diesel::insert_into(posts::table)
            .values(&posts)
            .execute(conn)
            .unwrap();

        // find and eq
        let found: User = users::table.find(bob.id).first(conn).unwrap();
        assert_eq!(found, bob);
        let by_id: Vec<Post> = posts::table
            .filter(posts::user_id.eq(alice.id))
            .order(posts::title)
            .load(conn)
            .unwrap();
        assert_eq!(by_id, posts[..2]);

        // eq_any
        let mut both: Vec<User> = users::table
            .filter(users::id.eq_any([alice.id, bob.id]))
            .order(users::email)
            .load(conn)
            .unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both.remove(0), alice);

        // belonging_to and grouped_by
        let users = vec![alice.clone(), bob.clone()];
        let grouped: Vec<Vec<Post>> = Post::belonging_to(&users)
            .select(Post::as_select())
            .order(posts::title)
            .load(conn)
            .unwrap()
            .grouped_by(&users);
        assert_eq!(grouped[0].len(), 2);
        assert_eq!(grouped[1], vec![posts[2].clone()]);

        // a join from the application's table
        let titles: Vec<(String, String)> = posts::table
            .inner_join(users::table)
            .select((users::email, posts::title))
            .order(posts::title)
            .load(conn)
            .unwrap();
        assert_eq!(titles[2], ("bob@example.com".to_owned(), "b1".to_owned()));

        // the foreign key cascades, on SQLite without `PRAGMA foreign_keys` too
        User::delete(conn, alice.id).unwrap();
        assert_eq!(posts::table.count().get_result::<i64>(conn).unwrap(), 1);
    }
}

#[test]
fn migrations_are_written_for_the_diesel_cli() {
    let dir = std::env::temp_dir().join(format!("users-migrations-{}", uuid::Uuid::now_v7()));
    let written = migrations().write_to(&dir, Dialect::Postgres).unwrap();
    assert_eq!(written.len(), 4);
    let names: Vec<String> = written
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // `<14 zeros>-users<order>-<weight>-<table>-<digest>_create_<table>`: before any migration the
    // diesel CLI generates, and named after the model's state.
    for (name, table) in names.iter().zip(["users", "accounts", "members", "staff"]) {
        let (prefix, what) = name.split_once('_').unwrap();
        assert_eq!(what, format!("create_{table}"), "{name}");
        let parts: Vec<&str> = prefix.split('-').collect();
        assert_eq!(parts[..2], ["00000000000000", "users1"], "{name}");
        assert!(
            parts[2].len() == 4 && parts[2].parse::<u32>().is_ok(),
            "{name}"
        );
        assert_eq!(parts[3], table, "{name}");
        assert!(
            parts[4].len() == 8 && u32::from_str_radix(parts[4], 16).is_ok(),
            "{name}"
        );
    }
    let up = std::fs::read_to_string(written[0].join("up.sql")).unwrap();
    assert!(
        up.contains("CONSTRAINT \"users_email_key\" UNIQUE (\"email\")"),
        "{up}"
    );
    assert!(
        up.contains("\"token_count\" INTEGER NOT NULL DEFAULT 0"),
        "{up}"
    );
    assert!(up.contains("\"display_name\" TEXT,"), "{up}");
    let down = std::fs::read_to_string(written[0].join("down.sql")).unwrap();
    // The step's record, by which the embedded migrations can revert it too, is forgotten.
    let version = written[0].file_name().unwrap().to_string_lossy();
    let version = version.split('_').next().unwrap().replace('-', "");
    assert_eq!(
        down,
        format!(
            "DROP TABLE \"users\";\nDELETE FROM \"__users_schema_steps\" WHERE version = '{version}';\n"
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mysql_gets_lengths_for_indexed_text() {
    let sql = &migrations().sql(Dialect::Mysql)[1].up;
    assert!(sql.contains("`email` VARCHAR(254) NOT NULL"), "{sql}");
    assert!(
        sql.contains("`role_name` VARCHAR(16) NOT NULL DEFAULT 'guest'"),
        "{sql}"
    );
    assert!(sql.contains("`owner` BINARY(16) NOT NULL"), "{sql}");
    assert!(
        sql.contains("CREATE INDEX `accounts_renamed_column_idx`"),
        "{sql}"
    );
}
