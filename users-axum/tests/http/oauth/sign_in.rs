//! Signing up, signing in, linking and unlinking with a provider, end to end.

use super::*;

http_tests! {
    a_new_person_signs_up_then_signs_in_as_the_same_user,
    an_address_is_linked_only_when_both_sides_verified_it,
    a_logged_in_user_links_and_unlinks_a_provider,
    github_signs_in_with_the_address_from_its_api,
    a_browser_lands_on_the_after_sign_in_page_with_a_session_cookie,
    a_second_factor_is_still_asked_after_a_provider_sign_in,
    linking_needs_a_proved_address_and_fresh_proof,
}

/// A new person signs up with the provider (no password, verified as the provider says),
/// signs in again as the same user, cannot unlink their only way in, sets a password through
/// the reset flow, then can.
async fn a_new_person_signs_up_then_signs_in_as_the_same_user(backend: Backend) {
    let app = App::start(backend).await;
    let first = app.sign_in("corp", "jane@example.com").await.expect(200);
    let me = app.me(&first.token()).await;
    assert_eq!(
        (me["email"].as_str(), me["is_verified"].as_bool()),
        (Some("jane@example.com"), Some(true))
    );
    let again = app.sign_in("corp", "jane@example.com").await.expect(200);
    assert_eq!(app.me(&again.token()).await["id"], me["id"]);

    let token = again.token();
    let linked = app
        .call(reqwest::Method::GET, "/users/me/oauth", &token, None)
        .await
        .expect(200);
    assert_eq!(linked.body["has_password"], false);
    assert_eq!(linked.body["accounts"][0]["provider"], "corp");
    assert_eq!(linked.body["accounts"][0]["email_verified"], true);
    // No password to guess: the provider's subject is not one, nor is an empty one.
    for password in ["jane@example.com", "", PASSWORD] {
        app.login("jane@example.com", password)
            .await
            .expect_error(401, "invalid_credentials");
    }
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &token,
        None,
    )
    .await
    .expect_error(409, "last_sign_in_method");

    // The reset flow sets a password; then the provider may go.
    let body = json!({ "email": "jane@example.com" });
    app.call(
        reqwest::Method::POST,
        "/auth/forgot-password",
        "",
        Some(body),
    )
    .await
    .expect(202);
    let reset = app.mail("jane@example.com", MailKind::PasswordReset).await;
    let body = json!({ "token": reset, "password": PASSWORD });
    app.call(
        reqwest::Method::POST,
        "/auth/reset-password",
        "",
        Some(body),
    )
    .await
    .expect(200);
    let token = app
        .login("jane@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let linked = app
        .call(reqwest::Method::GET, "/users/me/oauth", &token, None)
        .await
        .expect(200);
    assert_eq!(linked.body["has_password"], true);
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &token,
        None,
    )
    .await
    .expect(204);
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &token,
        None,
    )
    .await
    .expect_error(404, "not_found");
    // Unlinked, the provider account is a new person again: its address is taken by a verified
    // account, which it verified too, so it links back to it.
    let back = app.sign_in("corp", "jane@example.com").await.expect(200);
    assert_eq!(app.me(&back.token()).await["id"], me["id"]);
}

/// The linking rules: an account with the provider's address is linked only if both the
/// provider and the account verified it; a new user is verified only if the provider said so.
async fn an_address_is_linked_only_when_both_sides_verified_it(backend: Backend) {
    let app = App::start(backend).await;
    // Pre-registered, never verified (an attacker's, perhaps): not taken over, not handed over.
    app.register("victim@example.com", false).await;
    app.sign_in("corp", "victim@example.com")
        .await
        .expect_error(409, "email_taken");
    // Verified here, but the provider did not verify it: refused.
    app.register("bob@example.com", true).await;
    app.sign_in("corp", "unverified:bob@example.com")
        .await
        .expect_error(409, "email_taken");
    // Both verified: linked to the existing account.
    let local = app
        .login("bob@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let bob = app
        .sign_in("corp", "bob@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&bob).await["id"], app.me(&local).await["id"]);
    // A new person whose provider did not verify the address is not verified here.
    let carol = app
        .sign_in("corp", "unverified:carol@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&carol).await["is_verified"], false);
    // A provider account without an address cannot make a user.
    app.sign_in("corp", "noemail:dave")
        .await
        .expect_error(422, "invalid_email");
    // The refused sign-ins linked nothing: the victim's account has no provider account.
    let victim = app
        .login("victim@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let linked = app
        .call(reqwest::Method::GET, "/users/me/oauth", &victim, None)
        .await
        .expect(200);
    assert_eq!(linked.body["accounts"], json!([]));
}

/// A logged-in user links a provider account (whatever its address), then signs in with it;
/// another user cannot link the same account; unlinking works while a password remains.
async fn a_logged_in_user_links_and_unlinks_a_provider(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com", true).await;
    let alice = app
        .login("alice@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    // Associating needs a session.
    app.call(reqwest::Method::POST, "/auth/corp/associate", "", None)
        .await
        .expect_error(401, "unauthorized");

    let linked = associate(&app, &alice).await.expect(200);
    assert_eq!(linked.body["provider"], "corp");
    assert_eq!(linked.body["email"], "alice.work@example.org");
    // The provider account now signs Alice in.
    let via_corp = app
        .sign_in("corp", "alice.work@example.org")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&via_corp).await["email"], "alice@example.com");
    // Bob cannot link Alice's provider account to himself.
    app.register("bob@example.com", true).await;
    let bob = app
        .login("bob@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    associate(&app, &bob)
        .await
        .expect_error(409, "oauth_account_taken");
    // Alice has a password: unlinking is fine, and the provider account no longer signs her in
    // (it would make a new user of its unlinked address).
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &alice,
        None,
    )
    .await
    .expect(204);
    let new_user = app
        .sign_in("corp", "alice.work@example.org")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&new_user).await["email"], "alice.work@example.org");
}

/// GitHub: plain OAuth 2.0 with PKCE, the person's id and primary address from its API.
async fn github_signs_in_with_the_address_from_its_api(backend: Backend) {
    let app = App::start(backend).await;
    let octo = app
        .sign_in("github", "octocat@example.com")
        .await
        .expect(200)
        .token();
    let me = app.me(&octo).await;
    assert_eq!(
        (me["email"].as_str(), me["is_verified"].as_bool()),
        (Some("octocat@example.com"), Some(true))
    );
    let again = app
        .sign_in("github", "octocat@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&again).await["id"], me["id"]);
    let unverified = app
        .sign_in("github", "unverified:hubot@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&unverified).await["is_verified"], false);
    app.sign_in("github", "noemail:ghost")
        .await
        .expect_error(422, "invalid_email");
}

/// With `after_sign_in`, the browser lands there with the session cookie; a refusal lands there
/// too, with the error's code.
async fn a_browser_lands_on_the_after_sign_in_page_with_a_session_cookie(backend: Backend) {
    let app = App::start_with(
        backend,
        |state| state.session_cookie("session").unwrap(),
        |settings| settings.after_sign_in("/welcome"),
    )
    .await;
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "kim@example.com")
        .await;
    let plain = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let answer = plain
        .get(&callback)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    // A page that refreshes to the landing page (a same-site navigation, which carries the
    // SameSite=Strict session cookie), not a redirect.
    assert_eq!(answer.status(), StatusCode::OK);
    let headers = answer.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = answer.text().await.unwrap();
    assert!(page.contains(r#"content="0;url=/welcome""#), "{page}");
    let session = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|cookie| cookie.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with("session="))
        .expect("the session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me = reqwest::Client::new()
        .get(app.url("/users/me"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        Answer::of(me).await.expect(200).body["email"],
        "kim@example.com"
    );
    app.register("lee@example.com", false).await;
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "lee@example.com")
        .await;
    let refused = open_callback(&callback, Some(&cookie)).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert_eq!(refused.headers[LOCATION], "/welcome?error=email_taken");
}

/// A user with a second factor gives it after a provider sign-in too: the callback answers the
/// second factor's challenge, not a session.
async fn a_second_factor_is_still_asked_after_a_provider_sign_in(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com", true).await;
    let alice = app
        .login("alice@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let body = json!({ "password": PASSWORD });
    let enrolment = app
        .call(
            reqwest::Method::POST,
            "/users/me/mfa/totp",
            &alice,
            Some(body),
        )
        .await
        .expect(200);
    let secret = enrolment.body["secret"].as_str().unwrap();
    let code = users_diesel::totp_code(secret, std::time::SystemTime::now()).unwrap();
    let body = json!({ "code": code });
    app.call(
        reqwest::Method::POST,
        "/users/me/mfa/totp/confirm",
        &alice,
        Some(body),
    )
    .await
    .expect(200);
    associate(&app, &alice).await.expect(200);
    let answer = app
        .sign_in("corp", "alice.work@example.org")
        .await
        .expect(200);
    assert_eq!(answer.body["mfa_required"], true, "{}", answer.body);
    assert!(answer.body["access_token"].is_null(), "{}", answer.body);
    assert!(answer.body["mfa_token"].is_string());
}

/// Linking a provider adds a way in: a session alone, or an unproved address, adds none (#27).
async fn linking_needs_a_proved_address_and_fresh_proof(backend: Backend) {
    let app = App::start(backend).await;
    // Whoever registered an address they do not own cannot link their provider account to it.
    app.register("victim@example.com", false).await;
    let squatter = app
        .login("victim@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let body = json!({ "password": PASSWORD });
    app.call(
        reqwest::Method::POST,
        "/auth/corp/associate",
        &squatter,
        Some(body),
    )
    .await
    .expect_error(403, "unverified_user");
    // A stolen session of a verified account needs the password (or a factor) too.
    app.register("alice@example.com", true).await;
    let alice = app
        .login("alice@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    for (body, status, code) in [
        (json!({}), 422, "invalid_field"),
        (
            json!({ "password": "not the password" }),
            401,
            "invalid_credentials",
        ),
    ] {
        app.call(
            reqwest::Method::POST,
            "/auth/corp/associate",
            &alice,
            Some(body),
        )
        .await
        .expect_error(status, code);
    }
    associate(&app, &alice).await.expect(200);
}
