use users_diesel::prelude::*;

#[user_model]
pub enum User {
    Admin,
    Member,
}

fn main() {}
