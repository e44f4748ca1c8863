//! Roles and role-based access control on an embedded SQLite file.
//!
//! Run it with `cargo run --example rbac`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;

#[user_model]
pub struct User {
    pub display_name: Option<String>,
}

/// Roles, with the `user_roles` join table to `User` generated beside them.
#[role_model]
pub struct Role {}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = std::env::temp_dir().join("users-rbac.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>())?;

    let users = Users::<User, Role>::new(UsersConfig::new(
        "a secret of at least 32 bytes, from a vault",
    )?);
    let alice = users.register(
        &mut conn,
        "alice@example.com",
        "correct horse battery staple",
    )?;
    let bob = users.register(&mut conn, "bob@example.com", "another long password")?;

    let admin = users.create_role(&mut conn, "admin", Some("full access"))?;
    let editor = users.create_role(&mut conn, "editor", Some("writes articles"))?;
    users.assign_role(&mut conn, &alice, &admin)?;
    users.assign_role(&mut conn, &alice, &admin)?; // idempotent
    users.assign_role(&mut conn, &alice, &editor)?;
    users.assign_role(&mut conn, &bob, &editor)?;

    println!(
        "alice is admin: {}",
        users.has_role(&mut conn, &alice, "admin")?
    );
    println!(
        "bob is admin: {}",
        users.has_role(&mut conn, &bob, "admin")?
    );
    println!(
        "bob is admin or editor: {}",
        users.has_any_role(&mut conn, &bob, &["admin", "editor"])?
    );
    println!(
        "alice is admin and editor: {}",
        users.has_all_roles(&mut conn, &alice, &["admin", "editor"])?
    );

    // Permissions belong to roles; a user holds one through any of their roles.
    users.grant_permission(&mut conn, &editor, "posts.edit")?;
    users.grant_permission(&mut conn, &admin, "users.manage")?;
    println!(
        "editor's permissions: {:?}",
        users.permissions(&mut conn, &editor)?
    );
    println!(
        "bob may edit posts: {}, manage users: {}",
        users.has_permission(&mut conn, &bob, "posts.edit")?,
        users.has_permission(&mut conn, &bob, "users.manage")?
    );

    let names = |roles: Vec<Role>| roles.into_iter().map(|r| r.name).collect::<Vec<_>>();
    println!(
        "alice's roles: {:?}",
        names(users.roles_of(&mut conn, &alice)?)
    );
    let editors = users.users_with_role(&mut conn, "editor")?;
    println!(
        "editors: {:?}",
        editors.iter().map(|u| &u.email).collect::<Vec<_>>()
    );

    // The roles of many users at once, in one query.
    let everyone: Vec<User> = users::table.order(users::email).load(&mut conn)?;
    for (user, roles) in everyone
        .iter()
        .zip(users.roles_of_users(&mut conn, &everyone)?)
    {
        println!("{} has {:?}", user.email, names(roles));
    }

    // The generated tables join like any Diesel tables.
    let admins: Vec<String> = users::table
        .inner_join(user_roles::table.inner_join(roles::table))
        .filter(roles::name.eq("admin"))
        .select(users::email)
        .load(&mut conn)?;
    println!("admins by plain Diesel join: {admins:?}");

    users.revoke_role(&mut conn, &alice, &admin)?;
    users.delete_role(&mut conn, &editor)?;
    println!(
        "after revoking admin and deleting editor, alice has {:?}",
        names(users.roles_of(&mut conn, &alice)?)
    );
    Ok(())
}
