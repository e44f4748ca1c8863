use users_diesel::prelude::*;

#[user_model(table = "user accounts", timestamps, timestamps)]
pub struct User {}

fn main() {}
