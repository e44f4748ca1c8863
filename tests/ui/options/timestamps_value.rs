use users_diesel::prelude::*;

#[user_model(timestamps = true)]
pub struct User {}

fn main() {}
