use users_diesel::prelude::*;

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {
    pub name: String,
    #[column(name = "description")]
    pub details: Option<String>,
}

fn main() {}
