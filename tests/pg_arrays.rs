//! PostgreSQL arrays, in a build whose only backend is PostgreSQL (CI:
//! `cargo test --no-default-features --features postgres --test pg_arrays`): migrated,
//! verified, round-tripped through the store and plain Diesel, and carried forward as a new
//! column. With another backend enabled, an array field is one compile error
//! (`tests/ui/types/array_with_sqlite.rs`).
#![cfg(all(feature = "postgres", not(feature = "sqlite"), not(feature = "mysql")))]

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_diesel::verify_schema;

mod v1 {
    use users_diesel::prelude::*;

    #[user_model]
    pub struct User {
        pub tags: Vec<String>,
    }
}

mod v2 {
    use users_diesel::prelude::*;

    #[user_model]
    pub struct User {
        pub tags: Vec<String>,
        pub scores: Option<Vec<i32>>,
        pub flags: Option<Vec<bool>>,
    }
}

#[test]
fn arrays_migrate_verify_and_round_trip() {
    let mut db = users_tests::postgres();
    let conn = &mut *db;
    conn.run_pending_migrations(Migrations::new().with::<v1::User>())
        .unwrap();
    verify_schema::<v1::User, _>(conn).unwrap();

    let users = Users::<v1::User>::new(UsersConfig::new([9; 32]).unwrap());
    let alice = users
        .register_with(conn, "alice@example.com", "a long password", |u| {
            u.tags = vec!["admin".into(), "beta, \"quoted\"".into()];
        })
        .unwrap();
    let found = users.get(conn, alice.id).unwrap().unwrap();
    assert_eq!(found.tags, ["admin", "beta, \"quoted\""]);
    let tagged: Vec<String> = v1::users::table
        .filter(v1::users::tags.contains(vec!["admin".to_owned()]))
        .select(v1::users::email)
        .load(conn)
        .unwrap();
    assert_eq!(tagged, ["alice@example.com"]);

    // A later release adds nullable arrays; the rows stay.
    conn.run_pending_migrations(Migrations::new().with::<v2::User>())
        .unwrap();
    verify_schema::<v2::User, _>(conn).unwrap();
    let mut alice: v2::User = v2::users::table.first(conn).unwrap();
    assert_eq!((alice.tags.len(), alice.scores.clone()), (2, None));
    alice.scores = Some(vec![3, 1, 2]);
    alice.flags = Some(vec![true, false]);
    let users = Users::<v2::User>::new(UsersConfig::new([9; 32]).unwrap());
    let stored = users.update(conn, &alice).unwrap();
    assert_eq!(stored.scores, Some(vec![3, 1, 2]));
    assert_eq!(stored.flags, Some(vec![true, false]));
}

#[test]
fn the_migration_files_spell_arrays_as_postgresql_does() {
    let sql = &Migrations::new()
        .with::<v2::User>()
        .sql(users_diesel::Dialect::Postgres)[0]
        .up;
    assert!(sql.contains("\"tags\" TEXT[] NOT NULL"), "{sql}");
    assert!(sql.contains("\"scores\" INTEGER[],"), "{sql}");
    assert!(sql.contains("\"flags\" BOOLEAN[]"), "{sql}");
}
