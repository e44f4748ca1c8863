use users_diesel::prelude::*;

#[user_model]
#[derive(Debug, Clone)]
pub struct User {
    pub display_name: Option<String>,
}

fn main() {}
