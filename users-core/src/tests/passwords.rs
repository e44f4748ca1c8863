//! The password rules as the manager applies them to a new password of a user: the length
//! bounds, then the strength estimate (with the user's email counted against the password),
//! then the application's hook, each refusal a `PasswordProblem` of its own.

use crate::{PasswordProblem, UserModel, Users, UsersConfig, UsersError, UsersHooks, Uuid};

super::support::test_user!();

/// A hook with a rule of the application's own.
struct NoStaples;

impl UsersHooks<TestUser> for NoStaples {
    fn validate_password(&self, password: &str) -> Result<(), String> {
        if password.contains("staple") {
            Err("it must not mention staples".to_owned())
        } else {
            Ok(())
        }
    }
}

fn users(config: UsersConfig) -> Users<TestUser> {
    Users::new(config.argon2_params(8, 1, 1).unwrap()).with_hooks(NoStaples)
}

fn config() -> UsersConfig {
    UsersConfig::new(b"a unit test secret of 32+ bytes, at least").unwrap()
}

fn zygmunt() -> TestUser {
    TestUser::from_credentials(
        Uuid::now_v7(),
        "zygmunt.krasicki@example.com".to_owned(),
        String::new(),
    )
}

fn problem(result: Result<(), UsersError>) -> PasswordProblem {
    match result {
        Err(UsersError::InvalidPassword(problem)) => problem,
        other => panic!("expected InvalidPassword, got {other:?}"),
    }
}

#[test]
fn each_rule_refuses_with_its_own_problem() {
    let users = users(config());
    let zygmunt = zygmunt();
    let check = |password: &str| users.validate_password_for(password, &zygmunt);
    assert_eq!(
        problem(check("short")),
        PasswordProblem::TooShort { min_chars: 8 }
    );
    assert_eq!(
        problem(check(&"x".repeat(4097))),
        PasswordProblem::TooLong { max_bytes: 4096 }
    );
    let weak = problem(check("password"));
    assert!(
        matches!(
            &weak,
            PasswordProblem::TooWeak {
                score: 0,
                required: 3,
                warning: Some(_),
                ..
            }
        ),
        "{weak:?}"
    );
    assert_eq!(
        problem(check("correct horse battery staple")),
        PasswordProblem::Rejected("it must not mention staples".to_owned())
    );
    check("tr0ub4dor&3-but-longer").unwrap();
    assert_eq!(
        UsersError::InvalidPassword(weak.clone()).to_string(),
        format!("invalid password: {weak}")
    );
}

#[test]
fn a_password_made_of_the_users_email_is_weak_for_that_user_only() {
    let users = users(config());
    let zygmunt = zygmunt();
    for password in ["krasickizygmunt", "zygmunt.krasicki@example.com"] {
        assert!(
            matches!(
                problem(users.validate_password_for(password, &zygmunt)),
                PasswordProblem::TooWeak { .. }
            ),
            "{password}"
        );
        // For no user in particular, or for another one, it is hard enough to guess.
        users.validate_password(password).unwrap();
        let mut other = zygmunt.clone();
        other.set_email("alice@example.com".to_owned());
        users.validate_password_for(password, &other).unwrap();
    }
    users
        .validate_password_for("tr0ub4dor&3-but-longer", &zygmunt)
        .unwrap();
}

#[test]
fn score_zero_leaves_the_length_rules_and_the_hook() {
    let users = users(config().password_strength(0).unwrap());
    let zygmunt = zygmunt();
    for weak in ["password", "12345678", "krasickizygmunt"] {
        users.validate_password_for(weak, &zygmunt).unwrap();
    }
    assert_eq!(
        problem(users.validate_password_for("1234567", &zygmunt)),
        PasswordProblem::TooShort { min_chars: 8 }
    );
    assert_eq!(
        problem(users.validate_password_for("stapler!", &zygmunt)),
        PasswordProblem::Rejected("it must not mention staples".to_owned())
    );
}

#[test]
fn a_stricter_score_refuses_more_and_the_rules_run_in_order() {
    let users = users(config().password_strength(4).unwrap());
    let zygmunt = zygmunt();
    assert!(matches!(
        problem(users.validate_password_for("a fine password", &zygmunt)),
        PasswordProblem::TooWeak {
            score: 3,
            required: 4,
            ..
        }
    ));
    // Too short beats too weak, and too weak beats the hook.
    assert_eq!(
        problem(users.validate_password_for("staple", &zygmunt)),
        PasswordProblem::TooShort { min_chars: 8 }
    );
    assert!(matches!(
        problem(users.validate_password_for("staplestaple", &zygmunt)),
        PasswordProblem::TooWeak { .. }
    ));
}
