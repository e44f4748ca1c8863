//! The async manager under the sync behaviour tests: [`BlockOn`] offers the methods of `Users`
//! with their sync signatures and runs each on [`AsyncUsers`], over a [`BlockingConn`] (an async
//! connection with the runtime it lives on). [`manager_tests!`](crate::manager_tests) runs every
//! test body with both managers.

use std::future::Future;

use tokio::runtime::Runtime;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::AsyncConnection;
use users_diesel::{
    AsyncOAuthAccountStore, AsyncOrgStore, AsyncRoleStore, AsyncSecondFactorStore,
    AsyncSessionStore, AsyncUserStore, AsyncUsers, NewInvitation, OAuthAccountRecord, OAuthSignIn,
    OrgInvitation, OrgMemberOf, OrgView, PasskeyRecord, ProviderIdentity, RoleModel,
    SecondFactorChallenge, SecondFactorProof, SessionOrigin, SessionPolicy, SessionTokens,
    StoredSession, TotpEnrollment, UserModel, Users, UsersError, Uuid,
};

use crate::TestDb;

/// A sync connection type whose backend has an async connection, and how to open one.
pub trait AsyncBackend: diesel::Connection {
    /// The async connection of the same backend.
    type Async: AsyncConnection + Send + 'static;

    /// Opens an async connection to `url`, set up as [`TestDb::connect`] sets up its own.
    fn connect_async(url: &str) -> impl Future<Output = Self::Async> + Send;

    /// A deadpool pool of [`Self::Async`] connections.
    type Pool: Clone + Send + Sync + 'static;

    /// A pool of up to `size` async connections to `url`, each set up the same way.
    fn pool(url: &str, size: usize) -> Self::Pool;
}

#[cfg(feature = "sqlite")]
impl AsyncBackend for diesel::SqliteConnection {
    type Async = users_diesel::asynchronous::AsyncSqliteConnection;
    type Pool = Pool<Self::Async>;

    async fn connect_async(url: &str) -> Self::Async {
        let mut conn = Self::Async::establish(url).await.expect("open SQLite");
        users_diesel::asynchronous::configure_sqlite(&mut conn)
            .await
            .expect("configure SQLite");
        conn
    }

    fn pool(url: &str, size: usize) -> Self::Pool {
        let manager = users_diesel::asynchronous::sqlite_connection_manager(url);
        Pool::builder(manager)
            .max_size(size)
            .build()
            .expect("a pool")
    }
}

/// PostgreSQL and MySQL need no set-up beyond the URL: the same impl for both.
macro_rules! server_backend {
    ($feature:literal, $sync:ty => $async:ty) => {
        #[cfg(feature = $feature)]
        impl AsyncBackend for $sync {
            type Async = $async;
            type Pool = Pool<Self::Async>;

            async fn connect_async(url: &str) -> Self::Async {
                Self::Async::establish(url)
                    .await
                    .expect("connect to the test database")
            }

            fn pool(url: &str, size: usize) -> Self::Pool {
                let manager = users_diesel::asynchronous::AsyncDieselConnectionManager::new(url);
                Pool::builder(manager)
                    .max_size(size)
                    .build()
                    .expect("a pool")
            }
        }
    };
}

server_backend!("postgres", diesel::PgConnection => users_diesel::asynchronous::AsyncPgConnection);
server_backend!("mysql", diesel::MysqlConnection => users_diesel::asynchronous::AsyncMysqlConnection);

impl<C: AsyncBackend> TestDb<C> {
    /// An async connection to the same private database.
    pub async fn connect_async(&self) -> C::Async {
        C::connect_async(&self.url).await
    }

    /// A pool of up to `size` async connections to the same private database.
    pub fn pool(&self, size: usize) -> C::Pool {
        C::pool(&self.url, size)
    }

    /// An async connection to the same private database, on a runtime of its own.
    pub fn connect_blocking(&self) -> BlockingConn<C::Async> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let conn = runtime.block_on(self.connect_async());
        BlockingConn { runtime, conn }
    }
}

/// An async connection and the runtime it runs on, so that sync code can drive it.
pub struct BlockingConn<C> {
    runtime: Runtime,
    conn: C,
}

/// [`AsyncUsers`] with the sync signatures of `Users`: each call runs to completion on the
/// runtime of the [`BlockingConn`] it is given.
pub struct BlockOn<U: UserModel, R: RoleModel>(AsyncUsers<U, R>);

impl<U: UserModel, R: RoleModel> From<Users<U, R>> for BlockOn<U, R> {
    fn from(users: Users<U, R>) -> Self {
        BlockOn(users.into())
    }
}

/// The methods of `Users`, each running its `AsyncUsers` twin.
macro_rules! blocking_methods {
    ($(
        fn $name:ident(&self, conn $(, $arg:ident: $ty:ty)*) -> $ret:ty
            where [$($bounds:tt)*];
    )*) => {$(
        #[doc = concat!("As `Users::", stringify!($name), "`.")]
        pub fn $name<C>(&self, conn: &mut BlockingConn<C> $(, $arg: $ty)*) -> Result<$ret, UsersError>
        where
            C: Send,
            U: AsyncUserStore<C>,
            U::Events: users_diesel::AsyncEventStore<C>,
            $($bounds)*
        {
            conn.runtime.block_on(self.0.$name(&mut conn.conn $(, $arg)*))
        }
    )*};
}

/// The organization methods of `Users`, generic over the organization model `O` as theirs are.
macro_rules! blocking_org_methods {
    ($(
        fn $name:ident(&self, conn $(, $arg:ident: $ty:ty)*) -> $ret:ty;
    )*) => {$(
        #[doc = concat!("As `Users::", stringify!($name), "`.")]
        pub fn $name<O, C>(&self, conn: &mut BlockingConn<C> $(, $arg: $ty)*) -> Result<$ret, UsersError>
        where
            C: Send,
            U: AsyncUserStore<C>,
            U::Events: users_diesel::AsyncEventStore<C>,
            O: AsyncOrgStore<C, User = U>,
        {
            conn.runtime.block_on(self.0.$name::<O, C>(&mut conn.conn $(, $arg)*))
        }
    )*};
}

impl<U: UserModel, R: RoleModel> BlockOn<U, R> {
    blocking_org_methods! {
        fn create_org(&self, conn, creator: &U, name: &str, slug: Option<&str>) -> O;
        fn org(&self, conn, user: &U, org: O::Id) -> OrgView<O>;
        fn orgs(&self, conn, user: &U) -> Vec<OrgView<O>>;
        fn has_org_permission(&self, conn, user: &U, org: O::Id, permission: &str) -> bool;
        fn rename_org(&self, conn, actor: &U, org: O::Id, name: &str, slug: Option<&str>) -> O;
        fn delete_org(&self, conn, actor: &U, org: O::Id) -> ();
        fn org_members(&self, conn, actor: &U, org: O::Id) -> Vec<OrgMemberOf<U>>;
        fn set_org_role(&self, conn, actor: &U, org: O::Id, member: U::Id, role: &str) -> ();
        fn remove_org_member(&self, conn, actor: &U, org: O::Id, member: U::Id) -> ();
        fn leave_org(&self, conn, user: &U, org: O::Id) -> ();
        fn invite_to_org(&self, conn, actor: &U, org: O::Id, email: &str, role: Option<&str>) -> NewInvitation;
        fn org_invitations(&self, conn, actor: &U, org: O::Id) -> Vec<OrgInvitation>;
        fn revoke_invitation(&self, conn, actor: &U, org: O::Id, invitation: Uuid) -> ();
        fn invitation_of(&self, conn, token: &str) -> OrgInvitation;
        fn accept_invitation(&self, conn, user: &U, token: &str) -> OrgView<O>;
        fn decline_invitation(&self, conn, user: &U, token: &str) -> ();
        fn register_from_invitation(&self, conn, token: &str, password: &str) -> (U, OrgView<O>);
    }

    /// As `Users::verification_token`.
    pub fn verification_token(&self, user: &U) -> Result<String, UsersError> {
        self.0.verification_token(user)
    }

    /// As `Users::hasher`.
    pub fn hasher(&self) -> &users_diesel::PasswordHasher {
        self.0.hasher()
    }

    /// As `Users::count_mail`, on a runtime of its own.
    pub fn count_mail(&self, address: &str) -> Result<(), UsersError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(self.0.count_mail(address))
    }

    /// As `Users::register_with`.
    pub fn register_with<C>(
        &self,
        conn: &mut BlockingConn<C>,
        email: &str,
        password: &str,
        customize: impl FnOnce(&mut U) + Send,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
        U::Events: users_diesel::AsyncEventStore<C>,
    {
        conn.runtime.block_on(
            self.0
                .register_with(&mut conn.conn, email, password, customize),
        )
    }

    blocking_methods! {
        fn events(&self, conn, query: &users_diesel::EventQuery) -> Vec<users_diesel::SecurityEvent>
            where [];
        fn delete_events_before(&self, conn, before: std::time::SystemTime) -> usize where [];
        fn sign_ins(&self, conn, user: &U) -> users_diesel::SignIns where [];
        fn register(&self, conn, email: &str, password: &str) -> U where [U: AsyncUserStore<C>];
        fn authenticate(&self, conn, email: &str, password: &str) -> U where [U: AsyncUserStore<C>];
        fn authenticate_from(&self, conn, client: Option<&str>, email: &str, password: &str) -> U
            where [U: AsyncUserStore<C>];
        fn get(&self, conn, id: U::Id) -> Option<U> where [U: AsyncUserStore<C>];
        fn find_by_email(&self, conn, email: &str) -> Option<U> where [U: AsyncUserStore<C>];
        fn update(&self, conn, user: &U) -> U where [U: AsyncUserStore<C>];
        fn set_email(&self, conn, user: &U, email: &str) -> U where [U: AsyncUserStore<C>];
        fn request_email_change(&self, conn, user: &U, current: &str, new_email: &str) -> String
            where [U: AsyncUserStore<C>];
        fn change_password(&self, conn, user: &U, current: &str, new: &str) -> U
            where [U: AsyncUserStore<C>];
        fn set_password(&self, conn, user: &U, new: &str) -> U where [U: AsyncUserStore<C>];
        fn delete(&self, conn, id: U::Id) -> () where [U: AsyncUserStore<C>];
        fn verify(&self, conn, token: &str) -> U
            where [U: AsyncUserStore<C>, U::Sessions: AsyncSessionStore<C>, U::SecondFactors: AsyncSecondFactorStore<C>, U::OAuthAccounts: AsyncOAuthAccountStore<C>];
        fn password_reset_token(&self, conn, email: &str) -> Option<String>
            where [U: AsyncUserStore<C>];
        fn reset_password(&self, conn, token: &str, new: &str) -> U
            where [U: AsyncUserStore<C>, U::Sessions: AsyncSessionStore<C>, U::SecondFactors: AsyncSecondFactorStore<C>, U::OAuthAccounts: AsyncOAuthAccountStore<C>];

        fn create_role(&self, conn, name: &str, description: Option<&str>) -> R
            where [R: AsyncRoleStore<C, User = U>];
        fn find_role(&self, conn, name: &str) -> Option<R> where [R: AsyncRoleStore<C, User = U>];
        fn role(&self, conn, name: &str) -> R where [R: AsyncRoleStore<C, User = U>];
        fn update_role(&self, conn, role: &R) -> R where [R: AsyncRoleStore<C, User = U>];
        fn rename_role(&self, conn, role: &R, name: &str) -> R
            where [R: AsyncRoleStore<C, User = U>];
        fn delete_role(&self, conn, role: &R) -> () where [R: AsyncRoleStore<C, User = U>];
        fn assign_role(&self, conn, user: &U, role: &R) -> () where [R: AsyncRoleStore<C, User = U>];
        fn assign_roles(&self, conn, user: &U, roles: &[R]) -> ()
            where [U: AsyncUserStore<C>, R: AsyncRoleStore<C, User = U>];
        fn revoke_role(&self, conn, user: &U, role: &R) -> () where [R: AsyncRoleStore<C, User = U>];
        fn has_role(&self, conn, user: &U, name: &str) -> bool
            where [R: AsyncRoleStore<C, User = U>];
        fn grant_permission(&self, conn, role: &R, name: &str) -> ()
            where [R: AsyncRoleStore<C, User = U>];
        fn revoke_permission(&self, conn, role: &R, name: &str) -> bool
            where [R: AsyncRoleStore<C, User = U>];
        fn permissions(&self, conn, role: &R) -> Vec<String>
            where [R: AsyncRoleStore<C, User = U>];
        fn has_permission(&self, conn, user: &U, name: &str) -> bool
            where [R: AsyncRoleStore<C, User = U>];
        fn has_any_role(&self, conn, user: &U, names: &[&str]) -> bool
            where [R: AsyncRoleStore<C, User = U>];
        fn has_all_roles(&self, conn, user: &U, names: &[&str]) -> bool
            where [R: AsyncRoleStore<C, User = U>];
        fn roles_of(&self, conn, user: &U) -> Vec<R> where [R: AsyncRoleStore<C, User = U>];
        fn user_with_roles(&self, conn, id: U::Id) -> Option<(U, Vec<R>)>
            where [R: AsyncRoleStore<C, User = U>];
        fn roles_of_users(&self, conn, users: &[U]) -> Vec<Vec<R>>
            where [R: AsyncRoleStore<C, User = U>];
        fn users_with_role(&self, conn, name: &str) -> Vec<U>
            where [R: AsyncRoleStore<C, User = U>];

        fn start_session(&self, conn, user: &U, origin: SessionOrigin, policy: &SessionPolicy)
            -> SessionTokens where [U::Sessions: AsyncSessionStore<C>];
        fn refresh_session(&self, conn, token: &str, policy: &SessionPolicy) -> SessionTokens
            where [U: AsyncUserStore<C>, U::Sessions: AsyncSessionStore<C>];
        fn sessions(&self, conn, user: &U) -> Vec<StoredSession>
            where [U::Sessions: AsyncSessionStore<C>];
        fn end_other_sessions(&self, conn, user: &U, keep: Uuid) -> usize
            where [U::Sessions: AsyncSessionStore<C>];
        fn end_all_sessions(&self, conn, user: U::Id) -> usize
            where [U::Sessions: AsyncSessionStore<C>];

        fn enroll_totp(&self, conn, user: &U, issuer: &str) -> TotpEnrollment
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn confirm_totp(&self, conn, client: Option<&str>, user: &U, code: &str) -> Vec<String>
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn second_factor_challenge(&self, conn, user: &U) -> Option<SecondFactorChallenge>
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn complete_second_factor(&self, conn, client: Option<&str>, token: &str, proof: SecondFactorProof<'_>) -> U
            where [U: AsyncUserStore<C>, U::SecondFactors: AsyncSecondFactorStore<C>];
        fn remove_totp(&self, conn, user: &U) -> bool
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn add_passkey(&self, conn, user: &U, credential_id: &str, credential: &str, name: Option<&str>)
            -> PasskeyRecord where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn passkey_used(&self, conn, passkey: &PasskeyRecord) -> ()
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn remove_passkey(&self, conn, user: &U, id: users_diesel::Uuid) -> bool
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn check_second_factor(&self, conn, client: Option<&str>, user: &U, proof: users_diesel::SecondFactorProof<'_>) -> ()
            where [U::SecondFactors: AsyncSecondFactorStore<C>];
        fn regenerate_recovery_codes(&self, conn, user: &U) -> Vec<String>
            where [U::SecondFactors: AsyncSecondFactorStore<C>];

        fn oauth_sign_in(&self, conn, identity: &ProviderIdentity) -> OAuthSignIn<U>
            where [U: AsyncUserStore<C>, U::OAuthAccounts: AsyncOAuthAccountStore<C>];
        fn link_oauth(&self, conn, user: &U, identity: &ProviderIdentity) -> OAuthAccountRecord
            where [U: AsyncUserStore<C>, U::OAuthAccounts: AsyncOAuthAccountStore<C>];
        fn unlink_oauth(&self, conn, user: &U, provider: &str) -> bool
            where [
                U: AsyncUserStore<C>,
                U::OAuthAccounts: AsyncOAuthAccountStore<C>,
                U::SecondFactors: AsyncSecondFactorStore<C>,
            ];
        fn oauth_accounts(&self, conn, user: &U) -> Vec<OAuthAccountRecord>
            where [U::OAuthAccounts: AsyncOAuthAccountStore<C>];
    }

    /// As `Users::provider_tokens`.
    pub fn provider_tokens(
        &self,
        account: &OAuthAccountRecord,
    ) -> Result<Option<users_diesel::ProviderTokens>, UsersError> {
        self.0.provider_tokens(account)
    }
}
