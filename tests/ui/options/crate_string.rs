use users_diesel::prelude::*;

#[user_model(crate = "users_diesel")]
pub struct User {}

fn main() {}
