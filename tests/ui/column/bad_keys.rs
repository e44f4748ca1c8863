use users_diesel::prelude::*;

#[user_model]
pub struct User {
    #[column(uniq)]
    pub username: String,
    #[column(unique, index)]
    pub handle: String,
    #[column(max_length = 10)]
    pub age: i32,
    #[column(default = 1, default = 2)]
    pub level: i32,
}

fn main() {}
