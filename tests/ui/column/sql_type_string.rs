use users_diesel::prelude::*;

#[user_model]
pub struct User {
    #[column(sql_type = "jsonb")]
    pub settings: String,
}

fn main() {}
