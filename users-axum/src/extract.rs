//! Extractors for handlers: the [`CurrentUser`], and guards that also demand a verified email
//! address or roles.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use users_diesel::{UserModel, UsersError};

use crate::{ApiError, Session, UsersState};

/// The user of the request's session, for handlers: `async fn me(user: CurrentUser<User>)`.
///
/// The session token comes from `Authorization: Bearer <token>`, or else from the session
/// cookie if [`UsersState::session_cookie`] turned cookies on. The request is refused with
/// - 401 `unauthorized` if it carries no token,
/// - 401 `invalid_token` if the token is malformed, tampered with, expired, of another purpose
///   (a verification or reset token), logged out, or was issued before the user's password
///   last changed, or its user is gone,
/// - 403 `inactive_user` if the user is deactivated, and 403 `unverified_user` if the
///   configuration requires verified users and this one is not.
///
/// It needs [`UsersState<U>`] from the router's state ([`FromRef`]). A guard layer that
/// already checked the session hands its user on, so the session is loaded once per request.
/// `Option<CurrentUser<U>>` is `None` for a request without a token (and still refuses a bad
/// one).
#[derive(Clone)]
pub struct CurrentUser<U> {
    /// The user, as loaded for this request.
    pub user: U,
    /// The session the request was authenticated with.
    pub session: Session,
}

impl<U> CurrentUser<U> {
    /// The user.
    pub fn into_inner(self) -> U {
        self.user
    }
}

impl<U> Deref for CurrentUser<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.user
    }
}

impl<U: UserModel> fmt::Debug for CurrentUser<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentUser")
            .field("user", &self.user)
            .field("session", &self.session)
            .finish()
    }
}

impl<U, S> FromRequestParts<S> for CurrentUser<U>
where
    U: UserModel,
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(user) = parts.extensions.get::<CurrentUser<U>>() {
            return Ok(user.clone());
        }
        let user = UsersState::<U>::from_ref(state).authenticate(parts).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl<U, S> OptionalFromRequestParts<S> for CurrentUser<U>
where
    U: UserModel,
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, ApiError> {
        let users = UsersState::<U>::from_ref(state);
        if !users.carries_session(parts) {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// The [`CurrentUser`], provided they verified their email address; otherwise 403
/// `unverified_user`.
#[derive(Clone, Debug)]
pub struct Verified<U: UserModel>(pub CurrentUser<U>);

impl<U: UserModel> Deref for Verified<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.0.user
    }
}

impl<U, S> FromRequestParts<S> for Verified<U>
where
    U: UserModel,
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let user =
            <CurrentUser<U> as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if !user.is_verified() {
            return Err(UsersError::UnverifiedUser.into());
        }
        Ok(Verified(user))
    }
}

/// Names a role at the type level, for [`HasRole`]:
///
/// ```
/// use users_axum::RoleName;
///
/// pub struct Editor;
///
/// impl RoleName for Editor {
///     const NAME: &'static str = "editor";
/// }
/// ```
pub trait RoleName: Send + Sync + 'static {
    /// The role's name.
    const NAME: &'static str;
}

/// Names several roles at the type level, for [`HasAnyRole`] and [`HasAllRoles`]:
///
/// ```
/// use users_axum::RoleNames;
///
/// pub struct Staff;
///
/// impl RoleNames for Staff {
///     const NAMES: &'static [&'static str] = &["admin", "editor"];
/// }
/// ```
pub trait RoleNames: Send + Sync + 'static {
    /// The roles' names.
    const NAMES: &'static [&'static str];
}

/// The name of a permission, for [`HasPermission`]: `struct EditPosts; impl PermissionName for
/// EditPosts { const NAME: &'static str = "posts.edit"; }`.
pub trait PermissionName: Send + Sync + 'static {
    /// The permission's name.
    const NAME: &'static str;
}

/// The [`CurrentUser`], provided one of their roles has the permission `P`; otherwise 403
/// `forbidden`: `async fn handler(editor: HasPermission<EditPosts, User>)`. One indexed query.
pub struct HasPermission<P, U> {
    /// The user, whose roles have the permission.
    pub user: CurrentUser<U>,
    permission: PhantomData<fn() -> P>,
}

impl<P: PermissionName, U: UserModel, S> FromRequestParts<S> for HasPermission<P, U>
where
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let user = guarded(parts, state, Needs::Permission(P::NAME)).await?;
        Ok(HasPermission {
            user,
            permission: PhantomData,
        })
    }
}

impl<P, U> Deref for HasPermission<P, U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.user.user
    }
}

impl<P: PermissionName, U: UserModel> fmt::Debug for HasPermission<P, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HasPermission")
            .field("permission", &P::NAME)
            .field("user", &self.user)
            .finish()
    }
}

/// The role `admin`, the default role of role administration.
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl RoleName for Admin {
    const NAME: &'static str = "admin";
}

/// The [`CurrentUser`], provided they have the role `N`; otherwise 403 `forbidden`:
/// `async fn handler(admin: HasRole<Admin, User>)`.
pub struct HasRole<N, U> {
    /// The user, who has the role.
    pub user: CurrentUser<U>,
    role: PhantomData<fn() -> N>,
}

/// The [`CurrentUser`], provided they have at least one of the roles `N`; otherwise 403
/// `forbidden`.
pub struct HasAnyRole<N, U> {
    /// The user, who has one of the roles.
    pub user: CurrentUser<U>,
    roles: PhantomData<fn() -> N>,
}

/// The [`CurrentUser`], provided they have every one of the roles `N`; otherwise 403
/// `forbidden`.
pub struct HasAllRoles<N, U> {
    /// The user, who has all the roles.
    pub user: CurrentUser<U>,
    roles: PhantomData<fn() -> N>,
}

/// What a guard asks of the user's roles.
enum Needs<'a> {
    /// All (`all`) or any of the roles named.
    Roles { names: &'a [&'a str], all: bool },
    /// The permission, through any of the roles.
    Permission(&'a str),
}

/// The user of the session, provided their roles meet `needs`; otherwise 403 `forbidden`.
async fn guarded<U, S>(
    parts: &mut Parts,
    state: &S,
    needs: Needs<'_>,
) -> Result<CurrentUser<U>, ApiError>
where
    U: UserModel,
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    let user = <CurrentUser<U> as FromRequestParts<S>>::from_request_parts(parts, state).await?;
    let users = UsersState::<U>::from_ref(state);
    let pooled = users.pooled();
    let allowed = match needs {
        Needs::Roles { names, all } => pooled.has_roles(&user.user, names, all).await?,
        Needs::Permission(name) => pooled.has_permission(&user.user, name).await?,
    };
    if allowed {
        Ok(user)
    } else {
        Err(ApiError::forbidden())
    }
}

macro_rules! role_extractors {
    ($($guard:ident<$bound:ident>: $names:expr, all = $all:literal, $field:ident;)*) => {$(
        impl<N: $bound, U: UserModel, S> FromRequestParts<S> for $guard<N, U>
        where
            UsersState<U>: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let names: &[&str] = $names;
                let user = guarded(parts, state, Needs::Roles { names, all: $all }).await?;
                Ok($guard { user, $field: PhantomData })
            }
        }

        impl<N, U> Deref for $guard<N, U> {
            type Target = U;

            fn deref(&self) -> &U {
                &self.user.user
            }
        }

        impl<N: $bound, U: UserModel> fmt::Debug for $guard<N, U> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let names: &[&str] = $names;
                f.debug_struct(stringify!($guard))
                    .field("roles", &names)
                    .field("user", &self.user)
                    .finish()
            }
        }
    )*};
}

role_extractors! {
    HasRole<RoleName>: &[N::NAME], all = true, role;
    HasAnyRole<RoleNames>: N::NAMES, all = false, roles;
    HasAllRoles<RoleNames>: N::NAMES, all = true, roles;
}
