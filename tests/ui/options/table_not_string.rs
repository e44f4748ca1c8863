use users_diesel::prelude::*;

#[user_model(table = accounts)]
pub struct User {}

fn main() {}
