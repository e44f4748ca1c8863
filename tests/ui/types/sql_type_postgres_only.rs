use users_diesel::prelude::*;

#[user_model]
pub struct User {
    #[column(sql_type = Array<Text>)]
    pub tags: Vec<String>,
}

fn main() {}
