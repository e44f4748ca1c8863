use users_diesel::prelude::*;

#[user_model(dropped_columns = ["nickname", "bad name"])]
pub struct User {
    #[column(renamed_from = "handle")]
    pub handle: String,
    pub nickname: Option<String>,
}

fn main() {}
