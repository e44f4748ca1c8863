//! The logic of the `users` framework, free of any database library.
//!
//! Applications use it through `users-diesel`, which re-exports everything here and adds the
//! `#[user_model]` / `#[role_model]` macros and the Diesel stores. This crate holds what every
//! application would otherwise rewrite: the model and store traits, email normalisation and the
//! error type.
#![deny(missing_docs, unsafe_code)]

mod email;
mod error;
mod model;
mod store;

pub use email::{normalize_email, MAX_EMAIL_BYTES};
pub use error::UsersError;
pub use model::{ModelId, NoRoles, RoleModel, UserModel};
pub use store::UserStore;
pub use uuid::Uuid;
