//! A hand-written user model for the tests of users-core, which has no macros of its own:
//! `test_user!` declares `TestUser` with the five fields of a user model, any extra fields
//! with their starting values, and its `UserModel` impl.

macro_rules! test_user {
    ($(#[$attr:meta])* $($field:ident: $ty:ty = $default:expr),* $(,)?) => {
        $(#[$attr])*
        #[derive(Clone, Debug)]
        struct TestUser {
            id: users_core::Uuid,
            email: String,
            password_hash: String,
            is_active: bool,
            is_verified: bool,
            $($field: $ty,)*
        }

        impl TestUser {
            /// What a store's `list` answers: `listing`'s users among `users`, by id.
            #[allow(dead_code)]
            fn listed(users: &[TestUser], listing: &users_core::UserListing) -> Vec<TestUser> {
                let mut listed: Vec<TestUser> = users
                    .iter()
                    .filter(|user| listing.after.is_none_or(|after| user.id > after))
                    .filter(|user| listing.is_active.is_none_or(|active| user.is_active == active))
                    .filter(|user| listing.is_verified.is_none_or(|verified| user.is_verified == verified))
                    .cloned()
                    .collect();
                listed.sort_by_key(|user| user.id);
                listed.truncate(usize::try_from(listing.limit).unwrap_or(0));
                listed
            }
        }

        impl users_core::UserModel for TestUser {
            type Id = users_core::Uuid;
            type Sessions = users_core::NoStore;
            type SecondFactors = users_core::NoStore;
            type OAuthAccounts = users_core::NoStore;
            type Events = users_core::NoStore;
            const TABLE: &'static str = "test_users";

            fn from_credentials(id: users_core::Uuid, email: String, password_hash: String) -> Self {
                TestUser {
                    id,
                    email,
                    password_hash,
                    is_active: true,
                    is_verified: false,
                    $($field: $default,)*
                }
            }
            fn id(&self) -> users_core::Uuid {
                self.id
            }
            fn email(&self) -> &str {
                &self.email
            }
            fn set_email(&mut self, email: String) {
                self.email = email;
            }
            fn password_hash(&self) -> &str {
                &self.password_hash
            }
            fn set_password_hash(&mut self, password_hash: String) {
                self.password_hash = password_hash;
            }
            fn is_active(&self) -> bool {
                self.is_active
            }
            fn set_active(&mut self, active: bool) {
                self.is_active = active;
            }
            fn is_verified(&self) -> bool {
                self.is_verified
            }
            fn set_verified(&mut self, verified: bool) {
                self.is_verified = verified;
            }
        }
    };
}

pub(crate) use test_user;
