use users_diesel::prelude::*;

mod accounts {
    use users_diesel::prelude::*;

    #[user_model]
    pub struct User {}
}

// The role table is named like the user table.
#[role_model(table = "users", user = accounts::User)]
pub struct Role {}

fn main() {}
