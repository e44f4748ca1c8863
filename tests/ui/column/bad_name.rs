use users_diesel::prelude::*;

#[user_model]
pub struct User {
    #[column(name = "display name")]
    pub display_name: Option<String>,
}

fn main() {}
