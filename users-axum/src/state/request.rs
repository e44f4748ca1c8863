//! What runs per request: a session started, read and checked, a guarded proof, a mail sent,
//! and the guard layers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::StatusCode;
use users_diesel::{
    EventKind, EventQuery, GuardKeys, Proof, ProofOutcome, SecurityEvent, SessionOrigin,
    SessionTokens, SignIns, TokenPurpose, UserModel, UsersError,
};

use super::{guarded_names, UsersState};
use crate::guard::{self, GuardLayer, Rule};
use crate::mailer::Mail;
use crate::session::{self, NewSession};
use crate::{ApiError, CurrentUser, ErrorCode, Profile};

impl<U: Profile> UsersState<U> {
    /// Starts a session for `user`, as `POST /auth/login` does after checking the password:
    /// for an application's own ways of logging a user in. `origin` is what the session list
    /// shows of where it came from.
    ///
    /// # Errors
    ///
    /// A database or pool failure (500 `internal`).
    pub async fn start_session(
        &self,
        user: &U,
        origin: SessionOrigin,
    ) -> Result<NewSession, ApiError> {
        if !self.settings.stored {
            let lifetime = self.stateless_lifetime();
            let token = self
                .signer
                .issue(TokenPurpose::Session, user, SystemTime::now(), lifetime);
            return Ok(NewSession {
                cookie_token: token.clone(),
                access_token: token,
                expires_in: lifetime,
                refresh_token: None,
                cookie_lifetime: lifetime,
            });
        }
        let client = origin.client.clone();
        let tokens = self
            .pooled
            .start_session(user, origin, self.policy())
            .await?;
        if self.mailed_notices().new_client_sign_in {
            self.notice_new_client(user, client).await?;
        }
        Ok(self.new_session(user, tokens))
    }

    /// Mails `user` a notice if the session just started is the first from `client`.
    async fn notice_new_client(&self, user: &U, client: Option<String>) -> Result<(), ApiError> {
        if client.is_none() || !self.pooled.records_events() {
            return Ok(());
        }
        let query = EventQuery {
            user_id: Some(user.id().into()),
            kinds: vec![EventKind::SessionStarted],
            client,
            limit: 2,
            ..EventQuery::default()
        };
        let mut started = self.pooled.events(&query).await?;
        if started.len() == 1 {
            self.mail(Mail::notice(user.clone(), started.remove(0)));
        }
        Ok(())
    }

    /// Mails `user` a notice of `kind` (about `detail`) if [`Notices`](super::Notices) asks
    /// for it (`wanted`).
    pub(crate) fn notice(&self, wanted: bool, user: &U, kind: EventKind, detail: Option<&str>) {
        if wanted {
            let mut event = SecurityEvent::new(kind, user.id().into());
            event.detail = detail.map(str::to_owned);
            self.mail(Mail::notice(user.clone(), event));
        }
    }

    /// A layer for [`Router::route_layer`](axum::Router::route_layer) that refuses requests
    /// without a valid session (401).
    pub fn require_login(&self) -> GuardLayer<U> {
        guard::layer(self.clone(), Rule::Login)
    }

    /// A layer that refuses requests without a valid session (401) or whose user has not
    /// verified their email address (403 `unverified_user`).
    pub fn require_verified(&self) -> GuardLayer<U> {
        guard::layer(self.clone(), Rule::Verified)
    }

    /// A layer that refuses requests without a valid session (401) or whose user lacks the
    /// role `name` (403 `forbidden`). The name is compared after
    /// [`normalize_role_name`](users_diesel::normalize_role_name), as the manager compares it.
    ///
    /// # Panics
    ///
    /// If `name` is no valid role name (empty, over 64 characters, with invisible
    /// characters): a guard no one could pass is a configuration error, reported when the
    /// router is built rather than as a 403 to every request.
    pub fn require_role(&self, name: impl Into<String>) -> GuardLayer<U> {
        let names = guarded_names("require_role", [name.into()]);
        guard::layer(self.clone(), Rule::Roles(names, true))
    }

    /// A layer that refuses requests without a valid session (401) or whose user has none of
    /// the roles named (403 `forbidden`).
    ///
    /// # Panics
    ///
    /// If `names` is empty or one of them is no valid role name, as
    /// [`require_all_roles`](Self::require_all_roles).
    pub fn require_any_role<I, S>(&self, names: I) -> GuardLayer<U>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = guarded_names("require_any_role", names);
        guard::layer(self.clone(), Rule::Roles(names, false))
    }

    /// A layer that refuses requests without a valid session (401) or whose user lacks one of
    /// the roles named (403 `forbidden`).
    ///
    /// # Panics
    ///
    /// If `names` is empty: "every role of none" holds for every user, so such a guard would
    /// admit anyone with a session, which is never what a role guard is written for (an empty
    /// list usually comes from a configuration that failed to load). Use
    /// [`require_login`](Self::require_login) to admit every user. Also if one of the names is
    /// no valid role name (see [`require_role`](Self::require_role)). The panic happens when the
    /// router is built, before it serves a request.
    pub fn require_all_roles<I, S>(&self, names: I) -> GuardLayer<U>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = guarded_names("require_all_roles", names);
        guard::layer(self.clone(), Rule::Roles(names, true))
    }
}

impl<U: UserModel> UsersState<U> {
    /// What a login answers for the stored session `tokens` of `user`: its access and refresh
    /// tokens, and for the cookie (if cookies are on) an access token that lasts as long as
    /// the session, since every request checks the session's row anyway and a browser has no
    /// use for a refresh token.
    pub(crate) fn new_session(&self, user: &U, tokens: SessionTokens) -> NewSession {
        let now = SystemTime::now();
        let left = self.policy().refresh_lifetime(&tokens.session, now);
        // To the nearest second: a session of 30 days has a cookie of 30 days.
        let cookie_lifetime = Duration::from_secs((left.as_millis() as u64 + 500) / 1000);
        let cookie_token = match self.cookie() {
            Some(_) => self
                .signer
                .issue_session(user, tokens.session.id, now, cookie_lifetime),
            None => String::new(),
        };
        NewSession {
            access_token: tokens.access_token,
            expires_in: tokens.expires_in,
            refresh_token: Some(tokens.refresh_token),
            cookie_token,
            cookie_lifetime,
        }
    }

    /// Where the session of a login request comes from: its `User-Agent` and client key.
    pub(crate) fn origin(&self, parts: &Parts) -> SessionOrigin {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned);
        SessionOrigin {
            user_agent,
            client: self.client(parts),
        }
    }

    /// The request's client key for the login throttle.
    pub(crate) fn client(&self, parts: &Parts) -> Option<String> {
        (self.settings.client_key)(parts)
    }

    /// The request's session token, if it carries one (an empty one is none).
    fn session_token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        session::request_token(parts, self.cookie()).filter(|token| !token.is_empty())
    }

    /// Whether the request carries a session token, valid or not.
    pub(crate) fn carries_session(&self, parts: &Parts) -> bool {
        self.session_token(parts).is_some()
    }

    /// The user of the request's session, checked: the token opens (signature, purpose,
    /// expiry), was not logged out, belongs to a user whose password has not changed since,
    /// and that user is active (and verified, where the configuration requires it).
    pub(crate) async fn authenticate(&self, parts: &Parts) -> Result<CurrentUser<U>, ApiError> {
        let current = self.session_of(parts).await?;
        self.admits(&current)?;
        Ok(current)
    }

    /// Whether the session's user may use it: active, and verified where the configuration
    /// requires it.
    fn admits(&self, current: &CurrentUser<U>) -> Result<(), ApiError> {
        if !current.user.is_active() {
            return Err(UsersError::InactiveUser.into());
        }
        if self.pooled.config().requires_verified() && !current.user.is_verified() {
            return Err(UsersError::UnverifiedUser.into());
        }
        Ok(())
    }

    /// The user of the request's session, whatever the account's state: the token opens, its
    /// session is live (stored sessions: its row exists, for this user, and has not timed
    /// out) or was not logged out (stateless), and it belongs to a user whose password has not
    /// changed since. What a logout needs, so that a deactivated (or unverified) user can
    /// still end a session.
    ///
    /// A state-changing request (any method but `GET`, `HEAD` and `OPTIONS`) authenticated by
    /// the cookie alone must come from the application's own origin or one of
    /// [`allowed_origins`](Self::allowed_origins), whatever its body: else 403 `forbidden`.
    pub(crate) async fn session_of(&self, parts: &Parts) -> Result<CurrentUser<U>, ApiError> {
        Ok(self.session_with(parts, Reads::User).await?.0)
    }

    /// [`authenticate`](Self::authenticate), with the names of the user's roles read on the
    /// same pooled connection: one checkout where the two would take two.
    pub(crate) async fn authenticate_with_roles(
        &self,
        parts: &Parts,
    ) -> Result<(CurrentUser<U>, Vec<String>), ApiError> {
        let (current, roles, _) = self.session_with(parts, Reads::Roles).await?;
        self.admits(&current)?;
        Ok((current, roles.unwrap_or_default()))
    }

    /// [`authenticate_with_roles`](Self::authenticate_with_roles), and the user's sign-ins where
    /// the manager records events, on the same pooled connection: all `GET /users/me` answers.
    pub(crate) async fn authenticate_for_view(
        &self,
        parts: &Parts,
    ) -> Result<(CurrentUser<U>, Vec<String>, Option<SignIns>), ApiError> {
        let reads = match self.pooled.records_events() {
            true => Reads::RolesAndSignIns,
            false => Reads::Roles,
        };
        let (current, roles, sign_ins) = self.session_with(parts, reads).await?;
        self.admits(&current)?;
        Ok((current, roles.unwrap_or_default(), sign_ins))
    }

    /// [`session_of`](Self::session_of), and what else `reads` asks for.
    async fn session_with(
        &self,
        parts: &Parts,
        reads: Reads,
    ) -> Result<(CurrentUser<U>, Option<Vec<String>>, Option<SignIns>), ApiError> {
        let sign_ins = reads == Reads::RolesAndSignIns;
        let token = self
            .session_token(parts)
            .ok_or_else(ApiError::unauthorized)?;
        if self.cookie().is_some()
            && !parts.headers.contains_key(AUTHORIZATION)
            && !parts.method.is_safe()
            && session::is_foreign_origin(&parts.headers, &parts.uri, &self.settings.origins)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "a request from another origin cannot use the session cookie to change anything",
            ));
        }
        let opened = session::open(&self.signer, token).ok_or_else(ApiError::invalid_session)?;
        let (user, roles, sign_ins) = if self.stored() {
            if reads != Reads::User {
                let found = self
                    .pooled
                    .session_user_roles(&opened.token, self.policy(), sign_ins)
                    .await?;
                found.map_or((None, None, None), |(user, roles, sign_ins)| {
                    (Some(user), Some(roles), sign_ins)
                })
            } else {
                let user = self
                    .pooled
                    .session_user(&opened.token, self.policy())
                    .await?;
                (user, None, None)
            }
        } else {
            let revoked = self
                .revocations
                .is_revoked(opened.token.id())
                .await
                .map_err(|error| ApiError::logged(&error))?;
            if revoked {
                return Err(ApiError::invalid_session());
            }
            let id = opened.token.user_id().into();
            if reads != Reads::User {
                let found = self.pooled.user_roles(id, sign_ins).await?;
                found.map_or((None, None, None), |(user, roles, sign_ins)| {
                    (Some(user), Some(roles), sign_ins)
                })
            } else {
                (self.pooled.get(id).await?, None, None)
            }
        };
        let user = user.ok_or_else(ApiError::invalid_session)?;
        self.signer
            .check_user(&opened.token, &user)
            .map_err(|_| ApiError::invalid_session())?;
        let current = CurrentUser {
            user,
            session: opened.session(),
        };
        Ok((current, roles, sign_ins))
    }

    /// The guarded check (users-core's, [`GuardKeys`] and [`ProofOutcome`]) around `check`, a
    /// proof of kind `proof` for `account` (a normalised email) from the request's client,
    /// checked here rather than by a manager operation (a passkey assertion, a token that
    /// names its account only once opened): refused while locked out, its failure counted,
    /// its success forgiving the account's failures of that kind.
    pub(crate) async fn guarded<T>(
        &self,
        proof: Proof,
        account: Option<&str>,
        parts: &Parts,
        check: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let client = self.client(parts);
        let keys = GuardKeys::new(proof, account, client.as_deref());
        self.pooled.check_guard(&keys).await?;
        let outcome = check.await;
        let settled = match &outcome {
            Ok(_) => ProofOutcome::Proved,
            Err(error) if error.is_failed(proof) => ProofOutcome::Failed,
            Err(_) => ProofOutcome::Neither,
        };
        self.pooled.settle_guard(&keys, settled).await?;
        outcome
    }

    /// Hands `token` for `user` to the mailer in a task of its own, so the response neither
    /// waits for it nor depends on it; drops it, logged, if every mail slot is taken.
    pub(crate) fn mail(&self, mail: Mail<U>) {
        let kind = mail.kind;
        let Ok(slot) = Arc::clone(&self.mail_slots).try_acquire_owned() else {
            tracing::error!("users-axum: every mail slot is taken, a {kind:?} message is dropped");
            return;
        };
        let mailer = Arc::clone(&self.mailer);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(error) = mailer.send(mail).await {
                tracing::error!(
                    "users-axum: the mailer failed to send a {kind:?} message: {error}"
                );
            }
        });
    }
}

/// What a session check reads besides the user, on the same pooled connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// The user alone.
    User,
    /// The names of the user's roles.
    Roles,
    /// The names of the user's roles and their sign-ins.
    RolesAndSignIns,
}
