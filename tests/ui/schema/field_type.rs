use users_diesel::prelude::*;

mod schema {
    diesel::table! {
        users (id) {
            id -> Binary,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
            token_count -> Text,
        }
    }
}

#[user_model(schema = schema::users)]
pub struct User {
    // The column is text.
    pub token_count: i32,
}

fn main() {}
