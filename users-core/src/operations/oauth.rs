//! The provider-account operations of the managers ("sign in with …"), written once, over the
//! user model's [`OAuthAccountStore`](crate::OAuthAccountStore) or `AsyncOAuthAccountStore`
//! (`U::OAuthAccounts`). The parent module describes the helper macros and the flavors;
//! `crate::oauth` the model and the linking rules.

use std::time::SystemTime;

use users_derive::flavors;
use uuid::Uuid;

#[cfg(feature = "async")]
use crate::{
    AsyncEventStore, AsyncOAuthAccountStore, AsyncSecondFactorStore, AsyncUserStore, AsyncUsers,
};
use crate::{
    EventKind, EventStore, OAuthAccountRecord, OAuthAccountStore, OAuthSignIn, ProviderIdentity,
    ProviderTokens, RoleModel, SecondFactorStore, SecurityEvent, UserModel, UserStore, Users,
    UsersError,
};

#[flavors(
    AsyncEventStore => EventStore,
    AsyncUsers => Users,
    AsyncUserStore => UserStore,
    AsyncSecondFactorStore => SecondFactorStore,
    AsyncOAuthAccountStore => OAuthAccountStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Signs in with a provider account the flow has checked, creating a user with
    /// default custom fields where the rules say so; see
    /// [`oauth_sign_in_with`](Self::oauth_sign_in_with).
    ///
    /// # Errors
    ///
    /// As [`oauth_sign_in_with`](Self::oauth_sign_in_with).
    pub async fn oauth_sign_in<C: Send>(
        &self,
        conn: &mut C,
        identity: &ProviderIdentity,
    ) -> Result<OAuthSignIn<U>, UsersError>
    where
        U: AsyncUserStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        const { crate::model::assert_registrable::<U>() };
        self.oauth_sign_in_with(conn, identity, |_| {}).await
    }

    /// Signs in with a provider account the flow has checked (for OpenID Connect:
    /// the ID token's signature, issuer, audience, expiry and nonce), in one
    /// transaction:
    ///
    /// - an account linked already signs its user in (its email, verification and
    ///   kept tokens are brought up to date);
    /// - an unknown account whose address no user has creates a user without a
    ///   password (`customize` sets its custom fields), verified only if the
    ///   provider verified the address, and links the account to it;
    /// - an unknown account whose address a user has is linked to that user only if
    ///   the provider verified the address and the user verified it too.
    ///
    /// The `after_register` hook runs for a new user, `after_login` for every
    /// sign-in; an error of either undoes the whole sign-in. Two first sign-ins of
    /// one account at once make one user: the unique email and the unique
    /// (provider, subject) let one insert win, and the other signs in as its user.
    ///
    /// # Errors
    ///
    /// [`UsersError::EmailTaken`] when a user has the address but either side has
    /// not verified it (the user should log in and link the provider from there);
    /// [`UsersError::InvalidEmail`] when the provider gave no usable address for a
    /// new user; [`UsersError::InactiveUser`], [`UsersError::UnverifiedUser`] (where
    /// the configuration requires verified users) for the user it would sign in;
    /// [`UsersError::InvalidToken`] for a provider name or subject that does not fit
    /// its column; a hook's error; [`UsersError::Database`].
    pub async fn oauth_sign_in_with<C: Send>(
        &self,
        conn: &mut C,
        identity: &ProviderIdentity,
        customize: impl FnOnce(&mut U),
    ) -> Result<OAuthSignIn<U>, UsersError>
    where
        U: AsyncUserStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        crate::oauth::check_identity(identity)?;
        let users = self.decisions();
        let now = SystemTime::now();
        // The user to create if the account is new and its address unknown; its
        // address (or why there is none) is what decides the unknown account.
        let candidate = users.provider_email(identity).map(|email| {
            let mut user = users.registered_user(email, crate::unusable_password_hash(), customize);
            user.set_verified(identity.email_verified);
            user
        });
        let attempt = transaction!(flavor, conn, |conn| {
            let linked =
                U::OAuthAccounts::find_oauth_account(conn, &identity.provider, &identity.subject)
                    .await?;
            let signed_in = match linked {
                Some(account) => OAuthSignIn::SignedIn(
                    Self::linked_user(conn, users, account, identity, now).await?,
                ),
                None => {
                    let candidate = candidate?;
                    let signed_in = match U::find_by_email(conn, candidate.email()).await? {
                        Some(local) if identity.email_verified && local.is_verified() => {
                            OAuthSignIn::Linked(users.provider_user(local)?)
                        }
                        Some(_) => return Err(UsersError::EmailTaken),
                        None => {
                            let user = U::insert(conn, &candidate).await?;
                            users.hooks().after_register(&user)?;
                            OAuthSignIn::Registered(users.provider_user(user)?)
                        }
                    };
                    let user_id: Uuid = signed_in.user().id().into();
                    let account = OAuthAccountRecord::new(user_id, identity, users.sealer(), now);
                    U::OAuthAccounts::insert_oauth_account(conn, &account).await?;
                    signed_in
                }
            };
            users.hooks().after_login(signed_in.user())?;
            let event = Self::signed_in_event(&signed_in, identity);
            Self::record(conn, users, &event).await?;
            Ok((signed_in, event))
        });
        let attempt = match attempt {
            // A concurrent first sign-in of the same account won an insert (of the
            // user, or of the account) and linked it: this one signs in as it.
            Err(UsersError::EmailTaken | UsersError::Conflict { column: "subject" }) => {
                transaction!(flavor, conn, |conn| {
                    let linked = U::OAuthAccounts::find_oauth_account(
                        conn,
                        &identity.provider,
                        &identity.subject,
                    )
                    .await?;
                    let account = linked.ok_or(UsersError::EmailTaken)?;
                    let user = Self::linked_user(conn, users, account, identity, now).await?;
                    users.hooks().after_login(&user)?;
                    let signed_in = OAuthSignIn::SignedIn(user);
                    let event = Self::signed_in_event(&signed_in, identity);
                    Self::record(conn, users, &event).await?;
                    Ok((signed_in, event))
                })
            }
            attempt => attempt,
        };
        let (signed_in, event) = attempt?;
        users.publish(event);
        Ok(signed_in)
    }

    /// The event of a sign-in with `identity`: the account's first (a new user, or a link to
    /// a user of the same verified address), or one more.
    fn signed_in_event(signed_in: &OAuthSignIn<U>, identity: &ProviderIdentity) -> SecurityEvent {
        let kind = match signed_in {
            OAuthSignIn::Registered(_) => EventKind::Registered,
            OAuthSignIn::Linked(_) => EventKind::ProviderLinked,
            OAuthSignIn::SignedIn(_) => EventKind::ProviderSignedIn,
        };
        SecurityEvent::new(kind, signed_in.user().id().into()).about(&identity.provider)
    }

    /// Links a provider account the flow has checked to `user`, who is logged in
    /// and started the flow. Linking the same account again brings it up to date.
    ///
    /// # Errors
    ///
    /// [`UsersError::Conflict`] with column `subject` if the account is linked to
    /// another user, with column `provider` if `user` has another account at this
    /// provider (unlink it first); [`UsersError::InvalidToken`] for a provider name
    /// or subject that does not fit its column; [`UsersError::UnverifiedUser`] if
    /// `user` has not proved their address (a link made on an address someone else
    /// owns would be a way in that outlives the owner's reset);
    /// [`UsersError::Database`]. Ask for the password or a factor before linking:
    /// a session alone must add no way in.
    pub async fn link_oauth<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        identity: &ProviderIdentity,
    ) -> Result<OAuthAccountRecord, UsersError>
    where
        U: AsyncUserStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        crate::oauth::check_identity(identity)?;
        if !user.is_verified() {
            return Err(UsersError::UnverifiedUser);
        }
        let users = self.decisions();
        let user_id: Uuid = user.id().into();
        let now = SystemTime::now();
        let event =
            SecurityEvent::new(EventKind::ProviderLinked, user_id).about(&identity.provider);
        let recorded = &event;
        let account = transaction!(flavor, conn, |conn| {
            let linked =
                U::OAuthAccounts::find_oauth_account(conn, &identity.provider, &identity.subject)
                    .await?;
            if let Some(account) = linked {
                if account.user_id != user_id {
                    return Err(UsersError::Conflict { column: "subject" });
                }
                let account = account.refreshed(identity, users.sealer(), now);
                U::OAuthAccounts::update_oauth_account(conn, &account).await?;
                return Ok(account);
            }
            let accounts = U::OAuthAccounts::oauth_accounts_of(conn, user_id).await?;
            if accounts
                .iter()
                .any(|account| account.provider == identity.provider)
            {
                return Err(UsersError::Conflict { column: "provider" });
            }
            let account = OAuthAccountRecord::new(user_id, identity, users.sealer(), now);
            U::OAuthAccounts::insert_oauth_account(conn, &account).await?;
            Self::record(conn, users, recorded).await?;
            Ok(account)
        })?;
        users.publish(event);
        Ok(account)
    }

    /// Unlinks `user`'s account at `provider`; `false` if they have none. In one
    /// transaction with the user's row locked, so two unlinks cannot each leave the
    /// other's account as the last one and both succeed.
    ///
    /// # Errors
    ///
    /// [`UsersError::LastSignInMethod`] if it is the user's last way to sign in (no
    /// usable password, no other linked account, no passkey);
    /// [`UsersError::UserNotFound`]; [`UsersError::Database`].
    pub async fn unlink_oauth<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        provider: &str,
    ) -> Result<bool, UsersError>
    where
        U: AsyncUserStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let id = user.id();
        let user_id: Uuid = id.into();
        let users = self.decisions();
        let event = SecurityEvent::new(EventKind::ProviderUnlinked, user_id).about(provider);
        let recorded = &event;
        let unlinked = transaction!(flavor, conn, |conn| {
            let user = U::find_for_update(conn, id)
                .await?
                .ok_or(UsersError::UserNotFound)?;
            let accounts = U::OAuthAccounts::oauth_accounts_of(conn, user_id).await?;
            if !accounts.iter().any(|account| account.provider == provider) {
                return Ok(false);
            }
            let others = accounts.len() - 1;
            if others == 0 && !crate::has_usable_password(user.password_hash()) {
                let passkeys = U::SecondFactors::passkeys_of(conn, user_id).await?;
                if passkeys.is_empty() {
                    return Err(UsersError::LastSignInMethod);
                }
            }
            let unlinked = U::OAuthAccounts::delete_oauth_account(conn, user_id, provider).await?;
            if unlinked {
                Self::record(conn, users, recorded).await?;
            }
            Ok(unlinked)
        })?;
        if unlinked {
            users.publish(event);
        }
        Ok(unlinked)
    }

    /// The user's linked provider accounts, oldest first.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn oauth_accounts<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<Vec<OAuthAccountRecord>, UsersError>
    where
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
    {
        U::OAuthAccounts::oauth_accounts_of(conn, user.id().into()).await
    }

    /// The provider tokens kept for `account` (where the application asked to keep
    /// them), opened.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if they were sealed under a secret no longer
    /// configured, or altered.
    pub fn provider_tokens(
        &self,
        account: &OAuthAccountRecord,
    ) -> Result<Option<ProviderTokens>, UsersError> {
        account.tokens(self.decisions().sealer())
    }

    /// The user that the linked `account` signs in, if they may sign in, with the account
    /// brought up to date with what `identity` says now.
    async fn linked_user<C: Send>(
        conn: &mut C,
        users: &Users<U, R>,
        account: OAuthAccountRecord,
        identity: &ProviderIdentity,
        now: SystemTime,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
    {
        let user = U::find(conn, account.user_id.into())
            .await?
            .ok_or(UsersError::UserNotFound)?;
        let user = users.provider_user(user)?;
        let account = account.refreshed(identity, users.sealer(), now);
        U::OAuthAccounts::update_oauth_account(conn, &account).await?;
        Ok(user)
    }
}
