use users_diesel::prelude::*;

#[user_model(timestamps)]
pub struct User {
    pub created_at: String,
}

fn main() {}
