use users_diesel::prelude::*;

// UI tests build with the default `sqlite` feature: an array needs PostgreSQL only.
#[user_model]
pub struct User {
    pub tags: Vec<String>,
    pub matrix: Vec<Vec<i32>>,
}

fn main() {
    let _ = User::from_credentials(Id::new(), String::new(), String::new());
}
