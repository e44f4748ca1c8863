use users_diesel::prelude::*;

mod accounts {
    use users_diesel::prelude::*;

    #[user_model(table = "memberships")]
    pub struct User {}
}

// The join table is named like the user table.
#[role_model(join_table = "memberships", user = accounts::User)]
pub struct Role {}

fn main() {}
