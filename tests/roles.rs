//! `#[role_model]` and role-based access control on every enabled backend, with the sync manager
//! and the async one (see `users_tests::manager_tests!`).

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_tests::{manager_tests, test_cases};

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {
    #[column(default = 0)]
    pub level: i32,
}

fn manager() -> Users<User, Role> {
    let config = UsersConfig::new([7u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .unwrap();
    Users::new(config)
}

fn migrations() -> Migrations {
    // Registered roles first on purpose: the join table still runs after the user table.
    Migrations::new().with::<Role>().with::<User>()
}

fn join_rows(conn: &mut impl users_tests::CountRows) -> i64 {
    conn.count_rows("user_roles")
}

fn permission_rows(conn: &mut impl users_tests::CountRows) -> i64 {
    conn.count_rows("role_permissions")
}

#[test_cases(manager_tests)]
mod cases {
    fn roles_are_created_found_renamed_and_deleted(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let admin = users
            .create_role(conn, "admin", Some("full access"))
            .unwrap();
        assert_eq!(
            (
                admin.name.as_str(),
                admin.description.as_deref(),
                admin.level
            ),
            ("admin", Some("full access"), 0)
        );
        assert!(matches!(
            users.create_role(conn, "admin", None),
            Err(UsersError::RoleExists)
        ));
        assert_eq!(users.find_role(conn, "admin").unwrap(), Some(admin.clone()));
        assert_eq!(users.find_role(conn, "nobody").unwrap(), None);
        assert!(matches!(
            users.role(conn, "nobody"),
            Err(UsersError::RoleNotFound)
        ));

        let editor = users.create_role(conn, "editor", None).unwrap();
        assert!(matches!(
            users.rename_role(conn, &editor, "admin"),
            Err(UsersError::RoleExists)
        ));
        let writer = users.rename_role(conn, &editor, "writer").unwrap();
        assert_eq!(users.role(conn, "writer").unwrap(), writer);
        assert_eq!(users.find_role(conn, "editor").unwrap(), None);
        let promoted = users
            .update_role(
                conn,
                &Role {
                    level: 5,
                    ..writer.clone()
                },
            )
            .unwrap();
        assert_eq!(users.role(conn, "writer").unwrap().level, 5);

        users.delete_role(conn, &promoted).unwrap();
        assert!(matches!(
            users.delete_role(conn, &promoted),
            Err(UsersError::RoleNotFound)
        ));
        assert!(matches!(
            users.update_role(conn, &promoted),
            Err(UsersError::RoleNotFound)
        ));
    }

    fn assignments_are_idempotent_and_revocable(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        users.assign_role(conn, &alice, &admin).unwrap();
        users.assign_role(conn, &alice, &admin).unwrap();
        assert_eq!(join_rows(db), 1);
        assert!(users.has_role(conn, &alice, "admin").unwrap());

        users.revoke_role(conn, &alice, &admin).unwrap();
        users.revoke_role(conn, &alice, &admin).unwrap();
        assert_eq!(join_rows(db), 0);
        assert!(!users.has_role(conn, &alice, "admin").unwrap());
    }

    fn role_names_are_normalised_so_lookalikes_are_one_role_or_refused(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, " Admin ", None).unwrap();
        assert_eq!(admin.name, "admin");
        for lookalike in ["admin ", "ADMIN", "ａｄｍｉｎ", "ＡＤＭＩＮ", " admin"] {
            let error = users.create_role(conn, lookalike, None).unwrap_err();
            assert!(
                matches!(error, UsersError::RoleExists),
                "{lookalike:?}: {error:?}"
            );
            assert_eq!(
                users.find_role(conn, lookalike).unwrap(),
                Some(admin.clone()),
                "{lookalike:?}"
            );
        }
        let long = "a".repeat(5_000);
        for invisible in [
            "ad\u{200B}min",
            "admin\u{200D}",
            "\u{FEFF}admin",
            "admin\u{E0100}",
            "ad\tmin",
            long.as_str(),
        ] {
            let error = users.create_role(conn, invisible, None).unwrap_err();
            assert!(
                matches!(error, UsersError::InvalidRoleName(_)),
                "{invisible:?}: {error:?}"
            );
            assert_eq!(users.find_role(conn, invisible).unwrap(), None);
            assert!(!users.has_role(conn, &alice, invisible).unwrap());
            assert!(matches!(
                users.users_with_role(conn, invisible),
                Err(UsersError::RoleNotFound)
            ));
        }
        let editor = users.create_role(conn, "editor", None).unwrap();
        assert!(matches!(
            users.rename_role(conn, &editor, "ＡＤＭＩＮ"),
            Err(UsersError::RoleExists)
        ));
        assert!(matches!(
            users.rename_role(conn, &editor, "ed\u{200B}itor"),
            Err(UsersError::InvalidRoleName(_))
        ));
        let renamed = users
            .update_role(
                conn,
                &Role {
                    name: "WRITER ".into(),
                    ..editor.clone()
                },
            )
            .unwrap();
        assert_eq!(renamed.name, "writer");
        assert_eq!(users.role(conn, "Writer").unwrap(), renamed);
        assert_eq!(users.find_role(conn, "editor").unwrap(), None);

        users.assign_role(conn, &alice, &admin).unwrap();
        assert!(users.has_role(conn, &alice, "ＡＤＭＩＮ").unwrap());
        assert!(users.has_role(conn, &alice, " Admin").unwrap());
        assert!(users
            .has_any_role(conn, &alice, &["ghost", "ADMIN"])
            .unwrap());
        assert!(users
            .has_all_roles(conn, &alice, &["admin", "ａｄｍｉｎ"])
            .unwrap());
        assert!(!users
            .has_all_roles(conn, &alice, &["admin", "ad\u{200B}min"])
            .unwrap());
        assert_eq!(
            users.users_with_role(conn, "ADMIN ").unwrap(),
            vec![alice.clone()]
        );
    }

    fn role_checks_answer_in_one_query_each(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        let editor = users.create_role(conn, "editor", None).unwrap();
        users.create_role(conn, "viewer", None).unwrap();
        users.assign_role(conn, &alice, &admin).unwrap();
        users.assign_role(conn, &alice, &editor).unwrap();
        users.assign_role(conn, &bob, &editor).unwrap();

        assert!(users.has_role(conn, &alice, "admin").unwrap());
        assert!(!users.has_role(conn, &bob, "admin").unwrap());
        assert!(!users.has_role(conn, &alice, "no such role").unwrap());

        assert!(users
            .has_any_role(conn, &bob, &["admin", "editor"])
            .unwrap());
        assert!(!users
            .has_any_role(conn, &bob, &["admin", "viewer"])
            .unwrap());
        assert!(!users.has_any_role(conn, &bob, &[]).unwrap());

        assert!(users
            .has_all_roles(conn, &alice, &["admin", "editor"])
            .unwrap());
        assert!(users
            .has_all_roles(conn, &alice, &["admin", "admin", "editor"])
            .unwrap());
        assert!(!users
            .has_all_roles(conn, &bob, &["admin", "editor"])
            .unwrap());
        assert!(!users
            .has_all_roles(conn, &alice, &["admin", "ghost"])
            .unwrap());
        assert!(users.has_all_roles(conn, &bob, &[]).unwrap());
    }

    fn roles_and_users_are_listed(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let carol = users
            .register(conn, "carol@example.com", "a long password")
            .unwrap();
        let viewer = users.create_role(conn, "viewer", None).unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        users.create_role(conn, "unused", None).unwrap();
        for (user, role) in [(&alice, &viewer), (&alice, &admin), (&carol, &viewer)] {
            users.assign_role(conn, user, role).unwrap();
        }

        assert_eq!(
            users.roles_of(conn, &alice).unwrap(),
            [admin.clone(), viewer.clone()]
        );
        assert!(users.roles_of(conn, &bob).unwrap().is_empty());

        let everyone = [alice.clone(), bob.clone(), carol.clone()];
        let grouped = users.roles_of_users(conn, &everyone).unwrap();
        assert_eq!(
            grouped,
            [
                vec![admin.clone(), viewer.clone()],
                vec![],
                vec![viewer.clone()]
            ]
        );
        assert!(users.roles_of_users(conn, &[]).unwrap().is_empty());
        // More users than any backend binds in one statement (SQLite: 32,766 values): read in
        // chunks, in order.
        let mut many: Vec<User> = (0..70_000)
            .map(|i| {
                User::from_credentials(Id::new(), format!("nobody{i}@example.com"), String::new())
            })
            .collect();
        many.insert(12_345, carol.clone());
        many.push(alice.clone());
        let grouped = users.roles_of_users(conn, &many).unwrap();
        assert_eq!(grouped.len(), many.len());
        assert_eq!(grouped[12_345], std::slice::from_ref(&viewer));
        assert_eq!(grouped[many.len() - 1], [admin.clone(), viewer.clone()]);
        assert_eq!(grouped.iter().filter(|roles| !roles.is_empty()).count(), 2);

        assert_eq!(
            users.users_with_role(conn, "viewer").unwrap(),
            [alice.clone(), carol.clone()]
        );
        assert!(users.users_with_role(conn, "unused").unwrap().is_empty());
        assert!(matches!(
            users.users_with_role(conn, "ghost"),
            Err(UsersError::RoleNotFound)
        ));
    }

    fn deleting_a_user_or_a_role_removes_its_assignments(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        let editor = users.create_role(conn, "editor", None).unwrap();
        for user in [&alice, &bob] {
            for role in [&admin, &editor] {
                users.assign_role(conn, user, role).unwrap();
            }
        }
        assert_eq!(join_rows(db), 4);

        users.delete(conn, alice.id).unwrap();
        assert_eq!(join_rows(db), 2);
        // Plain Diesel deletes cascade too, on SQLite without `PRAGMA foreign_keys` as well.
        diesel::delete(roles::table.find(admin.id))
            .execute(db)
            .unwrap();
        assert_eq!(join_rows(db), 1);
        assert_eq!(
            users.roles_of(conn, &bob).unwrap(),
            std::slice::from_ref(&editor)
        );

        assert!(matches!(
            users.assign_role(conn, &alice, &editor),
            Err(UsersError::UserNotFound)
        ));
        assert!(matches!(
            users.assign_role(conn, &bob, &admin),
            Err(UsersError::RoleNotFound)
        ));
        assert_eq!(join_rows(db), 1);
    }

    fn plain_diesel_joins_across_the_three_tables(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        let editor = users.create_role(conn, "editor", None).unwrap();
        users.assign_role(conn, &alice, &admin).unwrap();
        users.assign_role(conn, &bob, &editor).unwrap();

        let admins: Vec<String> = users::table
            .inner_join(user_roles::table.inner_join(roles::table))
            .filter(roles::name.eq("admin"))
            .select(users::email)
            .load(db)
            .unwrap();
        assert_eq!(admins, ["alice@example.com"]);

        let pairs: Vec<(User, Role)> = user_roles::table
            .inner_join(users::table)
            .inner_join(roles::table)
            .select((User::as_select(), Role::as_select()))
            .order(users::email)
            .load(db)
            .unwrap();
        assert_eq!(
            pairs,
            [(alice.clone(), admin.clone()), (bob.clone(), editor)]
        );

        let rows: Vec<UserRole> = UserRole::belonging_to(&alice).load(db).unwrap();
        assert_eq!(
            rows,
            [UserRole {
                user_id: alice.id,
                role_id: admin.id
            }]
        );
    }

    fn a_user_and_their_roles_are_read_in_one_query(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let writer = users.create_role(conn, "writer", None).unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        users.assign_role(conn, &alice, &writer).unwrap();
        users.assign_role(conn, &alice, &admin).unwrap();
        users.assign_role(conn, &bob, &writer).unwrap();

        // Alice's row once, her roles by name; Bob's one role is not hers.
        let (found, roles) = users.user_with_roles(conn, alice.id).unwrap().unwrap();
        assert_eq!(found, alice);
        assert_eq!(roles, [admin.clone(), writer.clone()]);
        // A user without roles is still found, with none.
        users.revoke_role(conn, &bob, &writer).unwrap();
        let (found, roles) = users.user_with_roles(conn, bob.id).unwrap().unwrap();
        assert_eq!((found, roles), (bob.clone(), vec![]));
        // No user, nothing.
        users.delete(conn, bob.id).unwrap();
        assert!(users.user_with_roles(conn, bob.id).unwrap().is_none());
    }

    fn permissions_are_granted_to_roles_and_checked_for_users(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let editor = users.create_role(conn, "editor", None).unwrap();
        let viewer = users.create_role(conn, "viewer", None).unwrap();
        users.assign_role(conn, &alice, &editor).unwrap();
        users.assign_role(conn, &bob, &viewer).unwrap();

        // Names are normalised as role names are: these are one permission.
        users.grant_permission(conn, &editor, "posts.edit").unwrap();
        users
            .grant_permission(conn, &editor, " Posts.Edit")
            .unwrap();
        users
            .grant_permission(conn, &editor, "ＰＯＳＴＳ.publish")
            .unwrap();
        users.grant_permission(conn, &viewer, "posts.read").unwrap();
        assert_eq!(
            users.permissions(conn, &editor).unwrap(),
            ["posts.edit", "posts.publish"]
        );
        assert_eq!(permission_rows(db), 3);
        assert!(matches!(
            users.grant_permission(conn, &editor, "posts\u{200B}.edit"),
            Err(UsersError::InvalidPermission(_))
        ));

        assert!(users.has_permission(conn, &alice, "POSTS.EDIT").unwrap());
        assert!(!users.has_permission(conn, &alice, "posts.read").unwrap());
        assert!(users.has_permission(conn, &bob, "posts.read").unwrap());
        assert!(!users.has_permission(conn, &bob, "posts.edit").unwrap());
        // A name no permission may have is simply not held.
        assert!(!users.has_permission(conn, &alice, "").unwrap());

        // Revoking, from the role or of the role, takes the permission away.
        assert!(users
            .revoke_permission(conn, &editor, "posts.edit")
            .unwrap());
        assert!(!users
            .revoke_permission(conn, &editor, "posts.edit")
            .unwrap());
        assert!(!users.has_permission(conn, &alice, "posts.edit").unwrap());
        assert!(users.has_permission(conn, &alice, "posts.publish").unwrap());
        users.revoke_role(conn, &alice, &editor).unwrap();
        assert!(!users.has_permission(conn, &alice, "posts.publish").unwrap());

        // Deleting a role deletes its permissions; a deleted role cannot be granted one.
        diesel::delete(roles::table.find(editor.id))
            .execute(db)
            .unwrap();
        assert_eq!(permission_rows(db), 1);
        assert!(matches!(
            users.grant_permission(conn, &editor, "posts.edit"),
            Err(UsersError::RoleNotFound)
        ));
    }

    fn role_migrations_revert_cleanly(conn: _, db: _) {
        assert_eq!(db.run_pending_migrations(migrations()).unwrap().len(), 2);
        assert!(db.run_pending_migrations(migrations()).unwrap().is_empty());
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        db.revert_last_migration(migrations()).unwrap();
        // With the role tables gone, users can still be deleted (no dangling triggers).
        users.delete(conn, alice.id).unwrap();
        assert_eq!(db.run_pending_migrations(migrations()).unwrap().len(), 1);
        users.create_role(conn, "admin", None).unwrap();
    }
}
