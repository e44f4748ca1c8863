//! A team being built on an embedded SQLite file: an organization, an invitation mailed and
//! accepted, a new member who registers through one, roles with permissions, and the last owner
//! kept.
//!
//! Run it with `cargo run --example teams`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;

#[user_model]
pub struct User {}

/// Organizations, with their members and invitations tables generated beside them.
#[org_model]
pub struct Org {
    #[column(default = 5)]
    pub seats: i32,
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = std::env::temp_dir().join("users-teams.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.run_pending_migrations(Migrations::new().with::<User>().with::<Org>())?;

    // An application role beside the built-in owner, admin and member.
    let config = UsersConfig::new("a secret of at least 32 bytes, from a vault")?
        .org_role("editor", &["posts.edit", "posts.publish"])?
        .org_role("member", &["posts.read"])?;
    let users = Users::<User>::new(config);
    let mut alice = users.register(
        &mut conn,
        "alice@example.com",
        "correct horse battery staple",
    )?;
    alice.is_verified = true;
    let alice = users.update(&mut conn, &alice)?;
    let mut bob = users.register(&mut conn, "bob@example.com", "another long passphrase")?;
    bob.is_verified = true;
    let bob = users.update(&mut conn, &bob)?;

    // Alice creates the organization and owns it.
    let acme: Org = users.create_org(&mut conn, &alice, "Acme Corp", None)?;
    println!(
        "created {} ({}), {} seats",
        acme.name, acme.slug, acme.seats
    );

    // She invites Bob as an editor: the token goes to his address, only its digest is stored.
    let invited = users.invite_to_org::<Org, _>(
        &mut conn,
        &alice,
        acme.id,
        "bob@example.com",
        Some("editor"),
    )?;
    println!(
        "[mail to bob@example.com] invitation token: {}",
        invited.token
    );
    let joined = users.accept_invitation::<Org, _>(&mut conn, &bob, &invited.token)?;
    println!("bob joined {} as {}", joined.org.name, joined.role);
    assert!(matches!(
        users.accept_invitation::<Org, _>(&mut conn, &bob, &invited.token),
        Err(UsersError::InvalidToken)
    ));

    // Carol has no account yet: the invitation registers her, verified by it.
    let to_carol =
        users.invite_to_org::<Org, _>(&mut conn, &alice, acme.id, "carol@example.com", None)?;
    let (carol, view) = users.register_from_invitation::<Org, _>(
        &mut conn,
        &to_carol.token,
        "a third long passphrase",
    )?;
    println!(
        "carol registered (verified: {}) and joined as {}",
        carol.is_verified, view.role
    );

    // Permissions: built in, declared, and none for outsiders.
    for (who, user) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        let publish =
            users.has_org_permission::<Org, _>(&mut conn, user, acme.id, "posts.publish")?;
        let invite =
            users.has_org_permission::<Org, _>(&mut conn, user, acme.id, "invitations.create")?;
        println!("{who}: posts.publish {publish}, invitations.create {invite}");
    }
    assert!(matches!(
        users.invite_to_org::<Org, _>(&mut conn, &bob, acme.id, "dan@example.com", None),
        Err(UsersError::NotPermitted { .. })
    ));

    // The last owner cannot leave; with a second owner she can.
    assert!(matches!(
        users.leave_org::<Org, _>(&mut conn, &alice, acme.id),
        Err(UsersError::LastOwner)
    ));
    users.set_org_role::<Org, _>(&mut conn, &alice, acme.id, bob.id, "owner")?;
    users.leave_org::<Org, _>(&mut conn, &alice, acme.id)?;
    for member in users.org_members::<Org, _>(&mut conn, &bob, acme.id)? {
        println!("member {} ({})", member.user.email, member.membership.role);
    }
    println!(
        "alice's organizations: {}",
        users.orgs::<Org, _>(&mut conn, &alice)?.len()
    );
    Ok(())
}
