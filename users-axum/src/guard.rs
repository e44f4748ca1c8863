//! Guard layers: the checks of the extractors, for whole groups of routes, with names chosen
//! at run time: `.route_layer(users.require_role("admin"))`.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::middleware::FromExtractorLayer;
use users_diesel::{UserModel, UsersError};

use crate::{ApiError, UsersState};

/// A layer that admits only requests that pass a check of their session, made by
/// [`UsersState::require_login`], [`require_verified`](UsersState::require_verified),
/// [`require_role`](UsersState::require_role),
/// [`require_any_role`](UsersState::require_any_role) or
/// [`require_all_roles`](UsersState::require_all_roles). Apply it with
/// [`Router::route_layer`](axum::Router::route_layer), so that unknown paths still answer 404.
///
/// A refused request gets the [`ApiError`] of the failed check (401, or 403 `forbidden` or
/// `unverified_user`); an admitted one reaches the handler with its
/// [`CurrentUser`](crate::CurrentUser) already loaded.
pub type GuardLayer<U> = FromExtractorLayer<Guard<U>, Requirement<U>>;

/// What a [`GuardLayer`] checks: the users state and the rule.
pub struct Requirement<U: UserModel> {
    state: UsersState<U>,
    rule: Rule,
}

#[derive(Clone, Debug)]
pub(crate) enum Rule {
    Login,
    Verified,
    /// All (`true`) or any of the roles named.
    Roles(Vec<String>, bool),
}

/// The extractor a [`GuardLayer`] runs on each request; it passes when the [`Requirement`] is
/// met. Handlers use [`CurrentUser`](crate::CurrentUser) and the other extractors instead.
pub struct Guard<U>(std::marker::PhantomData<fn() -> U>);

impl<U: UserModel> FromRequestParts<Requirement<U>> for Guard<U> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        requirement: &Requirement<U>,
    ) -> Result<Self, ApiError> {
        let state = &requirement.state;
        let user = match &requirement.rule {
            Rule::Login => state.authenticate(parts).await?,
            Rule::Verified => {
                let user = state.authenticate(parts).await?;
                if !user.is_verified() {
                    return Err(UsersError::UnverifiedUser.into());
                }
                user
            }
            // The session, the user and their roles on one pooled connection; the names were
            // normalised when the guard was made, as the stored ones are.
            Rule::Roles(names, all) => {
                let (user, roles) = state.authenticate_with_roles(parts).await?;
                let has = |name: &String| roles.contains(name);
                let passes = if *all {
                    names.iter().all(has)
                } else {
                    names.iter().any(has)
                };
                if !passes {
                    return Err(ApiError::forbidden());
                }
                user
            }
        };
        parts.extensions.insert(user);
        Ok(Guard(std::marker::PhantomData))
    }
}

/// A layer that checks `rule` with `state`.
pub(crate) fn layer<U: UserModel>(state: UsersState<U>, rule: Rule) -> GuardLayer<U> {
    axum::middleware::from_extractor_with_state(Requirement { state, rule })
}

impl<U: UserModel> Clone for Requirement<U> {
    fn clone(&self) -> Self {
        Requirement {
            state: self.state.clone(),
            rule: self.rule.clone(),
        }
    }
}

impl<U: UserModel> fmt::Debug for Requirement<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirement")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}
