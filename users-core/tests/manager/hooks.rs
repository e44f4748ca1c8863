use super::*;

/// Records every hook call, fails the one named in `fail_at`, and wants a digit in passwords.
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
    fail_at: Option<&'static str>,
}

impl Recorder {
    fn failing_at(event: &'static str) -> Self {
        Recorder {
            fail_at: Some(event),
            ..Recorder::default()
        }
    }

    fn record(&self, event: &str, user: &TestUser) -> Result<(), UsersError> {
        self.events
            .lock()
            .unwrap()
            .push(format!("{event} {}", user.email));
        if self.fail_at == Some(event) {
            return Err(UsersError::database(format!("{event} hook refused")));
        }
        Ok(())
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl UsersHooks<TestUser> for Recorder {
    fn validate_password(&self, password: &str) -> Result<(), String> {
        if password.chars().any(|c| c.is_ascii_digit()) {
            Ok(())
        } else {
            Err("it needs a digit".to_owned())
        }
    }
    fn after_register(&self, user: &TestUser) -> Result<(), UsersError> {
        self.record("after_register", user)
    }
    fn after_login(&self, user: &TestUser) -> Result<(), UsersError> {
        self.record("after_login", user)
    }
    fn after_verify(&self, user: &TestUser) -> Result<(), UsersError> {
        self.record("after_verify", user)
    }
    fn after_reset(&self, user: &TestUser) -> Result<(), UsersError> {
        self.record("after_reset", user)
    }
    fn after_update(&self, user: &TestUser) -> Result<(), UsersError> {
        self.record("after_update", user)
    }
    fn before_delete(&self, user: &TestUser) -> Result<(), UsersError> {
        self.record("before_delete", user)
    }
}

fn hooked(recorder: &Recorder) -> Users<TestUser> {
    users().with_hooks(recorder.clone())
}

const DIGITS: &str = "s3cret password";
const MORE_DIGITS: &str = "an0ther s3cret";

#[test]
fn run_in_the_order_of_the_operations() {
    let recorder = Recorder::default();
    let users = hooked(&recorder);
    let mut conn = MemConn::default();
    let alice = users
        .register(&mut conn, "alice@example.com", DIGITS)
        .unwrap();
    users
        .authenticate(&mut conn, "alice@example.com", DIGITS)
        .unwrap();
    let _ = users.authenticate(&mut conn, "alice@example.com", "wrong 1");
    let alice = users
        .verify(&mut conn, &users.verification_token(&alice).unwrap())
        .unwrap();
    let alice = users
        .change_password(&mut conn, &alice, DIGITS, MORE_DIGITS)
        .unwrap();
    let alice = users.set_password(&mut conn, &alice, DIGITS).unwrap();
    users
        .set_email(&mut conn, &alice, "alice@example.org")
        .unwrap();
    let token = users
        .password_reset_token(&mut conn, "alice@example.org")
        .unwrap()
        .unwrap();
    users
        .reset_password(&mut conn, &token, MORE_DIGITS)
        .unwrap();
    users.delete(&mut conn, alice.id).unwrap();
    assert_eq!(
        recorder.events(),
        [
            "after_register alice@example.com",
            "after_login alice@example.com",
            "after_verify alice@example.com",
            "after_update alice@example.com",
            "after_update alice@example.com",
            "after_update alice@example.org",
            "after_reset alice@example.org",
            "before_delete alice@example.org",
        ]
    );
}

#[test]
fn password_rules_from_the_hook_apply_to_every_new_password() {
    let strict = hooked(&Recorder::default());
    let mut conn = MemConn::default();
    let error = strict
        .register(&mut conn, "alice@example.com", "no digits at all")
        .unwrap_err();
    assert!(
        matches!(&error, UsersError::InvalidPassword(PasswordProblem::Rejected(reason)) if reason == "it needs a digit")
    );
    assert!(conn.users.is_empty());
    let alice = strict
        .register(&mut conn, "alice@example.com", DIGITS)
        .unwrap();
    assert_err(
        strict.set_password(&mut conn, &alice, "no digits at all"),
        "InvalidPassword",
    );
    // Existing passwords are not re-validated at login.
    users()
        .set_password(&mut conn, &alice, "no digits at all")
        .unwrap();
    strict
        .authenticate(&mut conn, "alice@example.com", "no digits at all")
        .unwrap();
}

#[test]
fn a_failing_after_register_leaves_no_user() {
    let recorder = Recorder::failing_at("after_register");
    let users = hooked(&recorder);
    let mut conn = MemConn::default();
    let error = users
        .register(&mut conn, "alice@example.com", DIGITS)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "database error: after_register hook refused"
    );
    assert!(conn.users.is_empty());
    assert_eq!(recorder.events(), ["after_register alice@example.com"]);
}

#[test]
fn failing_hooks_roll_their_operation_back() {
    let users = users();
    let (mut conn, alice) = with_alice(&users);
    let stored = conn.users.clone();
    let with_failing = |event| users.clone().with_hooks(Recorder::failing_at(event));

    let mut edited = alice.clone();
    edited.nickname = "changed".to_owned();
    assert_err(
        with_failing("after_update").update(&mut conn, &edited),
        "Database",
    );
    assert_err(
        with_failing("after_update").set_password(&mut conn, &alice, "n3w password, again"),
        "Database",
    );
    let token = users.verification_token(&alice).unwrap();
    assert_err(
        with_failing("after_verify").verify(&mut conn, &token),
        "Database",
    );
    let reset = reset_token(&users, &mut conn);
    assert_err(
        with_failing("after_reset").reset_password(&mut conn, &reset, "n3w password, again"),
        "Database",
    );
    assert_err(
        with_failing("before_delete").delete(&mut conn, alice.id),
        "Database",
    );
    assert_eq!(conn.users, stored, "nothing changed");

    // The tokens survived the rolled-back operations.
    users.verify(&mut conn, &token).unwrap();
    users
        .reset_password(&mut conn, &reset, "n3w password, again")
        .unwrap();
}

#[test]
fn a_failing_after_login_rolls_back_a_rehash() {
    let (mut conn, alice) = with_alice(&users());
    let current: Users<TestUser> = Users::new(UsersConfig::new(SECRET).unwrap())
        .with_hooks(Recorder::failing_at("after_login"));
    assert_err(
        current.authenticate(&mut conn, "alice@example.com", PASSWORD),
        "Database",
    );
    assert_eq!(conn.stored(alice.id).password_hash, alice.password_hash);
}

fn reset_token(users: &Users<TestUser>, conn: &mut MemConn) -> String {
    users
        .password_reset_token(conn, "alice@example.com")
        .unwrap()
        .unwrap()
}
