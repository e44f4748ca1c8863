//! The flow's defences: the `state` bound to its browser, PKCE, the ID token's nonce and audience.

use super::*;

http_tests! {
    forged_and_replayed_states_are_refused,
    a_code_without_its_pkce_verifier_is_refused,
    a_wrong_nonce_or_another_audience_is_refused,
}

/// The `state` is bound to the browser that started the flow: a forged one, the callback of
/// another browser's flow (login CSRF), and a callback replayed after it was used are refused.
async fn forged_and_replayed_states_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    // The attacker runs the flow with their own provider account, and stops at the callback.
    let (url, attacker_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "mallory@example.com")
        .await;

    // A victim's browser opening the attacker's callback (login CSRF): it has no flow...
    open_callback(&callback, None)
        .await
        .expect_error(400, "invalid_state");
    // ...or a flow of its own, whose state is not the attacker's.
    let (_, victim_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    open_callback(&callback, Some(&victim_cookie))
        .await
        .expect_error(400, "invalid_state");
    // A forged state, with the attacker's own cookie.
    let forged = with_param(&callback, "state", "forged");
    open_callback(&forged, Some(&attacker_cookie))
        .await
        .expect_error(400, "invalid_state");
    // A forged cookie: the state sealed under another secret does not open.
    let altered = attacker_cookie.replacen("__Host-users_oauth=", "__Host-users_oauth=A", 1);
    open_callback(&callback, Some(&altered))
        .await
        .expect_error(400, "invalid_state");
    // A flow cookie of another provider's flow.
    let (_, github_cookie) = start_flow(&app, "/auth/github/authorize").await;
    open_callback(&callback, Some(&github_cookie))
        .await
        .expect_error(400, "invalid_state");
    // Nobody signed in as Mallory so far; the attacker's own complete flow does.
    open_callback(&callback, Some(&attacker_cookie))
        .await
        .expect(200);

    // A browser's flow that succeeded cannot be replayed: its cookie is cleared...
    let browser = app.browser();
    let callback = app
        .provider_side(
            &browser,
            &app.url("/auth/corp/authorize"),
            "erin@example.com",
        )
        .await;
    let done = browser.get(&callback).send().await.unwrap();
    let cleared = done.headers().get_all(SET_COOKIE).iter().any(|cookie| {
        let cookie = cookie.to_str().unwrap();
        cookie.starts_with("__Host-users_oauth=;") && cookie.contains("Max-Age=0")
    });
    assert!(cleared, "{:?}", done.headers());
    Answer::of(done).await.expect(200);
    Answer::of(browser.get(&callback).send().await.unwrap())
        .await
        .expect_error(400, "invalid_state");
    // ...and with a copy of the cookie kept, the code is used up at the provider.
    let (url, kept) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "frank@example.com")
        .await;
    open_callback(&callback, Some(&kept)).await.expect(200);
    open_callback(&callback, Some(&kept))
        .await
        .expect_error(400, "oauth_refused");
    // An `iss` that is not the provider's (RFC 9207: a mix-up).
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "gina@example.com")
        .await;
    let mixed_up = with_param(&callback, "iss", "https://evil.example.com");
    open_callback(&mixed_up, Some(&cookie))
        .await
        .expect_error(400, "oauth_refused");
    // A provider's refusal is said as one.
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let state = param(&url, "state");
    let denied = app.url(&format!(
        "/auth/corp/callback?error=access_denied&state={state}"
    ));
    open_callback(&denied, Some(&cookie))
        .await
        .expect_error(400, "oauth_denied");
    // An unknown provider.
    open_callback(&app.url("/auth/nope/authorize"), None)
        .await
        .expect_error(404, "not_found");
}

/// PKCE: the authorization URL carries an S256 challenge; a code presented without its verifier
/// is refused by the provider, and a code stolen from one browser's flow is useless in another
/// browser's flow, whose verifier does not match it.
async fn a_code_without_its_pkce_verifier_is_refused(backend: Backend) {
    let app = App::start(backend).await;
    let (url, victim_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    assert_eq!(param(&url, "code_challenge_method"), "S256");
    assert_eq!(param(&url, "code_challenge").len(), 43);
    let victim_callback = app
        .provider_side(&app.browser(), &url, "victim@example.com")
        .await;
    let code = param(&victim_callback, "code");

    // The code sent to the token endpoint without a verifier.
    let token_endpoint = format!("{}/token", app.provider.issuer);
    let redirect_uri = app.url("/auth/corp/callback");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect_uri),
    ];
    let answer = reqwest::Client::new()
        .post(&token_endpoint)
        .basic_auth("users-app", Some("users-app-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let answer = Answer::of(answer).await.expect(400);
    assert_eq!(answer.body["error"], "invalid_grant");

    // The stolen code injected into the attacker's own flow: state and cookie match, the
    // verifier does not.
    let (url, attacker_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let injected = app.url(&format!(
        "/auth/corp/callback?code={code}&state={}",
        param(&url, "state")
    ));
    open_callback(&injected, Some(&attacker_cookie))
        .await
        .expect_error(400, "oauth_refused");

    // The victim's own flow still completes, as the victim.
    let victim = open_callback(&victim_callback, Some(&victim_cookie))
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&victim).await["email"], "victim@example.com");
}

/// The ID token is validated: a token (signed by the provider's own key) with another nonce,
/// for another audience, expired or from another issuer is refused, and creates no user.
async fn a_wrong_nonce_or_another_audience_is_refused(backend: Backend) {
    let app = App::start(backend).await;
    for claims in [
        json!({ "nonce": "not-the-nonce" }),
        json!({ "aud": "other-app" }),
        json!({ "aud": ["other-app"] }),
        json!({ "exp": 1 }),
        json!({ "iss": "https://evil.example.com" }),
    ] {
        app.provider.tamper(claims.clone()).await;
        let answer = app.sign_in("corp", "ivan@example.com").await;
        assert_eq!(answer.status.as_u16(), 400, "{claims}: {}", answer.body);
        answer.expect_error(400, "oauth_refused");
    }
    // No user was made: the address is free.
    app.register("ivan@example.com", false).await;
    // An untampered token passes (so the refusals above were the tampering's), as a new person.
    let judy = app
        .sign_in("corp", "judy@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&judy).await["email"], "judy@example.com");
}
