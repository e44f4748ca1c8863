use users_diesel::prelude::*;

mod schema {
    diesel::table! {
        users (id) {
            id -> Binary,
            email -> Integer,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
        }
    }
}

// `email` is an integer column.
#[user_model(schema = schema::users)]
pub struct User {}

fn main() {}
