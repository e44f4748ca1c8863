use users_diesel::prelude::*;

#[user_model(table = "accounts", table = "members")]
pub struct User {}

fn main() {}
