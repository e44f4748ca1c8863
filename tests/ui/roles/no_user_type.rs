use users_diesel::prelude::*;

// No `User` model in scope, and no `user = …` to name another one.
#[role_model]
pub struct Role {}

fn main() {}
