use users_diesel::prelude::*;

#[user_model]
pub struct User {
    pub nickname: &'static str,
}

fn main() {}
