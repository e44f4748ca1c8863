use users_diesel::prelude::*;

#[user_model]
pub struct User;

fn main() {}
