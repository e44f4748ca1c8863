use users_diesel::prelude::*;

#[user_model]
pub struct User {}

#[role_model(timestamps, join_table = "roles")]
pub struct Role {}

fn main() {}
