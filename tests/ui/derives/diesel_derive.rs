use users_diesel::prelude::*;

#[user_model]
#[derive(diesel::Queryable)]
pub struct User {}

fn main() {}
