use users_diesel::prelude::*;

#[user_model]
pub struct User {
    #[column(default = "none")]
    pub token_count: i32,
}

fn main() {}
