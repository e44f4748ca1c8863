use users_diesel::prelude::*;

#[user_model]
pub fn user() {}

fn main() {}
