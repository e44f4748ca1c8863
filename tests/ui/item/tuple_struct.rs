use users_diesel::prelude::*;

#[user_model]
pub struct User(String, i32);

fn main() {}
