//! `#[org_model]` and the organization operations on every enabled backend, with the sync
//! manager and the async one (see `users_tests::manager_tests!`); the races are in
//! `concurrency.rs`.

use std::time::Duration;

use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_tests::{manager_tests, test_cases, CountRows};

#[user_model]
pub struct User {}

#[org_model]
pub struct Org {
    #[column(default = 5)]
    pub seats: i32,
}

fn config() -> UsersConfig {
    UsersConfig::new([7u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .and_then(|config| config.org_role("editor", &["posts.edit", "Posts.Publish"]))
        .and_then(|config| config.org_role("member", &["posts.read"]))
        .unwrap()
        .invitation_limits(4, 2)
}

fn manager() -> Users<User> {
    Users::new(config())
}

fn migrations() -> Migrations {
    // The organization model first on purpose: its tables still come after the user table.
    Migrations::new().with::<Org>().with::<User>()
}

#[test_cases(manager_tests)]
mod cases {
    fn organizations_are_created_seen_by_members_renamed_and_deleted(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();

        let acme: Org = users
            .create_org::<Org, _>(conn, &alice, "  Acme Corp ", None)
            .unwrap();
        assert_eq!(
            (acme.name.as_str(), acme.slug.as_str(), acme.seats),
            ("Acme Corp", "acme-corp", 5)
        );
        // The slug is unique after normalisation.
        assert!(matches!(
            users.create_org::<Org, _>(conn, &bob, "Other", Some("ACME  corp")),
            Err(UsersError::OrgExists)
        ));
        assert!(matches!(
            users.create_org::<Org, _>(conn, &bob, " ", None),
            Err(UsersError::InvalidOrgName(_))
        ));
        let zeta: Org = users
            .create_org::<Org, _>(conn, &bob, "Zeta", None)
            .unwrap();
        let beta: Org = users
            .create_org::<Org, _>(conn, &alice, "Beta", None)
            .unwrap();

        // The creator is the owner; someone outside sees no organization at all.
        let seen = users.org::<Org, _>(conn, &alice, acme.id).unwrap();
        assert_eq!((seen.org.id, seen.role.as_str()), (acme.id, "owner"));
        assert!(matches!(
            users.org::<Org, _>(conn, &bob, acme.id),
            Err(UsersError::OrgNotFound)
        ));
        let alices: Vec<_> = users
            .orgs::<Org, _>(conn, &alice)
            .unwrap()
            .into_iter()
            .map(|view| view.org.name)
            .collect();
        assert_eq!(alices, ["Acme Corp", "Beta"]);
        assert_eq!(users.orgs::<Org, _>(conn, &bob).unwrap()[0].org.id, zeta.id);

        // Renaming needs `org.update`; outsiders get 404.
        assert!(matches!(
            users.rename_org::<Org, _>(conn, &bob, acme.id, "Mine", None),
            Err(UsersError::OrgNotFound)
        ));
        let renamed = users
            .rename_org::<Org, _>(conn, &alice, acme.id, "Acme Inc", Some("acme"))
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.slug.as_str()),
            ("Acme Inc", "acme")
        );
        assert!(renamed.updated_at >= acme.updated_at);
        assert!(matches!(
            users.rename_org::<Org, _>(conn, &alice, beta.id, "Beta", Some("zeta")),
            Err(UsersError::OrgExists)
        ));

        // Deleting takes the members with it.
        assert!(matches!(
            users.delete_org::<Org, _>(conn, &bob, acme.id),
            Err(UsersError::OrgNotFound)
        ));
        users.delete_org::<Org, _>(conn, &alice, acme.id).unwrap();
        assert!(matches!(
            users.org::<Org, _>(conn, &alice, acme.id),
            Err(UsersError::OrgNotFound)
        ));
        assert_eq!(db.count_rows("org_members"), 2);
        // Deleting a user takes their memberships.
        users.delete(conn, bob.id).unwrap();
        assert_eq!(db.count_rows("org_members"), 1);
    }

    fn invitations_are_single_use_bound_to_their_address_and_capped(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let mut bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        let carol = users
            .register(conn, "carol@example.com", "a long password")
            .unwrap();
        let acme: Org = users
            .create_org::<Org, _>(conn, &alice, "Acme", None)
            .unwrap();

        let invited = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, " Bob@Example.com", Some("Editor"))
            .unwrap();
        assert_eq!(
            (
                invited.invitation.email.as_str(),
                invited.invitation.role.as_str()
            ),
            ("bob@example.com", "editor")
        );
        assert_eq!(invited.token.len(), 43);
        // Only the digest is stored.
        assert_ne!(invited.invitation.token_digest, invited.token);
        assert!(matches!(
            users.invite_to_org::<Org, _>(conn, &alice, acme.id, "dan@example.com", Some("nobody")),
            Err(UsersError::RoleNotFound)
        ));

        // Bound to its address, which must be verified.
        assert!(matches!(
            users.accept_invitation::<Org, _>(conn, &carol, &invited.token),
            Err(UsersError::InvitationForAnotherAddress)
        ));
        assert!(matches!(
            users.accept_invitation::<Org, _>(conn, &bob, &invited.token),
            Err(UsersError::UnverifiedUser)
        ));
        bob.is_verified = true;
        let bob = users.update(conn, &bob).unwrap();
        let joined = users
            .accept_invitation::<Org, _>(conn, &bob, &invited.token)
            .unwrap();
        assert_eq!((joined.org.id, joined.role.as_str()), (acme.id, "editor"));
        // Single use.
        assert!(matches!(
            users.accept_invitation::<Org, _>(conn, &bob, &invited.token),
            Err(UsersError::InvalidToken)
        ));
        assert!(matches!(
            users.accept_invitation::<Org, _>(conn, &bob, "not-a-token"),
            Err(UsersError::InvalidToken)
        ));
        // A member's address is not invited again.
        assert!(matches!(
            users.invite_to_org::<Org, _>(conn, &alice, acme.id, "bob@example.com", None),
            Err(UsersError::AlreadyMember)
        ));
        // An editor may not invite (no `invitations.create`).
        assert!(matches!(
            users.invite_to_org::<Org, _>(conn, &bob, acme.id, "dan@example.com", None),
            Err(UsersError::NotPermitted { .. })
        ));

        // Revoked and declined invitations stop working; both need the right party.
        let to_dan = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, "dan@example.com", None)
            .unwrap();
        assert_eq!(
            users
                .org_invitations::<Org, _>(conn, &alice, acme.id)
                .unwrap(),
            std::slice::from_ref(&to_dan.invitation)
        );
        assert!(matches!(
            users.revoke_invitation::<Org, _>(conn, &bob, acme.id, to_dan.invitation.id),
            Err(UsersError::NotPermitted { .. })
        ));
        users
            .revoke_invitation::<Org, _>(conn, &alice, acme.id, to_dan.invitation.id)
            .unwrap();
        assert!(matches!(
            users.invitation_of::<Org, _>(conn, &to_dan.token),
            Err(UsersError::InvalidToken)
        ));
        assert!(matches!(
            users.revoke_invitation::<Org, _>(conn, &alice, acme.id, to_dan.invitation.id),
            Err(UsersError::InvitationNotFound)
        ));
        let to_carol = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, "carol@example.com", None)
            .unwrap();
        assert!(matches!(
            users.decline_invitation::<Org, _>(conn, &bob, &to_carol.token),
            Err(UsersError::InvitationForAnotherAddress)
        ));
        users
            .decline_invitation::<Org, _>(conn, &carol, &to_carol.token)
            .unwrap();
        assert!(users
            .org_invitations::<Org, _>(conn, &alice, acme.id)
            .unwrap()
            .is_empty());

        // Capped: two pending per inviter, four per organization (this test's configuration).
        for address in ["e1@example.com", "e2@example.com"] {
            users
                .invite_to_org::<Org, _>(conn, &alice, acme.id, address, None)
                .unwrap();
        }
        assert!(matches!(
            users.invite_to_org::<Org, _>(conn, &alice, acme.id, "e3@example.com", None),
            Err(UsersError::TooManyInvitations)
        ));

        // A new user registering through an invitation is verified by it and a member.
        let to_erin = users
            .org_invitations::<Org, _>(conn, &alice, acme.id)
            .unwrap()
            .remove(0);
        assert_eq!(to_erin.email, "e1@example.com");
        users
            .revoke_invitation::<Org, _>(conn, &alice, acme.id, to_erin.id)
            .unwrap();
        let to_frank = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, "frank@example.com", Some("admin"))
            .unwrap();
        let (frank, view) = users
            .register_from_invitation::<Org, _>(conn, &to_frank.token, "a long password")
            .unwrap();
        assert!(frank.is_verified);
        assert_eq!(
            (frank.email.as_str(), view.role.as_str()),
            ("frank@example.com", "admin")
        );
        assert!(matches!(
            users.register_from_invitation::<Org, _>(conn, &to_frank.token, "a long password"),
            Err(UsersError::InvalidToken)
        ));
        let members: Vec<_> = users
            .org_members::<Org, _>(conn, &alice, acme.id)
            .unwrap()
            .into_iter()
            .map(|member| (member.user.email, member.membership.role))
            .collect();
        assert_eq!(
            members,
            [
                ("alice@example.com".to_owned(), "owner".to_owned()),
                ("bob@example.com".to_owned(), "editor".to_owned()),
                ("frank@example.com".to_owned(), "admin".to_owned()),
            ]
        );
    }

    fn expired_invitations_cannot_be_accepted(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(Users::<User>::new(
            config().invitation_lifetime(Duration::from_millis(1)),
        ));
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let mut bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        bob.is_verified = true;
        let bob = users.update(conn, &bob).unwrap();
        let acme: Org = users
            .create_org::<Org, _>(conn, &alice, "Acme", None)
            .unwrap();
        let invited = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, "bob@example.com", None)
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(
            users.accept_invitation::<Org, _>(conn, &bob, &invited.token),
            Err(UsersError::InvalidToken)
        ));
        // Nor do they count against the caps, nor show as pending.
        assert!(users
            .org_invitations::<Org, _>(conn, &alice, acme.id)
            .unwrap()
            .is_empty());
    }

    fn roles_permissions_and_the_last_owner(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let mut people = Vec::new();
        for name in ["alice", "bob", "carol", "dan"] {
            let mut user = users
                .register(conn, &format!("{name}@example.com"), "a long password")
                .unwrap();
            user.is_verified = true;
            people.push(users.update(conn, &user).unwrap());
        }
        let [alice, bob, carol, dan] = <[User; 4]>::try_from(people).unwrap();
        let acme: Org = users
            .create_org::<Org, _>(conn, &alice, "Acme", None)
            .unwrap();
        for (who, role) in [(&bob, "admin"), (&carol, "member"), (&dan, "editor")] {
            let invited = users
                .invite_to_org::<Org, _>(conn, &alice, acme.id, &who.email, Some(role))
                .unwrap();
            users
                .accept_invitation::<Org, _>(conn, who, &invited.token)
                .unwrap();
        }

        // Built-in and declared permissions; names normalised; outsiders hold none.
        let outsider = users
            .register(conn, "eve@example.com", "a long password")
            .unwrap();
        let mut can = |who: &User, permission: &str| {
            users
                .has_org_permission::<Org, _>(conn, who, acme.id, permission)
                .unwrap()
        };
        assert!(can(&alice, "org.delete") && can(&alice, "anything.at.all"));
        assert!(can(&bob, "members.update") && !can(&bob, "org.delete"));
        assert!(can(&carol, "members.read") && can(&carol, " Posts.Read"));
        assert!(!can(&carol, "invitations.create"));
        assert!(can(&dan, "posts.publish") && !can(&dan, "members.read"));
        assert!(!can(&dan, "posts\u{200B}.publish"));
        assert!(!can(&outsider, "members.read"));

        // An admin manages members but not owners.
        users
            .set_org_role::<Org, _>(conn, &bob, acme.id, carol.id, "editor")
            .unwrap();
        assert!(matches!(
            users.set_org_role::<Org, _>(conn, &bob, acme.id, carol.id, "owner"),
            Err(UsersError::NotPermitted { .. })
        ));
        assert!(matches!(
            users.set_org_role::<Org, _>(conn, &bob, acme.id, alice.id, "member"),
            Err(UsersError::NotPermitted { .. })
        ));
        assert!(matches!(
            users.remove_org_member::<Org, _>(conn, &bob, acme.id, alice.id),
            Err(UsersError::NotPermitted { .. })
        ));
        assert!(matches!(
            users.set_org_role::<Org, _>(conn, &dan, acme.id, carol.id, "member"),
            Err(UsersError::NotPermitted { .. })
        ));
        assert!(matches!(
            users.set_org_role::<Org, _>(conn, &bob, acme.id, outsider.id, "member"),
            Err(UsersError::UserNotFound)
        ));

        // The last owner can neither leave, nor be demoted, nor removed.
        assert!(matches!(
            users.leave_org::<Org, _>(conn, &alice, acme.id),
            Err(UsersError::LastOwner)
        ));
        assert!(matches!(
            users.set_org_role::<Org, _>(conn, &alice, acme.id, alice.id, "admin"),
            Err(UsersError::LastOwner)
        ));
        // With a second owner, the first may go.
        users
            .set_org_role::<Org, _>(conn, &alice, acme.id, bob.id, "owner")
            .unwrap();
        users.leave_org::<Org, _>(conn, &alice, acme.id).unwrap();
        assert!(matches!(
            users.org::<Org, _>(conn, &alice, acme.id),
            Err(UsersError::OrgNotFound)
        ));
        users
            .remove_org_member::<Org, _>(conn, &bob, acme.id, carol.id)
            .unwrap();
        // Any member may leave.
        users.leave_org::<Org, _>(conn, &dan, acme.id).unwrap();
        let left: Vec<_> = users
            .org_members::<Org, _>(conn, &bob, acme.id)
            .unwrap()
            .into_iter()
            .map(|member| member.user.id)
            .collect();
        assert_eq!(left, [bob.id]);
    }
}
