//! `schema = …`: the models of `tests/schema.rs`, bound to the `schema.rs` that
//! `diesel print-schema` printed for their migrations on each backend
//! (`tests/fixtures/schema/print-schema.sh` regenerates them), and used for real.
//!
//! SQLite's fixture uses only portable SQL types (`Binary` ids), so it is checked in every
//! build. PostgreSQL's native `Uuid` and MySQL's `Datetime` exist on their own backend only, so
//! those fixtures compile where that backend is the only one enabled, as in an application that
//! printed its schema from it; `.ci/run` builds this test once per backend for them.

/// The models of `tests/schema.rs`, bound to the schema printed on `$backend`, and a test that
/// migrates, verifies and uses them through the manager and plain Diesel.
macro_rules! bound_models {
    ($backend:ident) => {
        use diesel::prelude::*;
        use diesel_migrations::MigrationHarness;
        use users_diesel::prelude::*;

        #[allow(clippy::pedantic)]
        mod schema {
            include!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/schema/",
                stringify!($backend),
                ".rs"
            ));
        }

        #[user_model(schema = schema::users, timestamps)]
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

        #[role_model(schema = schema::roles)]
        pub struct Role {
            #[column(default = 0)]
            pub level: i16,
        }

        #[test]
        fn printed_schema_binds_and_works() {
            let mut db = users_tests::$backend();
            let conn = &mut *db;
            conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>())
                .unwrap();
            users_diesel::verify_schema::<User, _>(conn).unwrap();
            users_diesel::verify_schema::<Role, _>(conn).unwrap();

            let config = UsersConfig::new([3u8; 32])
                .and_then(|config| config.argon2_params(8, 1, 1))
                .unwrap();
            let users = Users::<User, Role>::new(config);
            let alice = users
                .register_with(conn, "Alice@Example.com", "a long password", |u| {
                    u.handle = "alice".into();
                    u.avatar = Some(vec![1, 2, 3]);
                })
                .unwrap();
            assert_eq!(
                users
                    .authenticate(conn, "alice@example.com", "a long password")
                    .unwrap(),
                alice
            );
            let admin = users.create_role(conn, "admin", None).unwrap();
            users.assign_role(conn, &alice, &admin).unwrap();
            assert!(users.has_role(conn, &alice, "admin").unwrap());
            assert_eq!(users.roles_of(conn, &alice).unwrap(), vec![admin]);
            assert_eq!(
                users.users_with_role(conn, "admin").unwrap(),
                vec![alice.clone()]
            );

            // Plain Diesel on the printed schema, with the typed id.
            let found: User = schema::users::table.find(alice.id).first(conn).unwrap();
            assert_eq!(found, alice);
            let handles: Vec<String> = schema::users::table
                .inner_join(schema::user_roles::table.inner_join(schema::roles::table))
                .filter(schema::roles::name.eq("admin"))
                .select(schema::users::handle)
                .load(conn)
                .unwrap();
            assert_eq!(handles, ["alice"]);
        }
    };
}

#[cfg(feature = "sqlite")]
mod sqlite {
    bound_models!(sqlite);
}

#[cfg(all(feature = "postgres", not(feature = "sqlite"), not(feature = "mysql")))]
mod postgres {
    bound_models!(postgres);
}

#[cfg(all(feature = "mysql", not(feature = "sqlite"), not(feature = "postgres")))]
mod mysql {
    bound_models!(mysql);
}
