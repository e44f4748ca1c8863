use users_diesel::prelude::*;

#[user_model(tabel = "accounts")]
pub struct User {}

fn main() {}
