//! Sessions: bearer tokens and cookies, logout, refresh, the session list, idle and stateless sessions.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::Method;
use serde_json::json;
use users_axum::{MailKind, UsersState};
use users_diesel::prelude::*;
use users_diesel::{TokenPurpose, TokenSigner, Uuid};

use crate::support::*;

http_tests! {
    bad_session_tokens_are_refused,
    an_expired_session_is_refused,
    a_logged_out_token_is_refused_and_other_sessions_stay,
    cookie_sessions_work_like_bearer_tokens,
    a_host_prefixed_cookie_session_is_ended_only_by_a_same_site_logout,
    stored_sessions_are_listed_and_ended_one_by_one_or_all_others,
    refresh_tokens_rotate_and_a_replayed_one_ends_the_session,
    a_forged_refresh_token_ends_nothing,
    a_password_change_ends_every_other_session_and_renews_this_one,
    an_idle_session_ends_and_a_busy_one_lives_on,
    stateless_sessions_have_no_refresh_and_no_session_routes,
}

async fn bad_session_tokens_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.get("/users/me", &session).await.expect(200);

    let missing = app
        .send(app.request(Method::GET, "/users/me", None))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(missing.headers[WWW_AUTHENTICATE], "Bearer");

    let mut tampered = session.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = &session[..session.len() - 1];
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    for token in [
        "garbage",
        "",
        tampered.as_str(),
        truncated,
        &format!("{session}A"),
        &verification,
    ] {
        app.get("/users/me", token)
            .await
            .expect_error(401, "invalid_token");
    }
    // Another scheme is not a bearer token.
    app.send(
        app.request(Method::GET, "/users/me", None)
            .header(AUTHORIZATION, format!("Basic {session}")),
    )
    .await
    .expect_error(401, "invalid_token");
    // Signed with another secret.
    let foreign = {
        let signer = TokenSigner::new(&UsersConfig::new([7u8; 32]).unwrap());
        let me = app.get("/users/me", &session).await.body;
        let user = User::from_credentials(
            me["id"].as_str().unwrap().parse::<Uuid>().unwrap().into(),
            "alice@example.com".into(),
            String::new(),
        );
        signer.issue(
            TokenPurpose::Session,
            &user,
            std::time::SystemTime::now(),
            Duration::from_secs(3600),
        )
    };
    app.get("/users/me", &foreign)
        .await
        .expect_error(401, "invalid_token");
}

async fn an_expired_session_is_refused(backend: Backend) {
    let app = App::start_with(backend, |state| {
        state.session_lifetime(Duration::from_secs(2))
    })
    .await;
    app.register("alice@example.com").await;
    let answer = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert_eq!(answer.body["expires_in"], 2);
    let session = answer.body["access_token"].as_str().unwrap().to_owned();
    app.get("/users/me", &session).await.expect(200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
}

async fn a_logged_out_token_is_refused_and_other_sessions_stay(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let laptop = app.login("alice@example.com").await;
    let phone = app.login("alice@example.com").await;
    assert_ne!(laptop, phone);

    app.call(Method::POST, "/auth/logout", &laptop, None)
        .await
        .expect(204);
    app.get("/users/me", &laptop)
        .await
        .expect_error(401, "invalid_token");
    app.call(Method::POST, "/auth/logout", &laptop, None)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &phone).await.expect(200);
    app.send(app.request(Method::POST, "/auth/logout", None))
        .await
        .expect_error(401, "unauthorized");
}

/// The token that a `Set-Cookie` value stores in the cookie `name`.
fn cookie_token(set_cookie: &str, name: &str) -> String {
    let value = set_cookie
        .strip_prefix(&format!("{name}="))
        .unwrap_or_else(|| panic!("{set_cookie}"));
    let token = value.split(';').next().unwrap().to_owned();
    assert!(!token.is_empty(), "{set_cookie}");
    token
}

async fn cookie_sessions_work_like_bearer_tokens(backend: Backend) {
    let app = App::start_with(backend, |state| {
        state.session_cookie("users_session").unwrap()
    })
    .await;
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    let set_cookie = login.headers[SET_COOKIE].to_str().unwrap().to_owned();
    // The cookie holds an access token of the same stored session that lasts as long as the
    // session (30 days by default): each request checks the session's row anyway, and a
    // browser has no use for the refresh token.
    let token = cookie_token(&set_cookie, "users_session");
    assert!(login.body["refresh_token"].is_string());
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=2592000",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }

    let cookie = format!("theme=dark; users_session={token}");
    let with_cookie = |method, path: &str| {
        app.request(method, path, None)
            .header(COOKIE, cookie.clone())
    };
    let me = app
        .send(with_cookie(Method::GET, "/users/me"))
        .await
        .expect(200);
    assert_eq!(me.body["email"], "alice@example.com");

    let logout = app
        .send(with_cookie(Method::POST, "/auth/logout"))
        .await
        .expect(204);
    let cleared = logout.headers[SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("users_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    app.send(with_cookie(Method::GET, "/users/me"))
        .await
        .expect_error(401, "invalid_token");
    // A cleared cookie is no session at all.
    app.send(
        app.request(Method::GET, "/users/me", None)
            .header(COOKIE, "users_session="),
    )
    .await
    .expect_error(401, "unauthorized");
}

async fn a_host_prefixed_cookie_session_is_ended_only_by_a_same_site_logout(backend: Backend) {
    const COOKIE_NAME: &str = "__Host-session";
    let app = App::start_with(backend, |state| state.session_cookie(COOKIE_NAME).unwrap()).await;
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    // What browsers demand of a `__Host-` cookie: Secure, Path=/ and no Domain.
    let set_cookie = login.headers[SET_COOKIE].to_str().unwrap().to_owned();
    let token = cookie_token(&set_cookie, COOKIE_NAME);
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert!(
        attributes.contains(&"Secure") && attributes.contains(&"Path=/"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.to_ascii_lowercase().contains("domain"),
        "{set_cookie}"
    );

    let cookie = format!("{COOKIE_NAME}={token}");
    let logout = |headers: &[(&str, &str)]| {
        let mut request = app
            .request(Method::POST, "/auth/logout", None)
            .header(COOKIE, cookie.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        app.send(request)
    };
    let me = || {
        app.send(
            app.request(Method::GET, "/users/me", None)
                .header(COOKIE, cookie.clone()),
        )
    };

    // No session at all: 401.
    app.send(app.request(Method::POST, "/auth/logout", None))
        .await
        .expect_error(401, "unauthorized");
    // Another site's page making the browser post the cookie: 403, and the session stays.
    let host = app.base.trim_start_matches("http://").to_owned();
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", app.base.as_str()),
        ],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
    ] {
        logout(&headers).await.expect_error(403, "forbidden");
        me().await.expect(200);
    }
    // The site's own page: the session ends.
    let origin = format!("http://{host}");
    logout(&[
        ("sec-fetch-site", "same-origin"),
        ("origin", origin.as_str()),
    ])
    .await
    .expect(204);
    me().await.expect_error(401, "invalid_token");

    // Without fetch metadata, a same-origin `Origin` is enough; a bearer token needs neither.
    let second = app.login("alice@example.com").await;
    let cookie = format!("{COOKIE_NAME}={second}");
    app.send(
        app.request(Method::POST, "/auth/logout", None)
            .header(COOKIE, cookie)
            .header("origin", origin.as_str()),
    )
    .await
    .expect(204);
    let third = app.login("alice@example.com").await;
    app.send(
        app.request(Method::POST, "/auth/logout", Some(&third))
            .header("sec-fetch-site", "cross-site"),
    )
    .await
    .expect(204);
}

async fn stored_sessions_are_listed_and_ended_one_by_one_or_all_others(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.register("bob@example.com").await;
    let (laptop, _) = tokens(&app.login_from("alice@example.com", "Laptop/1.0").await);
    let (phone, _) = tokens(&app.login_from("alice@example.com", "Phone/2.0").await);
    let (tablet, _) = tokens(&app.login_from("alice@example.com", "Tablet/3.0").await);
    let bob = app.login("bob@example.com").await;

    let list = app
        .get("/users/me/sessions", &laptop)
        .await
        .expect(200)
        .body;
    let sessions = list["sessions"].as_array().unwrap();
    let agents: Vec<&str> = sessions
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap())
        .collect();
    assert_eq!(
        agents,
        ["Tablet/3.0", "Phone/2.0", "Laptop/1.0"],
        "newest first: {list}"
    );
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, false, true]);
    assert_eq!(sessions[0]["client"], "127.0.0.1");
    assert!(sessions[0]["expires_at"].as_str().unwrap().ends_with('Z'));
    let phone_id = sessions[1]["id"].as_str().unwrap().to_owned();

    // Bob cannot end Alice's session: it is not his.
    app.call(
        Method::DELETE,
        &format!("/users/me/sessions/{phone_id}"),
        &bob,
        None,
    )
    .await
    .expect_error(404, "not_found");
    app.get("/users/me", &phone).await.expect(200);
    // Alice can: "log out my phone".
    app.call(
        Method::DELETE,
        &format!("/users/me/sessions/{phone_id}"),
        &laptop,
        None,
    )
    .await
    .expect(204);
    app.get("/users/me", &phone)
        .await
        .expect_error(401, "invalid_token");
    app.call(
        Method::DELETE,
        &format!("/users/me/sessions/{phone_id}"),
        &laptop,
        None,
    )
    .await
    .expect_error(404, "not_found");
    app.call(
        Method::DELETE,
        "/users/me/sessions/not-a-uuid",
        &laptop,
        None,
    )
    .await
    .expect_error(400, "bad_request");

    // "Log out everywhere else": the tablet ends, the laptop and Bob stay.
    let ended = app
        .call(Method::DELETE, "/users/me/sessions", &laptop, None)
        .await
        .expect(200)
        .body;
    assert_eq!(ended["ended"], 1);
    app.get("/users/me", &tablet)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &laptop).await.expect(200);
    app.get("/users/me", &bob).await.expect(200);
    let list = app
        .get("/users/me/sessions", &laptop)
        .await
        .expect(200)
        .body;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);

    // A logout deletes the row: the token is refused wherever the table is read.
    app.call(Method::POST, "/auth/logout", &laptop, None)
        .await
        .expect(204);
    app.get("/users/me", &laptop)
        .await
        .expect_error(401, "invalid_token");
}

async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_session(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let login = app.login_from("alice@example.com", "App/1.0").await;
    assert_eq!(login["expires_in"], 900, "15-minute access tokens: {login}");
    let (access, first) = tokens(&login);

    let renewed = app.refresh(&first).await.expect(200).body;
    let (new_access, second) = tokens(&renewed);
    // Access tokens carry the session's id, so within one second they are the same token;
    // refresh tokens never are.
    assert_ne!(second, first);
    app.get("/users/me", &new_access).await.expect(200);
    // The same session: one row, its refresh digest replaced.
    let list = app
        .get("/users/me/sessions", &new_access)
        .await
        .expect(200)
        .body;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);

    // The retired token, replayed (a thief's copy, or the owner's after the thief used it):
    // the whole session ends, the thief's and the owner's tokens alike.
    app.refresh(&first).await.expect_error(401, "invalid_token");
    app.refresh(&second)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &new_access)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &access)
        .await
        .expect_error(401, "invalid_token");

    // An access token is no refresh token, nor the reverse.
    let (access, refresh) = tokens(&app.login_from("alice@example.com", "App/1.0").await);
    app.refresh(&access)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &refresh)
        .await
        .expect_error(401, "invalid_token");
    app.refresh(&refresh).await.expect(200);
    app.post("/auth/refresh", json!({}))
        .await
        .expect_error(422, "invalid_field");
}

async fn a_forged_refresh_token_ends_nothing(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let (access, refresh) = tokens(&app.login_from("alice@example.com", "App/1.0").await);
    // Anyone can read a session's id off a token; only a token we signed may end a session,
    // or a stranger could log anyone out by guessing.
    let mut forged = refresh.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    app.refresh(&forged)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &access).await.expect(200);
    app.refresh(&refresh).await.expect(200);
}

async fn a_password_change_ends_every_other_session_and_renews_this_one(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let (laptop, _) = tokens(&app.login_from("alice@example.com", "Laptop/1.0").await);
    let (phone, phone_refresh) = tokens(&app.login_from("alice@example.com", "Phone/2.0").await);
    let before = app
        .get("/users/me/sessions", &laptop)
        .await
        .expect(200)
        .body;
    let laptop_id = before["sessions"][1]["id"].clone();

    let changed = app
        .call(
            Method::PATCH,
            "/users/me",
            &laptop,
            Some(json!({ "password": NEW_PASSWORD, "current_password": PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    let (renewed, renewed_refresh) = tokens(&changed["session"]);
    app.get("/users/me", &phone)
        .await
        .expect_error(401, "invalid_token");
    app.refresh(&phone_refresh)
        .await
        .expect_error(401, "invalid_token");
    // The laptop's old token was bound to the old password hash; its session lives on with
    // the new tokens.
    app.get("/users/me", &laptop)
        .await
        .expect_error(401, "invalid_token");
    let after = app
        .get("/users/me/sessions", &renewed)
        .await
        .expect(200)
        .body;
    let sessions = after["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{after}");
    assert_eq!(sessions[0]["id"], laptop_id);
    app.refresh(&renewed_refresh).await.expect(200);

    // A reset ends every session, rows and all.
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    let token = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    app.post(
        "/auth/reset-password",
        json!({ "token": token, "password": PASSWORD }),
    )
    .await
    .expect(200);
    assert_eq!(app.db.stored_sessions(), 0);
}

async fn an_idle_session_ends_and_a_busy_one_lives_on(backend: Backend) {
    let app = App::start_with(backend, |state| state.idle_timeout(Duration::from_secs(3))).await;
    app.register("alice@example.com").await;
    let idle = app.login("alice@example.com").await;
    let busy = app.login("alice@example.com").await;
    // The busy session is used every 1.2 s (its last-seen time is written at most every
    // 0.75 s, a quarter of the timeout), past the timeout counted from login.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        app.get("/users/me", &busy).await.expect(200);
    }
    app.get("/users/me", &idle)
        .await
        .expect_error(401, "invalid_token");
    // Timed out, the row is gone for good.
    let list = app.get("/users/me/sessions", &busy).await.expect(200).body;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    app.get("/users/me", &busy)
        .await
        .expect_error(401, "invalid_token");
}

async fn stateless_sessions_have_no_refresh_and_no_session_routes(backend: Backend) {
    let mut app = App::start_with(backend, UsersState::stateless_sessions).await;
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert!(login.get("refresh_token").is_none(), "{login}");
    assert_eq!(
        login["expires_in"],
        24 * 60 * 60,
        "one idle timeout: {login}"
    );
    let token = login["access_token"].as_str().unwrap();
    app.get("/users/me", token).await.expect(200);
    app.get("/users/me/sessions", token)
        .await
        .expect_error(404, "not_found");
    app.refresh(token).await.expect_error(404, "not_found");
    // Nothing is stored; a logout is on the revocation list.
    assert_eq!(app.db.stored_sessions(), 0);
    app.call(Method::POST, "/auth/logout", token, None)
        .await
        .expect(204);
    app.get("/users/me", token)
        .await
        .expect_error(401, "invalid_token");
}
