use users_diesel::prelude::*;

#[user_model]
pub struct User {
    pub email: String,
    #[column(name = "is_active")]
    pub enabled: bool,
}

fn main() {}
