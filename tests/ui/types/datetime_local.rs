use users_diesel::prelude::*;

#[user_model]
pub struct User {
    pub last_seen: chrono::DateTime<chrono::Local>,
}

fn main() {}
