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

        impl users_core::UserModel for TestUser {
            type Id = users_core::Uuid;
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
