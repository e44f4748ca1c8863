//! Passkeys over HTTP with webauthn-authenticator-rs's software passkey (feature `passkeys`).
#![cfg(feature = "passkeys")]

use reqwest::Method;
use serde_json::{json, Value};
use users_tests::webauthn_authenticator_rs;

use crate::support::*;

http_tests! {
    in sqlite_passkeys, postgres_passkeys, mysql_passkeys;
    a_passkey_registers_completes_a_login_and_signs_in_once_per_ceremony,
    a_ceremony_state_is_sealed_to_its_user_and_kind,
}

/// The origin the relying party expects, and the software authenticator's browser claims.
const ORIGIN: &str = "https://localhost";

impl App {
    /// The app with passkeys on, for `localhost`.
    async fn with_passkeys(backend: Backend) -> App {
        App::start_with(backend, |state| {
            state.passkeys("localhost", ORIGIN).unwrap()
        })
        .await
    }

    /// Registers a passkey of `authenticator` for the session's user, named `name`.
    async fn register_passkey(
        &self,
        session: &str,
        authenticator: &mut webauthn_authenticator_rs::softpasskey::SoftPasskey,
        name: &str,
    ) -> Value {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let start = self
            .call(
                Method::POST,
                "/users/me/passkeys/register/start",
                session,
                Some(json!({ "password": PASSWORD })),
            )
            .await
            .expect(200)
            .body;
        let options = serde_json::from_value(start["options"].clone()).unwrap();
        let credential = authenticator
            .do_registration(ORIGIN.parse().unwrap(), options)
            .expect("the authenticator registers");
        let finish = json!({ "state": start["state"], "credential": credential, "name": name });
        self.call(
            Method::POST,
            "/users/me/passkeys/register/finish",
            session,
            Some(finish),
        )
        .await
        .expect(201)
        .body
    }

    /// A passwordless sign-in's ceremony for `email`: its options and state.
    async fn passkey_sign_in(&self, email: &str) -> Value {
        self.post("/auth/passkey/start", json!({ "email": email }))
            .await
            .expect(200)
            .body
    }

    /// The authenticator's answer to a ceremony's `options`.
    fn sign(
        authenticator: &mut webauthn_authenticator_rs::softpasskey::SoftPasskey,
        options: &Value,
    ) -> Value {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let options = serde_json::from_value(options.clone()).unwrap();
        let assertion = authenticator
            .do_authentication(ORIGIN.parse().unwrap(), options)
            .expect("the authenticator signs");
        serde_json::to_value(assertion).unwrap()
    }
}

async fn a_passkey_registers_completes_a_login_and_signs_in_once_per_ceremony(backend: Backend) {
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    let app = App::with_passkeys(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let mut laptop = SoftPasskey::new(true);
    let registered = app.register_passkey(&session, &mut laptop, "laptop").await;
    assert_eq!(registered["name"], "laptop");
    let list = app
        .get("/users/me/passkeys", &session)
        .await
        .expect(200)
        .body;
    assert_eq!(list["passkeys"].as_array().unwrap().len(), 1);

    // A password login now asks for the passkey.
    let answer = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(answer["methods"], json!(["passkey"]), "{answer}");
    let token = answer["mfa_token"].as_str().unwrap();
    let ceremony = app
        .post("/auth/mfa/passkey", json!({ "mfa_token": token }))
        .await
        .expect(200)
        .body;
    let assertion = App::sign(&mut laptop, &ceremony["options"]);
    let done = json!({ "mfa_token": token, "passkey": assertion, "state": ceremony["state"] });
    let login = app.post("/auth/mfa", done.clone()).await.expect(200).body;
    app.get("/users/me", login["access_token"].as_str().unwrap())
        .await
        .expect(200);
    // The pending token, and the ceremony, work once.
    app.post("/auth/mfa", done)
        .await
        .expect_error(401, "invalid_token");

    // Passwordless: the passkey alone signs in, once per ceremony.
    let start = app.passkey_sign_in("alice@example.com").await;
    let assertion = App::sign(&mut laptop, &start["options"]);
    let finish =
        json!({ "email": "alice@example.com", "state": start["state"], "credential": assertion });
    let signed_in = app
        .post("/auth/passkey/finish", finish.clone())
        .await
        .expect(200)
        .body;
    app.get("/users/me", signed_in["access_token"].as_str().unwrap())
        .await
        .expect(200);
    app.post("/auth/passkey/finish", finish)
        .await
        .expect_error(401, "invalid_token");

    // Another authenticator's answer is refused, and so is a user without passkeys.
    let start = app.passkey_sign_in("alice@example.com").await;
    let mut stranger = SoftPasskey::new(true);
    assert!(
        {
            use webauthn_authenticator_rs::WebauthnAuthenticator;
            let options = serde_json::from_value(start["options"].clone()).unwrap();
            stranger
                .do_authentication(ORIGIN.parse().unwrap(), options)
                .is_err()
        },
        "a passkey it does not hold cannot sign"
    );
    app.register_verified("bob@example.com").await;
    app.post("/auth/passkey/start", json!({ "email": "bob@example.com" }))
        .await
        .expect_error(401, "invalid_credentials");

    // Removing the passkey needs the password; then the password alone logs in again.
    let id = registered["id"].as_str().unwrap();
    let path = format!("/users/me/passkeys/{id}");
    app.call(
        Method::DELETE,
        &path,
        &session,
        Some(json!({ "password": "wrong password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.call(
        Method::DELETE,
        &path,
        &session,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect(204);
    app.login("alice@example.com").await;
}

async fn a_ceremony_state_is_sealed_to_its_user_and_kind(backend: Backend) {
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    let app = App::with_passkeys(backend).await;
    app.register_verified("alice@example.com").await;
    app.register_verified("bob@example.com").await;
    let alice = app.login("alice@example.com").await;
    let bob = app.login("bob@example.com").await;
    let mut key = SoftPasskey::new(true);
    app.register_passkey(&alice, &mut key, "key").await;

    // A session alone adds no passkey (a stolen one would sign in without the password).
    for (body, status, code) in [
        (Some(json!({})), 422, "invalid_field"),
        (
            Some(json!({ "password": "not the password" })),
            401,
            "invalid_credentials",
        ),
    ] {
        app.call(
            Method::POST,
            "/users/me/passkeys/register/start",
            &bob,
            body,
        )
        .await
        .expect_error(status, code);
    }

    // Alice's registration state is useless to Bob, and an altered one opens for nobody.
    let start = app
        .call(
            Method::POST,
            "/users/me/passkeys/register/start",
            &alice,
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    let options = serde_json::from_value(start["options"].clone()).unwrap();
    let credential = {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        SoftPasskey::new(true)
            .do_registration(ORIGIN.parse().unwrap(), options)
            .unwrap()
    };
    let stolen = json!({ "state": start["state"], "credential": credential });
    app.call(
        Method::POST,
        "/users/me/passkeys/register/finish",
        &bob,
        Some(stolen),
    )
    .await
    .expect_error(400, "invalid_token");
    let mut altered = start["state"].as_str().unwrap().to_owned().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = json!({ "state": String::from_utf8(altered).unwrap(), "credential": credential });
    app.call(
        Method::POST,
        "/users/me/passkeys/register/finish",
        &alice,
        Some(altered),
    )
    .await
    .expect_error(400, "invalid_token");

    // A sign-in state is no second-factor state.
    let sign_in = app.passkey_sign_in("alice@example.com").await;
    let assertion = App::sign(&mut key, &sign_in["options"]);
    let token = app.pending_login("alice@example.com").await;
    let crossed = json!({ "mfa_token": token, "passkey": assertion, "state": sign_in["state"] });
    app.post("/auth/mfa", crossed)
        .await
        .expect_error(400, "invalid_token");

    // A second-factor answer is bound to its pending login: with another login's token, a
    // captured one is refused.
    let first = app.pending_login("alice@example.com").await;
    let start = app
        .post("/auth/mfa/passkey", json!({ "mfa_token": first }))
        .await
        .expect(200)
        .body;
    let assertion = App::sign(&mut key, &start["options"]);
    let second = app.pending_login("alice@example.com").await;
    let captured = json!({ "mfa_token": second, "passkey": assertion, "state": start["state"] });
    app.post("/auth/mfa", captured)
        .await
        .expect_error(400, "invalid_token");
}
